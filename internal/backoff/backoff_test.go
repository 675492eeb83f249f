package backoff

import (
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	for _, c := range []struct{ lo, hi time.Duration }{
		{time.Millisecond, 50 * time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{time.Nanosecond, time.Hour},
	} {
		for n := range 80 {
			for range 20 {
				d := Delay(c.lo, c.hi, n)
				want := c.hi
				if e := c.lo << n; n < 63 && e>>n == c.lo && e < c.hi {
					want = e
				}
				if d < want/2 || d > want {
					t.Fatalf("Delay(%v, %v, %d) = %v, want in [%v, %v]", c.lo, c.hi, n, d, want/2, want)
				}
			}
		}
	}
}
