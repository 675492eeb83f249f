package lock_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestAHugeRetryMaxStillWaits: a RetryMax above some 97 years
// (math.MaxInt64 for "no cap" among them) made the lease of the wait key,
// three RetryMax plus half a second, wrap to a negative number: an
// acquisition of a held lock failed at once with ErrRefused ("invalid
// expire time") instead of waiting. It waits now, and ends with
// ErrNotAcquired when the wait runs out; on every tier.
func TestAHugeRetryMaxStillWaits(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		key := b.Prefix + ":{n}:lock:retry"
		held, err := lock.Acquire(ctx, b.Client, key, lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, rm := range []time.Duration{math.MaxInt64, 100 * 365 * 24 * time.Hour} {
			l, err := lock.Acquire(ctx, b.Client, key, lock.Options{RetryMax: rm, Wait: 20 * time.Millisecond})
			if !errors.Is(err, rapyer.ErrNotAcquired) || l != nil {
				t.Fatalf("Acquire of a held lock with RetryMax %v: %v, %v; want ErrNotAcquired", rm, l, err)
			}
		}
		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		l, err := lock.Acquire(ctx, b.Client, key, lock.Options{RetryMax: math.MaxInt64})
		if err != nil {
			t.Fatalf("Acquire of a free lock with RetryMax math.MaxInt64: %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
