package rapyer_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// A token bucket per user, as a new user writes it from the docs: a take is
// one batch (create the bucket full when there is none, require a token,
// take it); a refill is a batch guarded by the stamp it was computed from
// (Require(Equal(stamp, seen))), so two refills of one period add its tokens
// once. Idle buckets expire by the model's TTL, refreshed by every use.

type s25uBucket struct {
	Tokens int
	Stamp  time.Time // the time the tokens were last refilled up to
}

var (
	s25uTokens = lens.Of(func(b *s25uBucket) *int { return &b.Tokens })
	s25uStamp  = lens.Of(func(b *s25uBucket) *time.Time { return &b.Stamp })
)

type s25uLimiter struct {
	buckets *rapyer.Model[s25uBucket]
	cap     int
	period  time.Duration // one token back per period
}

// allow takes a token for user at now, refilling first when the bucket is
// empty and periods have passed.
func (l *s25uLimiter) allow(ctx context.Context, user string, now time.Time) (bool, error) {
	take := tx.Of(
		ops.CreateIfMissing(s25uBucket{Tokens: l.cap, Stamp: now}),
		ops.Require(is.AtLeast(s25uTokens, 1)),
		ops.Decr(s25uTokens, 1),
	)
	for range 3 {
		_, err := l.buckets.Exec(ctx, user, take)
		if !errors.Is(err, rapyer.ErrPrecondition) {
			return err == nil, err
		}
		refilled, err := l.refill(ctx, user, now)
		if err != nil || !refilled {
			return false, err
		}
	}
	return false, nil
}

// refill adds the tokens of the periods passed since the bucket's stamp, at
// most up to cap, guarded by the stamp it read: a concurrent refill of the
// same periods makes it fail with ErrPrecondition, and then it adds nothing.
func (l *s25uLimiter) refill(ctx context.Context, user string, now time.Time) (bool, error) {
	b, err := l.buckets.Get(ctx, user)
	if err != nil {
		return false, err
	}
	k := int(now.Sub(b.Stamp) / l.period)
	if k <= 0 {
		return false, nil
	}
	_, err = l.buckets.Exec(ctx, user, tx.Of(
		ops.Require(is.Equal(s25uStamp, b.Stamp)),
		ops.Incr(s25uTokens, k),
		ops.Min(s25uTokens, l.cap), // sees the Incr: yields read at their point
		ops.Set(s25uStamp, b.Stamp.Add(time.Duration(k)*l.period)),
	))
	if errors.Is(err, rapyer.ErrPrecondition) {
		return true, nil // another caller refilled this period: try the take again
	}
	return err == nil, err
}

func TestS25uTokenBucket(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		// ann's bucket outlives any stall of a loaded machine between its
		// takes (an expiry would refill it); bob's, of a type with a short
		// TTL, is the one left to expire.
		ttl, short := time.Minute, time.Second
		buckets, err := rapyer.New[s25uBucket](b.Client, rapyer.Options{Prefix: b.Prefix + "bucket", TTL: ttl, RefreshTTL: true})
		if err != nil {
			t.Fatal(err)
		}
		brief, err := rapyer.New[s25uBucket](b.Client, rapyer.Options{Prefix: b.Prefix + "brief", TTL: short, RefreshTTL: true})
		if err != nil {
			t.Fatal(err)
		}
		l := &s25uLimiter{buckets: buckets, cap: 10, period: time.Second}
		t0 := time.Date(2026, 12, 3, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
		s25uTakeConcurrently(t, l, "ann", t0, 24, 10)
		if got, err := buckets.TTL(ctx, "ann"); err != nil || got <= 0 || got > ttl {
			t.Fatalf("TTL of a used bucket: %v, %v; want in (0, %v]", got, err, ttl)
		}
		// 2.5 periods later: 2 tokens back, the stamp moved 2 periods.
		s25uTakeConcurrently(t, l, "ann", t0.Add(2500*time.Millisecond), 6, 2)
		bk, err := buckets.Get(ctx, "ann")
		if err != nil || bk.Tokens != 0 || !bk.Stamp.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("bucket after the refill: %+v, %v; want 0 tokens stamped %v", bk, err, t0.Add(2*time.Second))
		}
		// an hour later: full again, never above cap.
		s25uTakeConcurrently(t, l, "ann", t0.Add(time.Hour), 13, 10)
		// another user's bucket is its own.
		lb := &s25uLimiter{buckets: brief, cap: 10, period: time.Second}
		if ok, err := lb.allow(ctx, "bob", t0); !ok || err != nil {
			t.Fatalf("bob's first request: %v, %v", ok, err)
		}
		if ok, err := buckets.Exists(ctx, "bob"); ok || err != nil {
			t.Fatalf("bob's bucket in ann's type: %v, %v", ok, err)
		}
		s25uWaitExpired(t, b, brief, "bob", short)
	})
}

// s25uTakeConcurrently runs n takes at now, two at a time, and wants exactly
// want of them allowed.
func s25uTakeConcurrently(t *testing.T, l *s25uLimiter, user string, now time.Time, n, want int) {
	t.Helper()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < n; i += 2 {
				ok, err := l.allow(t.Context(), user, now)
				if err != nil {
					errs <- err
				}
				if ok {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("allow: %v", err)
	}
	if got := allowed.Load(); got != int64(want) {
		t.Fatalf("%d of %d requests allowed at %v, want %d", got, n, now, want)
	}
}

// s25uWaitExpired waits for an idle bucket to expire by its TTL: moves
// miniredis's clock, waits (with a generous deadline) on a real server.
func s25uWaitExpired(t *testing.T, b *testenv.Backend, buckets *rapyer.Model[s25uBucket], id string, ttl time.Duration) {
	t.Helper()
	if b.Mini != nil {
		b.Mini.FastForward(ttl + time.Millisecond)
	}
	deadline := time.Now().Add(ttl + 30*time.Second)
	for {
		ok, err := buckets.Exists(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bucket %s still there long after its TTL of %v", id, ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
