package rapyer_test

import (
	"context"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestModelLockAsUserWithoutChannels: a Redis 7 user without channel
// permission (acl-pubsub-default resetchannels) locks, saves and releases;
// a refused PUBLISH of the release is skipped (waiters poll).
func TestModelLockAsUserWithoutChannels(t *testing.T) {
	onReal(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		rdb := aclClient(t, b, "~"+b.Prefix+"*", "~tx{*", "resetchannels", "+@all")
		m := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{Wait: time.Minute, RetryMax: 20 * time.Millisecond}})
		if err := m.Save(ctx, "a", Account{Balance: 1}); err != nil {
			t.Fatal(err)
		}
		testenv.Workers(t, 4, func(int) error {
			for range 5 {
				if _, err := m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error { a.Balance++; return nil }); err != nil {
					return err
				}
			}
			return nil
		})
		if got, err := m.Get(ctx, "a"); err != nil || got.Balance != 21 {
			t.Fatalf("after 20 locked increments: %+v, %v", got, err)
		}
	})
}
