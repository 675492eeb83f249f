package rapyer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestRefreshTTL: with RefreshTTL every read and batch gives every key of
// the model its full TTL again; without it, they leave the TTL alone.
func TestRefreshTTL(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		const ttl = time.Hour
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "fresh", TTL: ttl, RefreshTTL: true})
		plain := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "fresh", TTL: ttl})
		if err := m.Save(ctx, "a", Account{Owner: "a", History: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
		ks, _ := m.Keys("a")
		ks = ks[:2] // the root and the history list
		shorten := func() {
			for _, k := range ks {
				if err := b.Client.PExpire(ctx, k, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}
		refreshed := func(what string, want bool) {
			t.Helper()
			for _, k := range ks {
				d, err := b.Client.PTTL(ctx, k).Result()
				if err != nil {
					t.Fatal(err)
				}
				if got := d > 30*time.Minute; got != want {
					t.Fatalf("%s: %s has a TTL of %s; refreshed = %v, want %v", what, k, d, got, want)
				}
			}
		}
		balance := lens.Of(func(a *Account) *int { return &a.Balance })
		uses := []struct {
			name string
			use  func(m *rapyer.Model[Account]) error
		}{
			{"Get", func(m *rapyer.Model[Account]) error { _, err := m.Get(ctx, "a"); return err }},
			{"GetWithVersion", func(m *rapyer.Model[Account]) error { _, _, err := m.GetWithVersion(ctx, "a"); return err }},
			{"GetMany", func(m *rapyer.Model[Account]) error {
				_, _, err := m.GetMany(ctx, []string{"a", "nobody"})
				return err
			}},
			{"Exec", func(m *rapyer.Model[Account]) error {
				_, err := m.Exec(ctx, "a", tx.Of(ops.Incr(balance, 1)))
				return err
			}},
			{"Update", func(m *rapyer.Model[Account]) error {
				_, err := m.Update(ctx, "a", func(v Account) (tx.Batch, error) { return tx.Of(ops.Set(balance, v.Balance+1)), nil })
				return err
			}},
		}
		for _, u := range uses {
			shorten()
			if err := u.use(plain); err != nil {
				t.Fatalf("%s: %v", u.name, err)
			}
			refreshed(u.name+" without RefreshTTL", false)
			if err := u.use(m); err != nil {
				t.Fatalf("%s: %v", u.name, err)
			}
			refreshed(u.name, true)
		}
		// A batch that sets a TTL itself keeps it.
		if _, err := m.Exec(ctx, "a", tx.Of(ops.Incr(balance, 1), ops.Expire[Account](time.Minute))); err != nil {
			t.Fatal(err)
		}
		refreshed("Exec with its own Expire", false)
		if _, err := m.Exec(ctx, "a", tx.Of(ops.Persist[Account]())); err != nil {
			t.Fatal(err)
		}
		if d, _ := m.TTL(ctx, "a"); d != rapyer.NoTTL {
			t.Fatalf("Exec of ops.Persist under RefreshTTL left a TTL of %s", d)
		}
		// Expire and Persist set the TTL they are asked for.
		if err := m.Expire(ctx, "a", time.Minute); err != nil {
			t.Fatal(err)
		}
		refreshed("Expire", false)
		if err := m.Persist(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if d, _ := m.TTL(ctx, "a"); d != rapyer.NoTTL {
			t.Fatalf("Persist under RefreshTTL left a TTL of %s", d)
		}
		if ok, _ := m.Exists(ctx, "nobody"); ok {
			t.Fatal("a refreshing read created a model")
		}
		if _, err := rapyer.New[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "fresh", RefreshTTL: true}); !errors.Is(err, rapyer.ErrInvalid) {
			t.Fatalf("RefreshTTL without a TTL: %v, want ErrInvalid", err)
		}
	})
}
