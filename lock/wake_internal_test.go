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

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// The wake protocol of issue #13: a release announces itself only while
// someone waits; a waiter is woken by the announcement; a waiter that went
// away stops the announcements within its lease; waiters of a client take
// turns.

const wakePatience = 20 * time.Second

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
		waitedFor(t, b.Client, key, Options{RetryMax: time.Minute})
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if n := counts.announced.Load() - a0; n != 1 {
			t.Fatalf("the release with a waiter announced itself %d times, want 1", n)
		}
	})
}

// waitedFor waits for the lock at key, held elsewhere, with opts (and
// the default Wait) until the wait key says so, then gives up: a waiter
// that went away, whose flag lives on for its lease.
func waitedFor(t *testing.T, rdb redis.UniversalClient, key string, opts Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := Acquire(ctx, rdb, key, opts)
		done <- err
	}()
	testenv.Eventually(t, "the waiter flags the wait key", func() bool { return rdb.Exists(t.Context(), waitKey(key)).Val() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiter of a held lock, cancelled: %v", err)
	}
}

// TestFirstAttemptDoesNotFlag: the first attempt of a caller that will
// wait, made before it joins the key's wake subscription, finds the lock
// held and leaves no wait key (a release then would announce itself to
// nobody); an attempt made once it has joined flags the key with its
// client's id for its lease. The lock ends up with the waiter when the
// holder releases.
func TestFirstAttemptDoesNotFlag(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{first}:lock:x"
		held := take(t, b, key, Options{Wait: NoWait})
		o, _ := Options{NoFence: true}.resolve()
		a := newAcquirer(b.Client, key, o)
		at, err := a.try(ctx)
		if err != nil || at.ok {
			t.Fatalf("a first attempt on a held lock: %+v, %v", at, err)
		}
		if n := b.Client.Exists(ctx, waitKey(key)).Val(); n != 0 {
			t.Fatal("a first attempt flagged the wait key")
		}
		a.waits = true
		if at, err := a.try(ctx); err != nil || at.ok {
			t.Fatalf("an attempt of a subscribed waiter on a held lock: %+v, %v", at, err)
		}
		if v := b.Client.Get(ctx, waitKey(key)).Val(); v != clientID(b.Client) {
			t.Fatalf("the wait key holds %q, want the client id %q", v, clientID(b.Client))
		}
		if pt := b.Client.PTTL(ctx, waitKey(key)).Val(); pt <= 0 || pt > o.lease() {
			t.Fatalf("the wait key lives %v, want at most the lease %v", pt, o.lease())
		}
		let(t, held)
		if at, err := a.try(ctx); err != nil || !at.ok || at.fence != 0 {
			t.Fatalf("an attempt on the released lock: %+v, %v; want the lock without a fence", at, err)
		}
		if v := b.Client.Get(ctx, key).Val(); v != a.token {
			t.Fatalf("the lock key holds %q, want the waiter's token", v)
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
	waitedFor(t, rdb, key, Options{RetryMax: time.Minute})
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
		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(wakePatience):
			t.Fatal("the release did not wake the waiter")
		}
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
		o := Options{RetryMax: 10 * time.Millisecond}
		waitedFor(t, b.Client, key, o)
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
