package lock_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// TestFenceIsTheServersClock: on a fence key that has none above the
// clock, a fence is the server's clock in microseconds when the
// acquisition ran, between two readings of TIME around it. Since session
// 18 the script spells the clock out as text (the seconds, then the
// microseconds padded to six digits) and reads it as a number once: a
// padding gone wrong would put it far off (a microseconds part below
// 100000 is most of them). Both entries, acquiref and acquire.
func TestFenceIsTheServersClock(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		now := func() int64 {
			t.Helper()
			tm, err := b.Client.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			return tm.UnixMicro()
		}
		for i, wait := range []time.Duration{lock.NoWait, 0} {
			key := lockKey(b, fmt.Sprint("clock", i))
			for range 20 {
				before := now()
				l := mustAcquire(t, b.Client, key, lock.Options{Wait: wait})
				after := now()
				if f := l.Fence(); f < before || f > after {
					t.Fatalf("wait %v: fence %d, not between the clock's %d and %d", wait, f, before, after)
				}
				if err := l.Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
