package rapyer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestUpdateManyOfAnIDTwiceAndDropIndexOfNoNameSendNothing: UpdateMany with
// an id given twice (as DeleteMany, SaveMany and LockAll refuse it) and
// DropIndex("") fail with ErrInvalid before any round trip, and decide is
// not called; the model is as it was. On every tier.
func TestUpdateManyOfAnIDTwiceAndDropIndexOfNoNameSendNothing(t *testing.T) {
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", HashTag: func(string) string { return "t" }})
		if err := m.Save(ctx, "x", Account{Balance: 5}); err != nil {
			t.Fatal(err)
		}
		ix := newItems(t, b, "drop", rapyer.Options{})
		trips := testenv.CountRoundTrips(b.Client)
		called := false
		for _, ids := range [][]string{{"x", "x"}, {"x", "y", "x"}} {
			_, err := m.UpdateMany(ctx, ids, func(vs []Account) (tx.Batch, error) {
				called = true
				return tx.Of(ops.Incr(balance, 1)), nil
			})
			if !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("UpdateMany(%q): %v; want ErrInvalid", ids, err)
			}
		}
		if err := ix.DropIndex(ctx, ""); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("DropIndex(\"\"): %v; want ErrInvalid", err)
		}
		if n := trips.Count(); n != 0 || called {
			t.Errorf("refused calls sent %s (decide called: %v)", trips, called)
		}
		if a, err := m.Get(ctx, "x"); err != nil || a.Balance != 5 {
			t.Fatalf("x: %+v, %v; want it as it was", a, err)
		}
	})
}
