package lock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestNegativeRetryBoundsAreInvalid: a negative RetryMin or RetryMax is
// refused by Acquire with ErrInvalid naming the field, and sends nothing,
// like a negative TTL (and like tx.Retry's negative fields); it used to be
// taken silently as the default. NoWait, the one named negative value,
// still tries once. On every tier.
func TestNegativeRetryBoundsAreInvalid(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		key := b.Prefix + ":{n}:lock:x"
		trips := testenv.CountRoundTrips(b.Client)
		for field, o := range map[string]lock.Options{
			"RetryMin": {RetryMin: -time.Millisecond},
			"RetryMax": {RetryMax: -time.Millisecond},
			"TTL":      {TTL: -time.Second},
		} {
			l, err := lock.Acquire(ctx, b.Client, key, o)
			if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "lock.Options."+field) || l != nil {
				t.Errorf("Acquire with a negative %s: %v, %v; want ErrInvalid naming lock.Options.%s", field, l, err, field)
			}
		}
		if n := trips.Count(); n != 0 {
			t.Errorf("refused acquisitions sent %s", trips)
		}
		l, err := lock.Acquire(ctx, b.Client, key, lock.Options{Wait: lock.NoWait})
		if err != nil {
			t.Fatalf("Acquire with NoWait: %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Errorf("Release: %v", err)
		}
	})
}
