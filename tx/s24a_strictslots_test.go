package tx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// docs/atomicity.md section 2: a batch over models in two cluster slots
// "fails with rapyer.ErrCrossSlot before anything is sent (set
// tx.Options.StrictSlots to get the same refusal on a single server in
// tests)". No test used StrictSlots. On every tier, with StrictSlots: the
// atomic batch and the optimistic update over two slots are refused with
// ErrCrossSlot, no round trip made, nothing written; without it, on a
// single server, both run.
func TestS24aStrictSlotsRefusesOnEveryTier(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		strict := tx.Options{StrictSlots: true}
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "s24aslot", Exec: strict})
		x, y := m.Target("a"), m.Target("zz")
		if keys.Slot(x.Root()) == keys.Slot(y.Root()) {
			t.Fatal("the two models share a slot: pick other ids")
		}
		for _, id := range []string{"a", "zz"} {
			if err := m.Save(ctx, id, Account{Balance: 10}); err != nil {
				t.Fatal(err)
			}
		}
		both := tx.Join(tx.On(x, ops.Decr(Balance, 5)), tx.On(y, ops.Incr(Balance, 5)))
		ctr := testenv.CountRoundTrips(b.Client)
		if _, err := tx.Exec(ctx, b.Client, both, strict); !errors.Is(err, rapyer.ErrCrossSlot) {
			t.Fatalf("tx.Exec with StrictSlots: %v; want ErrCrossSlot", err)
		}
		_, err := m.UpdateMany(ctx, []string{"a", "zz"}, func(vs []Account) (tx.Batch, error) {
			return both, nil
		})
		if !errors.Is(err, rapyer.ErrCrossSlot) {
			t.Fatalf("UpdateMany with StrictSlots: %v; want ErrCrossSlot", err)
		}
		if n := ctr.Count(); n != 0 {
			t.Fatalf("%d round trips; want none", n)
		}
		for _, id := range []string{"a", "zz"} {
			if got, err := m.Get(ctx, id); err != nil || got.Balance != 10 {
				t.Fatalf("%s: %+v, %v; want it untouched", id, got, err)
			}
		}
		if b.Kind == testenv.Cluster {
			return // refused without StrictSlots too (TestBatchesAcrossSlotsFailBeforeSending)
		}
		if _, err := tx.Exec(ctx, b.Client, both, tx.Options{}); err != nil {
			t.Fatalf("without StrictSlots on one server: %v", err)
		}
		if got, _ := m.Get(ctx, "zz"); got.Balance != 15 {
			t.Fatalf("zz: %+v; want 15", got)
		}
	})
}
