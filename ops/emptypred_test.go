package ops_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestEmptyPredicatesAreRefusedBeforeSending: a guard or a Check holding an
// And, Or or In of nothing, or the zero Pred, at the top or nested, fails
// the batch with ErrInvalid naming it, with no round trip and nothing
// written, in Exec and in an optimistic Update, on every tier. (An And()
// guard used to pass always, an Or() or In() one to fail always.)
func TestEmptyPredicatesAreRefusedBeforeSending(t *testing.T) {
	cases := []struct {
		op   ops.Op
		text string
	}{
		{ops.Require(is.And[Acct]()), "And()"},
		{ops.Require(is.Or[Acct]()), "Or()"},
		{ops.Require(is.In(Owner)), "In(owner)"},
		{ops.Require(is.Not(is.And[Acct]())), "Not(And())"},
		{ops.Require(is.Not(is.In(Owner))), "Not(In(owner))"},
		{ops.Require(is.Or(is.Equal(Owner, "ann"), is.And[Acct]())), "And()"},
		{ops.Require(is.And(is.AtLeast(Balance, 0), is.Not(is.Or(is.Member(Flags, "x"), is.Or[Acct]())))), "Or()"},
		{ops.Require(is.Pred[Acct]{}), "zero is.Pred"},
		{ops.Require(is.And(is.Pred[Acct]{})), "zero is.Pred"},
		{ops.Check(is.And[Acct]()), "And()"},
		{ops.Check(is.Or[Acct]()), "Or()"},
		{ops.Check(is.Pred[Acct]{}), "zero is.Pred"},
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", base)
		before, keysBefore := snapshot(t, b, m, "x"), keysOf(t, b, m)
		trips := testenv.CountRoundTrips(b.Client)
		for _, c := range cases {
			check := func(how string, err error) {
				t.Helper()
				if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), c.text) {
					t.Errorf("%s %s: %v; want ErrInvalid naming %s", how, c.op, err, c.text)
				}
			}
			trips.Reset()
			_, err := m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), c.op, ops.Append(History, "w")))
			check("Exec", err)
			if n := trips.Count(); n != 0 {
				t.Errorf("Exec %s: %s; want none", c.op, trips)
			}
			trips.Reset()
			_, err = m.Update(ctx, "x", func(Acct) (tx.Batch, error) { return tx.Of(c.op, ops.Incr(Balance, 1)), nil })
			check("Update", err)
			// the snapshot's read only: no write was sent
			if cmds := trips.Commands(); slices.ContainsFunc(cmds, func(s string) bool {
				return s == "exec" || strings.HasPrefix(s, "eval") || strings.HasPrefix(s, "fcall")
			}) {
				t.Errorf("Update %s sent a write: %s", c.op, trips)
			}
		}
		unchanged(t, b, m, before, "a refused batch changed the model")
		if ks := keysOf(t, b, m); !cmp.Equal(ks, keysBefore) {
			t.Errorf("refused batches changed the keys from %v to %v", keysBefore, ks)
		}
	})
}
