package rapyer_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestASaveGivesTheModelTheTTLOfItsOptions pins what Save and ops.Replace
// document: they write the whole model, its lifetime included. Without
// Options.TTL a TTL set earlier (Model.Expire) is removed from the root and
// from every collection key; with Options.TTL every key gets that TTL.
func TestASaveGivesTheModelTheTTLOfItsOptions(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		// ttlOfEveryKey is the PTTL of every key of model id (its root and
		// its list), in the order of their names.
		ttlOfEveryKey := func(m *rapyer.Model[Account], id string) []time.Duration {
			t.Helper()
			root, _ := m.Key(id)
			all := keysOf(t, b)
			names := slices.Sorted(maps.Keys(all))
			names = slices.DeleteFunc(names, func(k string) bool { return !strings.HasPrefix(k, root) })
			if len(names) != 2 {
				t.Fatalf("keys of the model: %v, want the root and its list", names)
			}
			ttls := make([]time.Duration, len(names))
			for i, k := range names {
				ttls[i] = all[k]
			}
			return ttls
		}
		plain := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "plain"})
		v := Account{Owner: "a", Balance: 1, History: []string{"x"}}
		if err := plain.Save(ctx, "a", v); err != nil {
			t.Fatal(err)
		}
		if err := plain.Expire(ctx, "a", time.Hour); err != nil {
			t.Fatal(err)
		}
		for i, d := range ttlOfEveryKey(plain, "a") {
			if d <= 0 {
				t.Fatalf("key %d after Expire: PTTL %v, want a TTL", i, d)
			}
		}
		if err := plain.Save(ctx, "a", v); err != nil {
			t.Fatal(err)
		}
		for i, d := range ttlOfEveryKey(plain, "a") {
			if d != -1 {
				t.Fatalf("key %d after a Save without Options.TTL: PTTL %v, want none (-1)", i, d)
			}
		}
		if err := plain.Expire(ctx, "a", time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := plain.Exec(ctx, "a", tx.Of(ops.Replace(v))); err != nil {
			t.Fatal(err)
		}
		for i, d := range ttlOfEveryKey(plain, "a") {
			if d != -1 {
				t.Fatalf("key %d after ops.Replace: PTTL %v, want none (-1)", i, d)
			}
		}

		timed := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "timed", TTL: time.Minute})
		if err := timed.Save(ctx, "a", v); err != nil {
			t.Fatal(err)
		}
		if err := timed.Persist(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := timed.Save(ctx, "a", v); err != nil {
			t.Fatal(err)
		}
		for i, d := range ttlOfEveryKey(timed, "a") {
			if d <= 0 || d > time.Minute {
				t.Fatalf("key %d after a Save with Options.TTL of a minute: PTTL %v", i, d)
			}
		}
	})
}
