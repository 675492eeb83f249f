package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestS24lWatchdogStopsOnItsOwnWhenTheLockIsLost: lock/doc.go says that
// when an extension finds the lock lost the Context is cancelled and the
// watchdog stops; TestAutoExtend checked the goroutine only after a
// Release. Here nobody calls Release until the watchdog is gone, and the
// next holder's key is left alone by it. On every tier.
func TestS24lWatchdogStopsOnItsOwnWhenTheLockIsLost(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := lockKey(b, "s24wd")
		noWatchdog(t)
		l := mustAcquire(t, b.Client, key, lock.Options{TTL: 300 * time.Millisecond, AutoExtend: true})
		testenv.Eventually(t, "one watchdog runs", func() bool { return watchdogs() == 1 })
		b.Client.Set(ctx, key, "next holder", time.Minute) // taken over behind its back
		select {
		case <-l.Context().Done():
		case <-time.After(patience):
			t.Fatal("Context not cancelled after the lock was taken over")
		}
		if cause := context.Cause(l.Context()); !errors.Is(cause, rapyer.ErrNotHeld) {
			t.Fatalf("cause = %v, want ErrNotHeld", cause)
		}
		noWatchdog(t) // without a Release
		if got := b.Client.Get(ctx, key).Val(); got != "next holder" {
			t.Fatalf("the lost lock's watchdog touched the next holder's key: %q", got)
		}
		if ttl := b.Client.PTTL(ctx, key).Val(); ttl <= 30*time.Second {
			t.Fatalf("the next holder's key lives %v: shortened by the lost lock's watchdog", ttl)
		}
		if err := l.Release(ctx); !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("Release of a lost lock = %v, want ErrNotHeld", err)
		}
		b.Client.Del(ctx, key)
	})
}
