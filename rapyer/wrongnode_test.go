package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestAPlainClientOfAClusterNodeGetsCrossSlotWithAHint: a *redis.Client
// pointed at one master of a cluster, asked for a model whose slot another
// master serves, gets MOVED, which it never follows. Every entry point
// (reads, GetMany's transaction, batches, Update, Lock) fails with
// ErrCrossSlot saying to use a *redis.ClusterClient, after one try, and
// writes nothing. Before, they gave ErrRefused; Exec resent its batch for
// some ten seconds as if the slot were moving, and Update ran its 16
// attempts and said ErrConflict. Only a cluster answers MOVED: the other
// tiers cannot have this, and a model the node serves still works.
func TestAPlainClientOfAClusterNodeGetsCrossSlotWithAHint(t *testing.T) {
	b := testenv.On(t, testenv.Cluster)
	ctx := context.Background()
	good := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
	plain := redis.NewClient(&redis.Options{Addr: b.Addrs[0]})
	t.Cleanup(func() { _ = plain.Close() })
	m := rapyer.MustNew[Account](plain, rapyer.Options{Prefix: b.Prefix + "acct"})
	var here, there string
	for i := 0; here == "" || there == ""; i++ {
		id := fmt.Sprint("id", i)
		if err := good.Save(ctx, id, Account{Balance: 7}); err != nil {
			t.Fatal(err)
		}
		root, _ := good.Key(id)
		if err := plain.Exists(ctx, root).Err(); err != nil {
			there = id
		} else {
			here = id
		}
	}
	noop := func(context.Context, *Account) error { return nil }
	calls := map[string]func(id string) error{
		"Get":     func(id string) error { _, err := m.Get(ctx, id); return err },
		"GetMany": func(id string) error { _, _, err := m.GetMany(ctx, []string{here, id}); return err },
		"Exists":  func(id string) error { _, err := m.Exists(ctx, id); return err },
		"TTL":     func(id string) error { _, err := m.TTL(ctx, id); return err },
		"Exec":    func(id string) error { _, err := m.Exec(ctx, id, tx.Of(ops.Incr(BalanceL, 1))); return err },
		"Save":    func(id string) error { return m.Save(ctx, id, Account{Balance: 1}) },
		"Update": func(id string) error {
			_, err := m.Update(ctx, id, func(Account) (tx.Batch, error) { return tx.Of(ops.Incr(BalanceL, 1)), nil })
			return err
		},
		"Lock":   func(id string) error { _, err := m.Lock(ctx, id, "x", noop); return err },
		"Delete": func(id string) error { _, err := m.Delete(ctx, id); return err },
	}
	for name, call := range calls {
		trips := testenv.CountRoundTrips(plain)
		err := call(there)
		if !errors.Is(err, rapyer.ErrCrossSlot) || !strings.Contains(err.Error(), "*redis.ClusterClient") || errors.Is(err, rapyer.ErrConflict) {
			t.Errorf("%s of a model on another node: %v; want ErrCrossSlot with the hint", name, err)
		}
		if n := trips.Count(); n > 3 {
			t.Errorf("%s of a model on another node took %s; want one try", name, trips)
		}
	}
	if a, err := good.Get(ctx, there); err != nil || a.Balance != 7 {
		t.Errorf("%s after the refused calls: %+v, %v; want it as it was", there, a, err)
	}
	if _, err := m.Exec(ctx, here, tx.Of(ops.Incr(BalanceL, 1))); err != nil {
		t.Errorf("Exec of a model the node serves: %v", err)
	}
}
