package ops_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// guardOf returns the *rapyer.GuardError err holds, failing t when it holds
// none or when it does not wrap ErrPrecondition.
func guardOf(t *testing.T, err error) *rapyer.GuardError {
	t.Helper()
	var ge *rapyer.GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v; want a *rapyer.GuardError", err)
	}
	if !errors.Is(err, rapyer.ErrPrecondition) {
		t.Fatalf("errors.Is(%v, ErrPrecondition) = false", err)
	}
	if n := strings.Count(err.Error(), ge.Op); n != 1 {
		t.Errorf("%q names the op %q %d times; want once", err, ge.Op, n)
	}
	if !regexp.MustCompile(`^rapyer: precondition failed: [A-Za-z]+\(.*\): .+$`).MatchString(err.Error()) {
		t.Errorf("%q is not rapyer: precondition failed: <op>: <detail>", err)
	}
	return ge
}

// TestGuardErrorTellsGuardsApart: a sale batch guards the stock and the
// credits. Which one failed is in the error, typed: Index and Field tell
// "sold out" from "no credits", and Seen is what the server held.
func TestGuardErrorTellsGuardsApart(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		sale := tx.Of(ops.AtLeast(Count, 1), ops.AtLeast(Balance, 10), ops.Decr(Count, 1), ops.Decr(Balance, 10))
		for _, c := range []struct {
			name          string
			stock         uint
			credits       int
			index         int
			field, seen   string
			op, wantError string
		}{
			{"sold out", 0, 50, 0, "count", "0", "AtLeast(count, 1)", "rapyer: precondition failed: AtLeast(count, 1): count is 0"},
			{"no credits", 5, 5, 1, "balance", "5", "AtLeast(balance, 10)", "rapyer: precondition failed: AtLeast(balance, 10): balance is 5"},
		} {
			save(t, m, c.name, Acct{Count: c.stock, Balance: c.credits})
			before := snapshot(t, b, m, c.name)
			_, err := m.Exec(ctx, c.name, sale)
			ge := guardOf(t, err)
			if ge.Index != c.index || ge.Field != c.field || ge.Seen != c.seen || ge.Missing || ge.Op != c.op {
				t.Errorf("%s: %+v; want Index %d, Field %q, Seen %q, Op %q", c.name, *ge, c.index, c.field, c.seen, c.op)
			}
			if err.Error() != c.wantError {
				t.Errorf("%s: %q; want %q", c.name, err, c.wantError)
			}
			if d := cmp.Diff(before, snapshot(t, b, m, c.name)); d != "" {
				t.Errorf("%s: the failed batch wrote (-before +after):\n%s", c.name, d)
			}
		}
	})
}

// TestGuardErrorSeen: the value a failed guard saw, as the server stores it,
// for each kind of guard: an int, a float, a string, a missing field, a
// list's length, a map key and a set member, the model's version.
func TestGuardErrorSeen(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", Acct{Owner: "ann", Balance: 7, Ratio: 0.5, Note: "n", History: []string{"a", "b", "c"},
			Limits: map[string]int{"a": 1}, Flags: set("a")})
		if err := b.Client.HDel(ctx, root(t, m, "x"), "note").Err(); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			op      ops.Op
			field   string
			seen    string
			missing bool
		}{
			{ops.AtLeast(Balance, 10), "balance", "7", false},
			{ops.Below(Ratio, 0.25), "ratio", "0.5", false},
			{ops.Equal(Owner, "bob"), "owner", "ann", false},
			{ops.Equal(Note, "x"), "note", "", true},
			{ops.LenIs(History, ops.LT, 2), "history", "3", false},
			{ops.KeyPresent(Limits, "z"), "limits", "", true},
			{ops.KeyAbsent(Limits, "a"), "limits", "a", false},
			{ops.Includes(Flags, "q"), "flags", "", true},
			{ops.Excludes(Flags, "a"), "flags", "a", false},
			{ops.ListIncludes(History, "q"), "history", "", true},
			{ops.ListExcludes(History, "b"), "history", "b", false},
		} {
			_, err := m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), c.op))
			ge := guardOf(t, err)
			if ge.Index != 1 || ge.Field != c.field || ge.Seen != c.seen || ge.Missing != c.missing || ge.Op != c.op.String() {
				t.Errorf("%s: %+v; want Index 1, Field %q, Seen %q, Missing %v", c.op, *ge, c.field, c.seen, c.missing)
			}
		}
		_, v, err := m.GetWithVersion(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Exec(ctx, "x", tx.Of(ops.VersionIs[Acct](v+1)))
		if ge := guardOf(t, err); ge.Index != 0 || ge.Field != "" || ge.Missing || ge.Seen == "" {
			t.Errorf("VersionIs: %+v; want Index 0, no Field, the version seen", *ge)
		}
	})
}

// TestGuardErrorThroughEveryLayer: errors.As finds the GuardError whatever
// ran the batch: tx.Exec, Model.Exec, Update, LockUpdate; and its Index
// counts the caller's ops only.
func TestGuardErrorThroughEveryLayer(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", Acct{Balance: 5})
		batch := tx.Of(ops.Incr(Count, 1), ops.AtLeast(Balance, 10))
		runs := map[string]func() error{
			"tx.Exec": func() error {
				_, err := tx.Exec(ctx, b.Client, tx.On(m.Target("x"), batch.Ops()...), tx.Options{})
				return err
			},
			"Model.Exec": func() error { _, err := m.Exec(ctx, "x", batch); return err },
			"Update": func() error {
				_, err := m.Update(ctx, "x", func(Acct) (tx.Batch, error) { return batch, nil })
				return err
			},
			"LockUpdate": func() error {
				_, err := m.LockUpdate(ctx, "x", "sale", func(Acct) (tx.Batch, error) { return batch, nil })
				return err
			},
		}
		for name, run := range runs {
			ge := guardOf(t, run())
			if ge.Index != 1 || ge.Field != "balance" || ge.Seen != "5" {
				t.Errorf("%s: %+v; want Index 1, Field balance, Seen 5", name, *ge)
			}
		}
	})
}
