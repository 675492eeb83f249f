package lock

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/random"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// The hand-over of issue #13: a release hands the lock to the longest
// waiting waiter of its own client in the same call, while no other
// client's waiter waits.

// slowPoll makes a waiter that never polls within a test: it can get the
// lock only by being woken or handed it.
var slowPoll = Options{Wait: 10 * time.Minute, RetryMin: time.Minute, RetryMax: time.Minute}

// TestReleaseHandsTheLockToAWaiterOfItsClient: the waiter gets the lock
// with no attempt of its own after the release (the release is the one
// round trip), the lock key holds its token, and its fence is the next one.
func TestReleaseHandsTheLockToAWaiterOfItsClient(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{handed}:lock:x"
		rdb := b.NewClient(t, nil) // its own, for the round-trip counter
		held, err := Acquire(ctx, rdb, key, Options{TTL: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		naps, h0, a0 := counts.naps.Load(), counts.handed.Load(), counts.announced.Load()
		got := make(chan *Lock, 1)
		go func() {
			l, err := Acquire(ctx, rdb, key, slowPoll)
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
		testenv.Eventually(t, "the waiter naps", func() bool { return counts.naps.Load() > naps })
		// Warm the pass entry (a script's first call on miniredis loads it),
		// on a lock nobody holds.
		warm := b.Prefix + ":{handed}:lock:warm"
		if err := lua.Pass.Run(ctx, rdb, script.Command([]string{warm}, "t", "u", 1000, 1000, "id")).Err(); err != nil {
			t.Fatal(err)
		}
		trips := testenv.CountRoundTrips(rdb)
		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		var l *Lock
		select {
		case l = <-got:
		case <-time.After(wakePatience):
			t.Fatal("the release did not hand the lock over")
		}
		if l == nil {
			t.FailNow()
		}
		if h, a := counts.handed.Load()-h0, counts.announced.Load()-a0; h != 1 || a != 0 {
			t.Fatalf("the release handed the lock over %d times and announced itself %d times, want 1 and 0", h, a)
		}
		if n := trips.Count(); n != 1 {
			t.Fatalf("the release and the hand-over took %d round trips, want 1: %v", n, trips.Commands())
		}
		if v := b.Client.Get(ctx, key).Val(); v != l.Token() {
			t.Fatalf("the lock key holds %q, want the waiter's token %q", v, l.Token())
		}
		if l.Fence() <= held.Fence() {
			t.Fatalf("the handed fence %d is not above the holder's %d", l.Fence(), held.Fence())
		}
		if f, _ := b.Client.Get(ctx, FenceKey(key)).Int64(); f != l.Fence() {
			t.Fatalf("the fence key holds %d, the handed lock has %d", f, l.Fence())
		}
		if pttl := b.Client.PTTL(ctx, key).Val(); pttl <= 0 || pttl > DefaultTTL {
			t.Fatalf("the handed lock lives %v, want the waiter's TTL %v", pttl, DefaultTTL)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if n := b.Client.Exists(ctx, key).Val(); n != 0 {
			t.Fatal("the lock is still held after its release")
		}
	})
}

// TestNoHandOverWhileAnotherClientWaits: with a waiter of another client
// flagged, the release only releases and announces, and both waiters get
// the lock in turn.
func TestNoHandOverWhileAnotherClientWaits(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{mixed}:lock:x"
		held, err := Acquire(ctx, b.Client, key, Options{TTL: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		naps, h0 := counts.naps.Load(), counts.handed.Load()
		var wg sync.WaitGroup
		for _, rdb := range []redis.UniversalClient{b.Client, b.NewClient(t, nil)} {
			wg.Go(func() {
				l, err := Acquire(ctx, rdb, key, Options{Wait: 10 * time.Minute, RetryMax: 200 * time.Millisecond})
				if err == nil {
					err = l.Release(ctx)
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		testenv.Eventually(t, "both waiters nap", func() bool { return counts.naps.Load() >= naps+2 })
		testenv.Eventually(t, "the wait flag says two clients wait", func() bool { return b.Client.Get(ctx, waitKey(key)).Val() == "*" })
		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if h := counts.handed.Load() - h0; h != 0 {
			t.Fatalf("a release handed the lock over %d times while another client waited", h)
		}
	})
}

// TestPassRefusesAGivenUpToken: the pass entry does not hand the lock to a
// token whose acquisition was given up (its void key exists): it releases.
func TestPassRefusesAGivenUpToken(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{void}:lock:x"
		l, err := Acquire(ctx, b.Client, key, Options{})
		if err != nil {
			t.Fatal(err)
		}
		heir := random.Hex(16)
		if err := b.Client.Set(ctx, voidKey(key, heir), "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		res, err := lua.Pass.Run(ctx, b.Client, script.Command([]string{key},
			l.Token(), heir, 10000, 70000, clientID(b.Client))).Int64()
		if err != nil {
			t.Fatal(err)
		}
		if res != -2 {
			t.Fatalf("pass to a given-up token replied %v, want a plain release (-2)", res)
		}
		if n := b.Client.Exists(ctx, key).Val(); n != 0 {
			t.Fatal("the lock is still held")
		}
	})
}

// TestWaitersGivingUpDuringHandOversLeaveNoLock: waiters whose wait ends
// about when the holder releases (so a release may hand the lock to one
// that is leaving) never leave the lock held.
func TestWaitersGivingUpDuringHandOversLeaveNoLock(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{leaving}:lock:x"
		for range 40 {
			held, err := Acquire(ctx, b.Client, key, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for range 3 {
				wait := time.Duration(rand.IntN(3000)) * time.Microsecond
				wg.Go(func() {
					l, err := Acquire(ctx, b.Client, key, Options{Wait: wait, RetryMax: time.Minute})
					switch {
					case err == nil:
						err = l.Release(ctx)
					case errors.Is(err, errs.NotAcquired):
						err = nil
					}
					if err != nil {
						t.Error(err)
					}
				})
			}
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
			if err := held.Release(ctx); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if n := b.Client.Exists(ctx, key).Val(); n != 0 {
				t.Fatalf("the lock is held after every waiter went: %q", b.Client.Get(ctx, key).Val())
			}
		}
	})
}

// TestLeavingWhileOfferedGivesUp: a waiter that leaves while a release may
// be handing it the lock (offered, or the outcome unknown), or with a lock
// handed and not taken, says so, so that its acquisition is given up.
func TestLeavingWhileOfferedGivesUp(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer rdb.Close()
	key := "offer:{x}"
	ch := WakeChannel(key)
	hr := heir{tok: "t", ttl: time.Second, life: time.Minute}
	for i, settle := range []func(w *waiter){
		func(w *waiter) {},
		func(w *waiter) { w.settle(grant{}, false, true) },
		func(w *waiter) { w.settle(grant{fence: 7}, true, false) },
	} {
		w, _ := joinLive(rdb, key, hr)
		if w != nil {
			t.Fatal("joinLive joined a channel nobody subscribed")
		}
		w = join(rdb, ch, hr)
		if o := offer(rdb, key); o != w {
			t.Fatalf("case %d: offer picked %v, want the waiter", i, o)
		}
		if o := offer(rdb, key); o != nil {
			t.Fatalf("case %d: a second release was offered the waiter being handed the lock", i)
		}
		settle(w)
		if !w.leave(true) {
			t.Fatalf("case %d: the waiter left without saying a release may have handed it the lock", i)
		}
	}
	w := join(rdb, ch, heir{})
	if o := offer(rdb, key); o != nil {
		t.Fatal("a waiter with a Load was offered the lock")
	}
	if w.leave(true) {
		t.Fatal("a waiter never offered the lock says it may have been handed it")
	}
}

// TestTwoClientsShareAContendedLock: four goroutines on each of two
// clients take one lock 25 times each; the waiters of neither client are
// passed over for long (the hand-over stops while the other client waits).
//
// Both clients take the lock once before the goroutines start, all at
// once: a cold client (on a cluster, its slot map and a connection to the
// key's node) under load sent its first attempt only after the other
// client's goroutines, handing the lock among themselves as they may while
// no one else waits, had taken it about 100 times; its waiter, not yet
// waiting at the server, was counted as passed over by all of them.
func TestTwoClientsShareAContendedLock(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{two}:lock:x"
		var seq, worst atomic.Int64
		clients := []redis.UniversalClient{b.Client, b.NewClient(t, nil)}
		for _, rdb := range clients {
			l, err := Acquire(ctx, rdb, key, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		h0 := counts.handed.Load()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, rdb := range clients {
			for range 4 {
				wg.Go(func() {
					<-start
					for range 25 {
						s0 := seq.Load()
						l, err := Acquire(ctx, rdb, key, Options{Wait: time.Minute})
						if err != nil {
							t.Error(err)
							return
						}
						passed := seq.Add(1) - s0 - 1
						for w := worst.Load(); passed > w && !worst.CompareAndSwap(w, passed); w = worst.Load() {
						}
						if err := l.Release(ctx); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
		}
		close(start)
		wg.Wait()
		t.Logf("the longest wait saw %d other acquisitions; %d of 200 were handed over", worst.Load(), counts.handed.Load()-h0)
		if w := worst.Load(); w > 100 {
			t.Fatalf("a waiter was passed over %d times", w)
		}
	})
}
