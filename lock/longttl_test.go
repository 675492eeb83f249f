package lock_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/optcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestTheLongestTTLs: a TTL past optcheck.MaxLockTTL (math.MaxInt64, a
// "forever" some callers write) is refused with ErrInvalid naming the
// field, before anything is sent, by Acquire and by Extend. It used to be
// rounded up to whole milliseconds past math.MaxInt64 (a negative TTL the
// server refused), and a TTL within a minute of it gave the fence key and
// the give-up marker (the TTL plus a minute) a negative life: the fence key
// was not written, and a timed-out acquisition could not void its token.
// The longest TTL taken works: the fence key outlives the lock. On every
// tier.
func TestTheLongestTTLs(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		key := b.Prefix + ":{n}:lock:long"
		trips := testenv.CountRoundTrips(b.Client)
		for _, ttl := range []time.Duration{math.MaxInt64, optcheck.MaxLockTTL + 1} {
			l, err := lock.Acquire(ctx, b.Client, key, lock.Options{TTL: ttl, Wait: lock.NoWait})
			if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "lock.Options.TTL") || l != nil {
				t.Fatalf("Acquire with a TTL of %v: %v, %v; want ErrInvalid naming lock.Options.TTL", ttl, l, err)
			}
		}
		if n := trips.Count(); n != 0 {
			t.Fatalf("refused acquisitions sent %s", trips)
		}
		for _, ttl := range []time.Duration{optcheck.MaxLockTTL, optcheck.MaxLockTTL - 1} {
			l, err := lock.Acquire(ctx, b.Client, key, lock.Options{TTL: ttl, Wait: lock.NoWait})
			if err != nil {
				t.Fatalf("Acquire with a TTL of %v: %v", ttl, err)
			}
			held, _ := b.Client.Do(ctx, "PTTL", key).Int64()
			fence, _ := b.Client.Do(ctx, "PTTL", lock.FenceKey(key)).Int64()
			if held < 1 || fence < held {
				t.Fatalf("TTL %v: the lock key lives %d ms, its fence key %d ms; want the fence to outlive the lock", ttl, held, fence)
			}
			if err := l.Extend(ctx, math.MaxInt64); !errors.Is(err, rapyer.ErrInvalid) {
				t.Fatalf("Extend by math.MaxInt64: %v; want ErrInvalid", err)
			}
			if err := l.Extend(ctx, ttl); err != nil {
				t.Fatalf("Extend by %v: %v", ttl, err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
		}
	})
}
