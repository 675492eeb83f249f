package lock_test

import (
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
		// attempt of a caller that would wait says so (for 3 RetryMax
		// plus half a second).
		wanted := func() {
			t.Helper()
			_, err := lock.Acquire(ctx, b.Client, key, lock.Options{Wait: time.Millisecond, RetryMax: time.Minute})
			if !errors.Is(err, rapyer.ErrNotAcquired) {
				t.Fatalf("a waiter of a held lock: %v", err)
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
