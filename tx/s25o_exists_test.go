package tx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestS25oExistsWithMustBeNewIsRefused: a batch run with tx.MustBeNew
// that holds ops.Exists can never hold (the model must be new and must
// exist): it fails with ErrInvalid before anything is sent, on a missing
// model (which the Fresh declaration used to create, ignoring the guard)
// and on a stored one, and writes nothing, on every tier.
func TestS25oExistsWithMustBeNewIsRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[S25oBox](b.Client, rapyer.Options{Prefix: b.Prefix + "box"})
		if err := m.Save(ctx, "there", S25oBox{N: 1}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"missing", "there"} {
			target := m.Target(id)
			before := s25oDump(ctx, b, target, true)
			batch := tx.Of(ops.Exists[S25oBox](), ops.Set(s25oN, 7), ops.Append(s25oList, "x")).On(target)
			_, err := tx.Exec(ctx, b.Client, batch, tx.Options{IfMissing: tx.MustBeNew})
			if !errors.Is(err, rapyer.ErrInvalid) {
				t.Fatalf("%s: Exists with MustBeNew: %v, want ErrInvalid", id, err)
			}
			if after := s25oDump(ctx, b, target, true); after != before {
				t.Fatalf("%s: the refused batch wrote:\n%s\nbefore:\n%s", id, after, before)
			}
			_, err = m.Exec(ctx, id, tx.Of(ops.Exists[S25oBox](), ops.Incr(s25oN, 1)), func(c *rapyer.Call) { c.Exec.IfMissing = tx.MustBeNew })
			if !errors.Is(err, rapyer.ErrInvalid) {
				t.Fatalf("%s: Model.Exec of Exists with MustBeNew: %v, want ErrInvalid", id, err)
			}
		}
	})
}
