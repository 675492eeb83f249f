package lock

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// The wake protocol of issue #13: a release announces itself only while
// someone waits; a waiter is woken by the announcement; a waiter that went
// away stops the announcements within its lease; waiters of a client take
// turns.

const wakePatience = 20 * time.Second

// releaseAndWait releases held, then waits (wakePatience at the most) for
// the waiter's error on got, which must be nil; past it, it fails saying
// what did not happen.
func releaseAndWait(t *testing.T, ctx context.Context, held *Lock, got <-chan error, what string) {
	t.Helper()
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wakePatience):
		t.Fatal(what)
	}
}

// TestReleaseAnnouncesOnlyWhenWaited: releases with nobody waiting do not
// PUBLISH (the release entry's reply says so), and leave no wait key; one
// with a waiter does.
func TestReleaseAnnouncesOnlyWhenWaited(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{quiet}:lock:x"
		a0 := counts.announced.Load()
		for range 20 {
			l, err := Acquire(ctx, b.Client, key, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n := counts.announced.Load() - a0; n != 0 {
			t.Fatalf("%d of 20 releases without waiters announced themselves", n)
		}
		if n := b.Client.Exists(ctx, waitKey(key)).Val(); n != 0 {
			t.Fatal("uncontended cycles left a wait key")
		}
		l, err := Acquire(ctx, b.Client, key, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Acquire(ctx, b.Client, key, Options{Wait: time.Millisecond, RetryMax: time.Minute}); !errors.Is(err, errs.NotAcquired) {
			t.Fatalf("a waiter of a held lock: %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if n := counts.announced.Load() - a0; n != 1 {
			t.Fatalf("the release with a waiter announced itself %d times, want 1", n)
		}
	})
}

// TestNoPublishWithoutWaiters counts the server's PUBLISH calls on a
// private redis-server (INFO commandstats): none for uncontended cycles.
func TestNoPublishWithoutWaiters(t *testing.T) {
	srv := testenv.StartServer(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	publishes := func() int {
		info := rdb.Info(ctx, "commandstats").Val()
		_, rest, ok := strings.Cut(info, "cmdstat_publish:calls=")
		if !ok {
			return 0
		}
		n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		return n
	}
	key := "quiet:{p}:lock:x"
	for range 50 {
		l, err := Acquire(ctx, rdb, key, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := publishes(); n != 0 {
		t.Fatalf("50 uncontended cycles sent %d PUBLISH", n)
	}
	l, err := Acquire(ctx, rdb, key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = Acquire(ctx, rdb, key, Options{Wait: time.Millisecond, RetryMax: time.Minute})
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := publishes(); n != 1 {
		t.Fatalf("a release with a waiter sent %d PUBLISH, want 1", n)
	}
}

// TestWaiterIsWokenByTheRelease: a waiter that polls once a minute gets the
// lock because the release woke it, not because it polled.
func TestWaiterIsWokenByTheRelease(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{woken}:lock:x"
		held, err := Acquire(ctx, b.Client, key, Options{TTL: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		naps, w0, p0 := counts.naps.Load(), counts.wakes.Load(), counts.polls.Load()
		got := make(chan error, 1)
		go func() {
			l, err := Acquire(ctx, b.NewClient(t, nil), key, Options{Wait: 10 * time.Minute, RetryMin: time.Minute, RetryMax: time.Minute})
			if err == nil {
				err = l.Release(ctx)
			}
			got <- err
		}()
		testenv.Eventually(t, "the waiter naps", func() bool { return counts.naps.Load() > naps })
		releaseAndWait(t, ctx, held, got, "the release did not wake the waiter")
		if w, p := counts.wakes.Load()-w0, counts.polls.Load()-p0; w != 1 || p != 0 {
			t.Fatalf("the waiter was woken %d times and polled %d times, want 1 and 0", w, p)
		}
	})
}

// TestWaitRegistrationExpires: a waiter that goes away without a word (as a
// crashed one would) leaves a wait key that expires with its lease; the
// releases after that announce nothing.
func TestWaitRegistrationExpires(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{crash}:lock:x"
		held, err := Acquire(ctx, b.Client, key, Options{TTL: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		o := Options{Wait: time.Millisecond, RetryMax: 10 * time.Millisecond}
		if _, err := Acquire(ctx, b.Client, key, o); !errors.Is(err, errs.NotAcquired) {
			t.Fatalf("a waiter of a held lock: %v", err)
		}
		r, _ := o.resolve()
		pttl := b.Client.PTTL(ctx, waitKey(key)).Val()
		if pttl <= 0 || pttl > r.lease() {
			t.Fatalf("the wait key lives %v, want at most the lease %v", pttl, r.lease())
		}
		if b.Mini != nil {
			b.Mini.FastForward(r.lease() + time.Millisecond)
		}
		testenv.Eventually(t, "the wait key expired", func() bool { return b.Client.Exists(ctx, waitKey(key)).Val() == 0 })
		a0 := counts.announced.Load()
		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if n := counts.announced.Load() - a0; n != 0 {
			t.Fatal("a release announced itself after the waiter's lease ran out")
		}
	})
}

// TestWaitersTakeTurns: eight goroutines of one client take a lock 25 times
// each; none is passed over by more than a generous count of acquisitions
// while it waits (strict turns would be 7; polls may barge in).
func TestWaitersTakeTurns(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{turns}:lock:x"
		var seq, inside, worst atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 25 {
					s0 := seq.Load()
					l, err := Acquire(ctx, b.Client, key, Options{Wait: time.Minute})
					if err != nil {
						t.Error(err)
						return
					}
					if inside.Add(1) != 1 {
						t.Error("two holders at once")
					}
					passed := seq.Add(1) - s0 - 1
					for w := worst.Load(); passed > w && !worst.CompareAndSwap(w, passed); w = worst.Load() {
					}
					inside.Add(-1)
					if err := l.Release(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		t.Logf("the longest wait saw %d other acquisitions", worst.Load())
		if w := worst.Load(); w > 64 {
			t.Fatalf("a waiter was passed over %d times", w)
		}
	})
}

// TestWaitFlagLeases: the acquire call carries only what differs from the
// entry's defaults, and the wait key says the same either way: a waiter
// with the default RetryMax (whose lease the entry knows) flags it with
// its client's id for the default lease, one with another RetryMax for its
// own lease, and a caller that will not wait does not flag it.
func TestWaitFlagLeases(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		short := Options{Wait: time.Millisecond, RetryMax: time.Millisecond}
		rs, _ := short.resolve()
		for _, c := range []struct {
			name string
			o    Options
			// the wait key's PTTL must be in (lo, hi]; hi 0: no wait key
			lo, hi time.Duration
		}{
			{"default", Options{Wait: time.Millisecond}, rs.lease(), defaultLease},
			{"short", short, 0, rs.lease()},
			{"nowait", Options{Wait: NoWait}, 0, 0},
			{"nowait-fenced", Options{Wait: NoWait, NoFence: true}, 0, 0},
		} {
			key := b.Prefix + ":{lease" + c.name + "}:lock:x"
			held := take(t, b, key, Options{TTL: time.Minute, Wait: NoWait})
			if _, err := Acquire(ctx, b.Client, key, c.o); !errors.Is(err, errs.NotAcquired) {
				t.Fatalf("%s: a waiter of a held lock: %v", c.name, err)
			}
			pt := b.Client.PTTL(ctx, waitKey(key)).Val()
			if c.hi == 0 {
				if n := b.Client.Exists(ctx, waitKey(key)).Val(); n != 0 {
					t.Fatalf("%s: a caller that will not wait flagged the wait key", c.name)
				}
			} else if pt <= c.lo || pt > c.hi {
				t.Fatalf("%s: the wait key lives %v, want (%v, %v]", c.name, pt, c.lo, c.hi)
			}
			if v := b.Client.Get(ctx, waitKey(key)).Val(); c.hi != 0 && v != clientID(b.Client) {
				t.Fatalf("%s: the wait key holds %q, want the client's id %q", c.name, v, clientID(b.Client))
			}
			let(t, held)
		}
	})
}

// noHubs waits until the process has no hub (those of earlier tests close
// idleLinger after their last waiter leaves) and checks that wake.live
// says so.
func noHubs(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(wakePatience)
	for {
		wake.mu.Lock()
		n, live := len(wake.hubs), wake.live.Load()
		wake.mu.Unlock()
		if int32(n) != live {
			t.Fatalf("wake.live is %d with %d hubs", live, n)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d hubs still open after %v", n, wakePatience)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCycleWithoutHubsTakesNoMutex: while no caller of the process waits
// (no hub), an uncontended acquire + release, of a caller that would wait
// as of one that will not, does not take the wake registry's mutex (held
// here for the whole cycle); once a waiter made a hub, wake.live counts it,
// a release hands that waiter the lock, and the count drops back to 0 when
// the hub closes.
func TestCycleWithoutHubsTakesNoMutex(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{nohub}:lock:x"
		noHubs(t)
		done := make(chan error, 1)
		wake.mu.Lock()
		go func() {
			for _, o := range []Options{{}, {Wait: NoWait}, {NoFence: true}} {
				l, err := Acquire(ctx, b.Client, key, o)
				if err == nil {
					err = l.Release(ctx)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			wake.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(wakePatience):
			wake.mu.Unlock()
			<-done
			t.Fatal("an uncontended cycle with no hub in the process waited for the wake registry's mutex")
		}

		held, err := Acquire(ctx, b.Client, key, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			l, err := Acquire(ctx, b.Client, key, Options{Wait: wakePatience, RetryMax: time.Minute})
			if err == nil {
				err = l.Release(ctx)
			}
			got <- err
		}()
		deadline := time.Now().Add(wakePatience)
		for {
			wake.mu.Lock()
			n, live := len(wake.hubs), wake.live.Load()
			wake.mu.Unlock()
			if int32(n) != live {
				t.Fatalf("wake.live is %d with %d hubs", live, n)
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the waiter made no hub")
			}
			time.Sleep(time.Millisecond)
		}
		h0 := counts.handed.Load() + counts.announced.Load()
		releaseAndWait(t, ctx, held, got, "the waiter did not get the lock")
		if counts.handed.Load()+counts.announced.Load() == h0 {
			t.Fatal("the release neither handed the lock to the waiter nor announced itself: it did not see the hub")
		}
		noHubs(t)
	})
}
