package tx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestBindingIsNotAnOption: which model an op runs on is its binding. An
// unbound op is refused by Exec with rapyer.ErrInvalid before anything is sent;
// Batch.On binds the unbound ops of a batch and leaves bound ones alone.
func TestBindingIsNotAnOption(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", HashTag: func(string) string { return "bank" }})
		for _, id := range []string{"a", "b"} {
			if err := m.Save(ctx, id, Account{Balance: 10}); err != nil {
				t.Fatal(err)
			}
		}
		counter := testenv.CountRoundTrips(b.Client)
		_, err := tx.Exec(ctx, b.Client, tx.Of(ops.Incr(Balance, 1)), tx.Options{})
		if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "bound to no model") {
			t.Fatalf("an unbound op: %v, want ErrInvalid", err)
		}
		if n := counter.Count(); n != 0 {
			t.Fatalf("an unbound op sent %d round trips", n)
		}
		batch := tx.Join(tx.Of(ops.Decr(Balance, 3)), tx.On(m.Target("b"), ops.Incr(Balance, 3))).On(m.Target("a"))
		if s := batch.String(); !strings.Contains(s, m.Target("a").Root()+": Decr") || !strings.Contains(s, m.Target("b").Root()+": Incr") {
			t.Fatalf("bound batch:\n%s", s)
		}
		if _, err := tx.Exec(ctx, b.Client, batch, tx.Options{}); err != nil {
			t.Fatal(err)
		}
		a, _ := m.Get(ctx, "a")
		bb, _ := m.Get(ctx, "b")
		if a.Balance != 7 || bb.Balance != 13 {
			t.Fatalf("balances %d and %d, want 7 and 13", a.Balance, bb.Balance)
		}
	})
}
