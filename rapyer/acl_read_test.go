package rapyer_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestInPlaceGetRefusedByTheACLIsTyped: a user who may not HGETALL gets
// ErrNoPermission from every read of the in-place path (Get,
// GetWithVersion, GetMany, Update's load, Duplicate, Lock's load), never
// an untyped go-redis error, and a Lock whose load was refused leaves no
// lock held; on the real server and cluster (miniredis has no ACL).
func TestInPlaceGetRefusedByTheACLIsTyped(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "nohg"
		app := b.NewUser(t, slices.DeleteFunc(aclRules(t, leastPrivilege, prefix), func(r string) bool { return r == "+hgetall" })...)
		admin := rapyer.MustNew[Item](b.Client, rapyer.Options{Prefix: prefix})
		if err := admin.Save(ctx, "i", Item{SKU: "s", Qty: 1}); err != nil {
			t.Fatal(err)
		}
		m := rapyer.MustNew[Item](app, rapyer.Options{Prefix: prefix})
		if err := m.Save(ctx, "j", Item{SKU: "j"}); err != nil {
			t.Fatalf("Save as the user without HGETALL: %v", err)
		}
		denied := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, rapyer.ErrNoPermission) {
				t.Fatalf("%s as a user without HGETALL: %v; want ErrNoPermission", what, err)
			}
		}
		_, err := m.Get(ctx, "i")
		denied("Get", err)
		_, _, err = m.GetWithVersion(ctx, "i")
		denied("GetWithVersion", err)
		_, _, err = m.GetMany(ctx, []string{"i", "j"})
		denied("GetMany", err)
		_, err = m.Update(ctx, "i", func(v Item) (tx.Batch, error) { return tx.Batch{}, nil })
		denied("Update", err)
		_, err = m.Duplicate(ctx, "i", "k")
		denied("Duplicate", err)
		refreshed := rapyer.MustNew[Item](app, rapyer.Options{Prefix: prefix, TTL: time.Hour, RefreshTTL: true})
		_, err = refreshed.Get(ctx, "i")
		denied("Get with RefreshTTL (in MULTI/EXEC)", err)
		_, err = m.Lock(ctx, "i", "a", func(_ context.Context, v *Item) error { v.Qty = 5; return nil })
		denied("Lock", err)
		root, _ := m.Key("i")
		if n := b.Client.Exists(ctx, root+":lock:a").Val(); n != 0 {
			t.Fatalf("a Lock whose load was refused left its lock key held")
		}
		if got, err := admin.Get(ctx, "i"); err != nil || got.Qty != 1 {
			t.Fatalf("after the refused Lock: %+v, %v", got, err)
		}
	})
}

// TestDirectSaveWithTTLRefusedPExpire: a user who may not PEXPIRE saves a
// model with a TTL (the direct path's compiled save with its PEXPIRE):
// ErrNoPermission, and the stored model keeps its value and version;
// without a TTL the same user saves; on the real server and cluster.
func TestDirectSaveWithTTLRefusedPExpire(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "nopx"
		app := b.NewUser(t, slices.DeleteFunc(aclRules(t, leastPrivilege, prefix), func(r string) bool { return r == "+pexpire" })...)
		plain := rapyer.MustNew[Item](app, rapyer.Options{Prefix: prefix})
		if err := plain.Save(ctx, "i", Item{SKU: "before"}); err != nil {
			t.Fatalf("a Save without a TTL as the user without PEXPIRE: %v", err)
		}
		_, ver, _ := plain.GetWithVersion(ctx, "i")
		timed := rapyer.MustNew[Item](app, rapyer.Options{Prefix: prefix, TTL: time.Hour})
		for _, id := range []string{"i", "new"} {
			if err := timed.Save(ctx, id, Item{SKU: "after"}); !errors.Is(err, rapyer.ErrNoPermission) {
				t.Fatalf("a Save of %s with a TTL as the user without PEXPIRE: %v; want ErrNoPermission", id, err)
			}
		}
		got, gver, err := plain.GetWithVersion(ctx, "i")
		if err != nil || got.SKU != "before" || gver != ver {
			t.Fatalf("after the refused Save: %+v v%d, %v; was v%d", got, gver, err, ver)
		}
		if ok, _ := plain.Exists(ctx, "new"); ok {
			t.Fatal("the refused Save of a new model made it")
		}
	})
}
