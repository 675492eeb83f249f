package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/rapyer"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/tx"
)

type counter struct{ N int }

// TestReleaseProtocol: the two ways to release a lock, the lock's own
// Release (lock.lua) and ops.Unlock in a batch (batch.lua), announce it
// alike when someone waits: the lock's key, on WakeChannel(key).
func TestReleaseProtocol(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := lockKey(b, "protocol")
		sub := b.Client.Subscribe(ctx, lock.WakeChannel(key))
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
			t.Fatal(err)
		}
		heard := func(how string) {
			t.Helper()
			select {
			case m := <-sub.Channel():
				if m.Channel != lock.WakeChannel(key) || m.Payload != key {
					t.Fatalf("%s published %q on %q, want %q on %q", how, m.Payload, m.Channel, key, lock.WakeChannel(key))
				}
			case <-time.After(patience):
				t.Fatalf("%s published nothing", how)
			}
		}

		// A release announces itself only while someone waits: a failed
		// attempt of a caller that waits says so (for 3 RetryMax plus
		// half a second), once it has subscribed. The waiter then goes
		// away, so that no release hands it the lock.
		wanted := func() {
			t.Helper()
			wctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := lock.Acquire(wctx, b.Client, key, lock.Options{RetryMax: time.Minute})
				done <- err
			}()
			testenv.Eventually(t, "the waiter flags the wait key", func() bool {
				return b.Client.Exists(ctx, lock.FenceKey(key)+":wait").Val() == 1
			})
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) || !errors.Is(err, rapyer.ErrNotSent) {
				t.Fatalf("a waiter of a held lock, cancelled: %v", err)
			}
		}

		l, err := lock.Acquire(ctx, b.Client, key, lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		wanted()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		heard("Release")

		l, err = lock.Acquire(ctx, b.Client, key, lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Forget()
		model := b.Prefix + ":{protocol}"
		b.Client.HSet(ctx, model, "n", "0", "__v", "1") // a stored counter: the batch needs its model
		wanted()
		if _, err := tx.Exec(ctx, b.Client, tx.On(tx.At[counter](model), ops.Unlock(l)), tx.Options{}); err != nil {
			t.Fatal(err)
		}
		heard("ops.Unlock")
	})
}
