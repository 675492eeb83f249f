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

// TestOnAllocatesOnce: On binds up to three ops to their target in one
// allocation (a model Lock's save binds three every cycle), and a longer
// batch still binds every op; a batch appended to an On batch does not
// write into its room.
func TestOnAllocatesOnce(t *testing.T) {
	target := tx.At[Account]("acct:{a}")
	a, b, c := ops.Incr(Balance, 1), ops.Decr(Balance, 2), ops.Incr(Balance, 3)
	if n := testing.AllocsPerRun(100, func() { _ = tx.On(target, a, b, c) }); n != 1 {
		t.Fatalf("On of three ops: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = tx.On(target, a) }); n != 1 {
		t.Fatalf("On of one op: %v allocations, want 1", n)
	}
	for _, n := range []int{0, 1, 3, 4, 9} {
		o := make([]ops.Op, n)
		for i := range o {
			o[i] = ops.Incr(Balance, i)
		}
		got := tx.On(target, o...)
		if got.Len() != n || strings.Count(got.String(), "acct:{a}: Incr") != n {
			t.Fatalf("On of %d ops:\n%s", n, got.String())
		}
	}
	short := tx.On(target, a, b)
	joined := tx.Join(short, tx.On(tx.At[Account]("acct:{b}"), c))
	if s := short.String(); strings.Count(s, "\n") != 2 {
		t.Fatalf("the On batch after a Join:\n%s", s)
	}
	if s := joined.String(); !strings.Contains(s, "acct:{b}: Incr") || strings.Count(s, "acct:{a}:") != 2 {
		t.Fatalf("joined:\n%s", s)
	}
}
