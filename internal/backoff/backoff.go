// Package backoff is the one delay between attempts of rapyer-go's retry
// loops (optimistic updates, lock waits): exponential, capped, jittered.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is the n-th delay (n from 0): lo*2^n capped at hi, with "equal
// jitter" (a uniform pick in [d/2, d]) so that competing clients spread out.
func Delay(lo, hi time.Duration, n int) time.Duration {
	d := hi
	if n >= 0 && n < 63 {
		if e := lo << n; e>>n == lo && e < hi { // no overflow, below the cap
			d = e
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Sleep waits d, or until ctx is done and returns its error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
