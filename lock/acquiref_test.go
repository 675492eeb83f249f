package lock_test

import (
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// TestFenceLifeOfACallerThatWillNotWait: a fenced acquisition that will
// not wait (lock.NoWait) goes to the acquiref entry, sent the fence
// life (the TTL plus a minute) as the acquire entry is; its fence key
// lives as a waiting caller's does: the TTL plus a minute past each
// acquisition, longer or shorter than it had left. Fences go up across
// both entries.
func TestFenceLifeOfACallerThatWillNotWait(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		for _, wait := range []time.Duration{lock.NoWait, 0} {
			key := lockKey(b, "fencelife"+wait.String())
			fk := lock.FenceKey(key)
			var last int64
			cycle := func(ttl time.Duration) {
				t.Helper()
				l := mustAcquire(t, b.Client, key, lock.Options{TTL: ttl, Wait: wait})
				if l.Fence() <= last {
					t.Fatalf("wait %v: fence %d after %d", wait, l.Fence(), last)
				}
				last = l.Fence()
				if err := l.Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
			pttl := func() time.Duration { return b.Client.PTTL(ctx, fk).Val() }
			cycle(time.Second) // made: 1s + 1m
			if d := pttl(); d <= time.Minute || d > time.Minute+time.Second {
				t.Fatalf("wait %v: a new fence key of a 1s lock lives %v, want 1m1s", wait, d)
			}
			cycle(10 * time.Minute) // 11m
			if d := pttl(); d <= 10*time.Minute || d > 11*time.Minute {
				t.Fatalf("wait %v: the fence key of a 10m lock lives %v, want 11m", wait, d)
			}
			cycle(100 * time.Millisecond) // 1m0.1s, where 11m were left
			if d := pttl(); d <= time.Minute-time.Second || d > time.Minute+100*time.Millisecond {
				t.Fatalf("wait %v: the fence key of a 100ms lock lives %v, want 1m0.1s", wait, d)
			}
			// the other entry's fences go on above this one's
			other := lock.Options{Wait: lock.NoWait}
			if wait == lock.NoWait {
				other.Wait = 0
			}
			l := mustAcquire(t, b.Client, key, other)
			if l.Fence() <= last {
				t.Fatalf("wait %v: the other entry's fence %d after %d", wait, l.Fence(), last)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}
