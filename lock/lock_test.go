package lock_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// patience bounds every wait for a condition: generous, since -race on two
// cores can be slow; a passing test never waits for it.
const patience = 20 * time.Second

// lockKey is the key the model layer would use: hash-tagged, so the lock and
// its fence counter share a cluster slot.
func lockKey(b *testenv.Backend, id string) string {
	return b.Prefix + ":{" + id + "}:lock:test"
}

func mustAcquire(t *testing.T, rdb redis.UniversalClient, key string, opts lock.Options) *lock.Lock {
	t.Helper()
	l, err := lock.Acquire(t.Context(), rdb, key, opts)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", key, err)
	}
	return l
}

// expire makes the lock key's TTL run out: on miniredis by moving its clock,
// on a real server by waiting until the key is gone.
func expire(t *testing.T, b *testenv.Backend, key string, ttl time.Duration) {
	t.Helper()
	if b.Mini != nil {
		b.Mini.FastForward(ttl + time.Millisecond)
	}
	testenv.Eventually(t, "the lock key expired", func() bool {
		return b.Client.Exists(context.Background(), key).Val() == 0
	})
}

func TestMutualExclusion(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		// Sized for two cores under -race: 50 polling waiters saturated
		// miniredis's script engine on a loaded machine.
		const workers, rounds = 16, 20
		key := lockKey(b, "mutex")
		var inside, most, total atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range rounds {
					l, err := lock.Acquire(t.Context(), b.Client, key, lock.Options{Wait: 5 * time.Minute})
					if err != nil {
						errs <- err
						return
					}
					n := inside.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					runtime.Gosched()
					inside.Add(-1)
					total.Add(1)
					if err := l.Release(t.Context()); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if most.Load() != 1 || total.Load() != workers*rounds {
			t.Fatalf("max inside = %d (want 1), sections = %d (want %d)", most.Load(), total.Load(), workers*rounds)
		}
	})
}

func TestFenceStrictlyIncreases(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		const workers, rounds = 8, 125
		key := lockKey(b, "fence")
		var (
			mu     sync.Mutex // the Redis lock orders the appends; this tells the race detector
			fences []int64
		)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range rounds {
					l, err := lock.Acquire(t.Context(), b.Client, key, lock.Options{Wait: time.Minute})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					fences = append(fences, l.Fence())
					mu.Unlock()
					if err := l.Release(t.Context()); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(fences) != workers*rounds {
			t.Fatalf("%d acquisitions recorded, want %d", len(fences), workers*rounds)
		}
		for i := 1; i < len(fences); i++ {
			if fences[i] <= fences[i-1] {
				t.Fatalf("fence %d at acquisition %d is not above %d before it", fences[i], i, fences[i-1])
			}
		}
		last := slices.Max(fences)
		if got := b.Client.Get(t.Context(), lock.FenceKey(key)).Val(); got != strconv.FormatInt(last, 10) {
			t.Fatalf("fence key = %s, want the last fence given out, %d", got, last)
		}
	})
}

// Fences never go backwards, whatever happens to the fence key: deleted
// (as expiry or eviction would) between two acquisitions, holding a fence
// ahead of the clock (a clock that stepped back), or an old counter.
func TestFenceSurvivesTheLossOfItsKey(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := lockKey(b, "fencelost")
		prev := int64(0)
		next := func(what string) int64 {
			t.Helper()
			l := mustAcquire(t, b.Client, key, lock.Options{})
			if l.Fence() <= prev {
				t.Fatalf("%s: fence %d is not above the one before, %d", what, l.Fence(), prev)
			}
			if ttl := b.Client.PTTL(ctx, lock.FenceKey(key)).Val(); ttl <= 10*time.Second {
				t.Fatalf("%s: the fence key lives %v, want more than the lock's TTL (10s)", what, ttl)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			prev = l.Fence()
			return prev
		}
		next("first")
		for i := range 20 {
			b.Client.Del(ctx, lock.FenceKey(key))
			next(fmt.Sprintf("after deleting the fence key (%d)", i))
		}
		// A fence ahead of the clock (the server's clock stepped back
		// while the key lived): the next is one more.
		ahead := prev + int64(time.Hour/time.Microsecond)
		b.Client.Set(ctx, lock.FenceKey(key), ahead, time.Minute)
		if f := next("after a clock step back"); f != ahead+1 {
			t.Fatalf("fence %d after a stored %d ahead of the clock, want %d", f, ahead, ahead+1)
		}
		// An old counter (a fence key without a TTL, from an older
		// version) is overtaken by the clock and given a TTL.
		b.Client.Del(ctx, lock.FenceKey(key))
		b.Client.Set(ctx, lock.FenceKey(key), 7, 0)
		prev = 7
		next("after an old counter")
		// A counter at 0 (INCR makes it 1, as it does a key that is gone):
		// the clock, above every fence before.
		b.Client.Set(ctx, lock.FenceKey(key), 0, time.Minute)
		next("after a counter at 0")
	})
}

// A fence key has a TTL after every entry point, and an extension of the
// lock extends it too, so it never lives shorter than the lock.
func TestFenceKeyOutlivesTheLockAndNotMore(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := lockKey(b, "fencettl")
		l := mustAcquire(t, b.Client, key, lock.Options{TTL: time.Second})
		if ttl := b.Client.PTTL(ctx, lock.FenceKey(key)).Val(); ttl <= time.Second || ttl > 2*time.Minute {
			t.Fatalf("fence key TTL %v after Acquire with a TTL of 1s", ttl)
		}
		if err := l.Extend(ctx, 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		if ttl := b.Client.PTTL(ctx, lock.FenceKey(key)).Val(); ttl <= 10*time.Minute {
			t.Fatalf("fence key TTL %v after extending the lock to 10m", ttl)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if ttl := b.Client.PTTL(ctx, lock.FenceKey(key)).Val(); ttl <= 0 {
			t.Fatalf("fence key TTL %v after Release: it must not live for ever", ttl)
		}
	})
}

// Every fenced acquisition writes the fence key's TTL: the lock's TTL plus
// a minute, whatever the key had left (more, less, or none: an old
// counter), without reading it (session 17: fences come from the clock,
// and the key guards only against a clock that steps back, for which the
// last fence's life is what counts). An extension lengthens a key with
// less than the lock's TTL plus a minute left to twice that and leaves a
// longer one alone, so the key outlives the held lock by the minute.
func TestFenceKeyLivesTheLifeOfTheLastAcquisition(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := lockKey(b, "fencelazy")
		fk := lock.FenceKey(key)
		const life = 10*time.Second + time.Minute // the default TTL's
		prev := int64(0)
		acquire := func(what string, lo, hi time.Duration) *lock.Lock {
			t.Helper()
			l := mustAcquire(t, b.Client, key, lock.Options{Wait: lock.NoWait})
			if l.Fence() <= prev {
				t.Fatalf("%s: fence %d after %d", what, l.Fence(), prev)
			}
			prev = l.Fence()
			if ttl := b.Client.PTTL(ctx, fk).Val(); ttl < lo || ttl > hi {
				t.Fatalf("%s: the fence key lives %v, want between %v and %v", what, ttl, lo, hi)
			}
			return l
		}
		release := func(l *lock.Lock) {
			t.Helper()
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		release(acquire("first (the clock)", life-time.Minute, life))
		// Longer: written to life all the same.
		b.Client.PExpire(ctx, fk, 5*time.Minute)
		release(acquire("with 5m left", life-time.Minute, life))
		// Short: written to life.
		b.Client.PExpire(ctx, fk, time.Second)
		release(acquire("with 1s left", life-time.Minute, life))
		// No TTL (an old counter): given one.
		b.Client.Persist(ctx, fk)
		l := acquire("without a TTL", life-time.Minute, life)
		// An extension: the same rule, with the extension's TTL.
		b.Client.PExpire(ctx, fk, time.Second)
		if err := l.Extend(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if ttl := b.Client.PTTL(ctx, fk).Val(); ttl <= life || ttl > 2*life {
			t.Fatalf("the fence key lives %v after extending with 1s left, want more than %v", ttl, life)
		}
		b.Client.PExpire(ctx, fk, 5*time.Minute)
		if err := l.Extend(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if ttl := b.Client.PTTL(ctx, fk).Val(); ttl <= 4*time.Minute {
			t.Fatalf("the fence key lives %v after extending with 5m left: it was cut back", ttl)
		}
		release(l)
	})
}

func TestStalledHolderLosesLock(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		const ttl = 200 * time.Millisecond
		key := lockKey(b, "stall")
		old := mustAcquire(t, b.Client, key, lock.Options{TTL: ttl})
		expire(t, b, key, ttl)

		next := mustAcquire(t, b.Client, key, lock.Options{TTL: time.Minute, Wait: time.Minute})
		if next.Fence() <= old.Fence() {
			t.Fatalf("fence of the next holder %d is not above %d", next.Fence(), old.Fence())
		}
		// The stalled holder's Context ends once its TTL has passed locally.
		select {
		case <-old.Context().Done():
		case <-time.After(patience):
			t.Fatal("the stalled holder's Context was not cancelled")
		}
		if cause := context.Cause(old.Context()); !errors.Is(cause, rapyer.ErrNotHeld) {
			t.Fatalf("cause = %v, want ErrNotHeld", cause)
		}
		if err := old.Extend(t.Context(), 0); !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("late Extend = %v, want ErrNotHeld", err)
		}
		if err := old.Release(t.Context()); !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("late Release = %v, want ErrNotHeld", err)
		}
		if got := b.Client.Get(t.Context(), key).Val(); got != next.Token() {
			t.Fatalf("lock key holds %q after the late release, want the next holder's %q", got, next.Token())
		}
		if err := next.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAutoExtend(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		const ttl = time.Second // an extension every third of it survives a loaded machine
		key := lockKey(b, "auto")
		l := mustAcquire(t, b.Client, key, lock.Options{TTL: ttl, AutoExtend: true})

		// Five TTLs pass. On miniredis keys age only by FastForward: each
		// half TTL is moved on once an extension has been seen since the
		// last (the key has more than half a TTL left again), so a watchdog
		// slowed by a loaded machine is waited for, and one that stopped
		// extending fails the wait.
		for i := range 10 {
			if b.Mini == nil {
				time.Sleep(ttl / 2)
				continue
			}
			if i > 0 {
				testenv.Eventually(t, "the watchdog extends the lock", func() bool { return b.Mini.TTL(key) > ttl/2 })
			}
			b.Mini.FastForward(ttl / 2)
		}
		if got := b.Client.Get(t.Context(), key).Val(); got != l.Token() {
			t.Fatalf("after 5 TTLs the key holds %q, want our token", got)
		}
		if err := l.Context().Err(); err != nil {
			t.Fatalf("Context ended while the lock was kept: %v", context.Cause(l.Context()))
		}

		// Someone deletes the key by hand: the next extension finds it lost.
		b.Client.Del(t.Context(), key)
		select {
		case <-l.Context().Done():
		case <-time.After(patience):
			t.Fatal("Context not cancelled after the lock key was deleted")
		}
		if cause := context.Cause(l.Context()); !errors.Is(cause, rapyer.ErrNotHeld) {
			t.Fatalf("cause = %v, want ErrNotHeld", cause)
		}
		if err := l.Release(t.Context()); !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("Release of a lost lock = %v, want ErrNotHeld", err)
		}
		noWatchdog(t)
	})
}

// watchdogs counts the goroutines running a lock's watchdog.
func watchdogs() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "lock.(*Lock).watch(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// noWatchdog waits until no watchdog goroutine is left. Release and Forget
// wait for the watchdog to finish its work, but the goroutine still needs a
// moment to return after it says so.
func noWatchdog(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, "no watchdog goroutine is left", func() bool { return watchdogs() == 0 })
}

func TestWatchdogEndsWithLock(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "wd")
		noWatchdog(t) // from earlier tests
		l := mustAcquire(t, b.Client, key, lock.Options{AutoExtend: true})
		testenv.Eventually(t, "one watchdog runs", func() bool { return watchdogs() == 1 })
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		noWatchdog(t)

		l = mustAcquire(t, b.Client, key, lock.Options{AutoExtend: true})
		testenv.Eventually(t, "one watchdog runs", func() bool { return watchdogs() == 1 })
		l.Forget()
		noWatchdog(t)
		if err := l.Context().Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Context after Forget: %v, want Canceled", err)
		}
		b.Client.Del(t.Context(), key) // Forget left it: nobody ran a release script
	})
}

func TestWaitEnds(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "wait")
		held := mustAcquire(t, b.Client, key, lock.Options{TTL: time.Minute})
		defer held.Release(context.Background())

		t.Run("bound", func(t *testing.T) {
			_, err := lock.Acquire(t.Context(), b.Client, key, lock.Options{Wait: 100 * time.Millisecond})
			if !errors.Is(err, rapyer.ErrNotAcquired) {
				t.Fatalf("err = %v, want ErrNotAcquired", err)
			}
		})
		t.Run("cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err := lock.Acquire(ctx, b.Client, key, lock.Options{Wait: time.Minute})
			if !errors.Is(err, context.Canceled) || errors.Is(err, rapyer.ErrNotAcquired) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
		t.Run("deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			_, err := lock.Acquire(ctx, b.Client, key, lock.Options{Wait: time.Minute})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
		})
		t.Run("cancelled before", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			free := lockKey(b, "free")
			if _, err := lock.Acquire(ctx, b.Client, free, lock.Options{}); !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if n := b.Client.Exists(t.Context(), free).Val(); n != 0 {
				t.Fatal("a cancelled Acquire took the lock")
			}
		})
		t.Run("nowait", func(t *testing.T) {
			rdb := b.NewClient(t, nil)
			rt := testenv.CountRoundTrips(rdb)
			// NoWait's entry (acquiref) is a script of its own on a
			// server without functions
			warmUp(t, rdb, b.Prefix+":{wait}:lock:warm", lock.Options{Wait: lock.NoWait})
			rt.Reset()
			_, err := lock.Acquire(t.Context(), rdb, key, lock.Options{Wait: lock.NoWait})
			if !errors.Is(err, rapyer.ErrNotAcquired) {
				t.Fatalf("err = %v, want ErrNotAcquired", err)
			}
			if rt.Count() != 1 {
				t.Fatalf("NoWait sent %v, want one attempt", rt)
			}
		})
	})
}

func TestReleaseWithCancelledContext(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "rel")
		l := mustAcquire(t, b.Client, key, lock.Options{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release with a cancelled context: %v", err)
		}
		if n := b.Client.Exists(t.Context(), key).Val(); n != 0 {
			t.Fatal("lock key still there after Release")
		}
		if err := l.Context().Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Context after Release: %v", err)
		}
		// A second Release says the lock is not held, without a round trip.
		rt := testenv.CountRoundTrips(b.Client)
		if err := l.Release(t.Context()); !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("second Release = %v, want ErrNotHeld", err)
		}
		if err := l.Extend(t.Context(), 0); !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("Extend after Release = %v, want ErrNotHeld", err)
		}
		if rt.Count() != 0 {
			t.Fatalf("second Release and Extend sent %v", rt)
		}
	})
}

func TestExtend(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "ext")
		l := mustAcquire(t, b.Client, key, lock.Options{TTL: time.Minute})
		defer l.Release(context.Background())
		if err := l.Extend(t.Context(), time.Hour); err != nil {
			t.Fatal(err)
		}
		if pttl := b.Client.PTTL(t.Context(), key).Val(); pttl <= time.Minute {
			t.Fatalf("PTTL after Extend(1h) = %v", pttl)
		}
		// Taken over behind our back: Extend reports it and ends Context.
		b.Client.Set(t.Context(), key, "someone else", time.Minute)
		if err := l.Extend(t.Context(), 0); !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("Extend of a taken-over lock = %v, want ErrNotHeld", err)
		}
		if cause := context.Cause(l.Context()); !errors.Is(cause, rapyer.ErrNotHeld) {
			t.Fatalf("cause = %v, want ErrNotHeld", cause)
		}
		if err := l.Release(t.Context()); !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("Release of a taken-over lock = %v, want ErrNotHeld", err)
		}
		if got := b.Client.Get(t.Context(), key).Val(); got != "someone else" {
			t.Fatalf("Release removed another holder's lock: key holds %q", got)
		}
	})
}

func TestLoadInOneRoundTrip(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "load")
		model := b.Prefix + ":{load}"
		b.Client.Set(t.Context(), model, "the model", 0)
		rdb := b.NewClient(t, nil)
		var get *redis.StringCmd
		warmUp(t, rdb, key, lock.Options{Load: func(p redis.Pipeliner) { get = p.Get(t.Context(), model) }})

		rt := testenv.CountRoundTrips(rdb)
		l := mustAcquire(t, rdb, key, lock.Options{Load: func(p redis.Pipeliner) {
			get = p.Get(t.Context(), model)
		}})
		if rt.Count() != 1 {
			t.Fatalf("uncontended Acquire with Load: %v, want 1", rt)
		}
		// one read: a plain pipeline, no MULTI/EXEC
		if got := strings.Join(rt.Commands(), " "); got != "fcall get" && got != "evalsha get" {
			t.Fatalf("commands sent: %s", got)
		}
		if v, err := get.Result(); err != nil || v != "the model" {
			t.Fatalf("Load's GET = %q, %v", v, err)
		}
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}

		// two reads: one transaction with the acquire, still one round trip
		var get2 *redis.StringCmd
		two := lock.Options{Load: func(p redis.Pipeliner) {
			get = p.Get(t.Context(), model)
			get2 = p.Get(t.Context(), model)
		}}
		warmUp(t, rdb, key, two)
		rt.Reset()
		l = mustAcquire(t, rdb, key, two)
		if got := strings.Join(rt.Commands(), " "); rt.Count() != 1 || (got != "multi fcall get get exec" && got != "multi evalsha get get exec") {
			t.Fatalf("Acquire with a Load of two reads sent %s in %d round trips, want one transaction", got, rt.Count())
		}
		if get.Val() != "the model" || get2.Val() != "the model" {
			t.Fatalf("Load's GETs = %v, %v", get, get2)
		}
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}

		// Load's errors are Load's: a GET of a missing key does not fail Acquire.
		l = mustAcquire(t, rdb, key, lock.Options{Load: func(p redis.Pipeliner) {
			get = p.Get(t.Context(), b.Prefix+":{load}:missing")
		}})
		if err := get.Err(); err != redis.Nil {
			t.Fatalf("GET of a missing key: %v, want redis.Nil", err)
		}
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUncontendedRoundTrips(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "rt")
		rdb := b.NewClient(t, nil)
		warmUp(t, rdb, key, lock.Options{})
		rt := testenv.CountRoundTrips(rdb)
		l := mustAcquire(t, rdb, key, lock.Options{})
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		if rt.Count() != 2 {
			t.Fatalf("uncontended acquire and release: %v, want 2", rt)
		}
	})
}

// warmUp takes and releases key once, so that the connections (a
// transaction uses go-redis' pipeline pool) are dialled, the cluster layout
// is known and the scripts are cached before round trips are counted.
func warmUp(t *testing.T, rdb redis.UniversalClient, key string, opts lock.Options) {
	t.Helper()
	if err := mustAcquire(t, rdb, key, opts).Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestScriptFlush(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "flush")
		model := b.Prefix + ":{flush}"
		b.Client.Set(t.Context(), model, "v", 0)
		for _, load := range []bool{false, true} {
			var get *redis.StringCmd
			opts := lock.Options{}
			if load {
				opts.Load = func(p redis.Pipeliner) { get = p.Get(t.Context(), model) }
			}
			mustAcquire(t, b.Client, key, opts).Release(t.Context())

			if err := testenv.FlushLua(t.Context(), b.Client); err != nil {
				t.Fatal(err)
			}
			l := mustAcquire(t, b.Client, key, opts)
			if load && get.Val() != "v" {
				t.Fatalf("Load after a flush of the Lua: %v", get)
			}
			if err := testenv.FlushLua(t.Context(), b.Client); err != nil {
				t.Fatal(err)
			}
			if err := l.Extend(t.Context(), 0); err != nil {
				t.Fatalf("Extend after a flush of the Lua: %v", err)
			}
			if err := testenv.FlushLua(t.Context(), b.Client); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(t.Context()); err != nil {
				t.Fatalf("Release after a flush of the Lua: %v", err)
			}
		}
	})
}

// TestReleaseWakesWaiter pins the hand-off: the waiter polls once a minute,
// and the holder's TTL is longer than the test, so only the release's
// announcement can let it in within patience.
func TestReleaseWakesWaiter(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "wake")
		slow := lock.Options{Wait: 10 * time.Minute, RetryMin: time.Minute, RetryMax: time.Minute}

		for _, how := range []string{"Release", "script"} {
			held := mustAcquire(t, b.Client, key, lock.Options{TTL: 10 * time.Minute})
			got := make(chan *lock.Lock, 1)
			errs := make(chan error, 1)
			waiter := b.NewClient(t, nil) // its own client: its own hub
			go func() {
				l, err := lock.Acquire(t.Context(), waiter, key, slow)
				if err != nil {
					errs <- err
					return
				}
				got <- l
			}()
			waitForSubscriber(t, b, lock.WakeChannel(key))
			if how == "Release" {
				if err := held.Release(t.Context()); err != nil {
					t.Fatal(err)
				}
			} else {
				// The contract of Forget: a script of the caller's releases.
				n, err := redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], KEYS[1])
  return 1
end
return 0`).Run(t.Context(), b.Client, []string{key}, held.Token(), lock.WakeChannel(key)).Int()
				if err != nil || n != 1 {
					t.Fatalf("release script: %d, %v", n, err)
				}
				held.Forget()
			}
			select {
			case l := <-got:
				if l.Fence() <= held.Fence() {
					t.Fatalf("fence %d not above %d", l.Fence(), held.Fence())
				}
				if err := l.Release(t.Context()); err != nil {
					t.Fatal(err)
				}
			case err := <-errs:
				t.Fatal(err)
			case <-time.After(patience):
				t.Fatalf("%s did not wake the waiter", how)
			}
		}
	})
}

// waitForSubscriber waits until some connection subscribes to channel.
func waitForSubscriber(t *testing.T, b *testenv.Backend, channel string) {
	t.Helper()
	testenv.Eventually(t, "a waiter subscribed to "+channel, func() bool {
		if b.Mini != nil {
			return b.Mini.PubSubNumSub(channel)[channel] > 0
		}
		// On a cluster the subscriber sits on one node; ask each.
		var n int64
		for _, addr := range b.Addrs {
			c := redis.NewClient(&redis.Options{Addr: addr})
			n += c.PubSubNumSub(context.Background(), channel).Val()[channel]
			_ = c.Close()
		}
		return n > 0
	})
}

func TestHubGoesAway(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "hub")
		held := mustAcquire(t, b.Client, key, lock.Options{TTL: time.Minute})
		if _, err := lock.Acquire(t.Context(), b.Client, key, lock.Options{Wait: 50 * time.Millisecond}); !errors.Is(err, rapyer.ErrNotAcquired) {
			t.Fatalf("err = %v, want ErrNotAcquired", err)
		}
		if err := held.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, "the wake-up reader goroutine ended", func() bool {
			return !stacksContain("lock.(*hub).read(")
		})
	})
}

func stacksContain(s string) bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Contains(string(buf[:n]), s)
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestBadInput(t *testing.T) {
	b := testenv.On(t, testenv.Mini)
	if _, err := lock.Acquire(t.Context(), b.Client, "", lock.Options{}); err == nil {
		t.Error("empty key accepted")
	}
	if _, err := lock.Acquire(t.Context(), nil, "k", lock.Options{}); !errors.Is(err, rapyer.ErrInvalid) {
		t.Errorf("nil client: %v, want ErrInvalid", err)
	}
	var typed *redis.Client // a typed nil in the interface: refused too, not dereferenced
	if _, err := lock.Acquire(t.Context(), typed, "k", lock.Options{}); !errors.Is(err, rapyer.ErrInvalid) {
		t.Errorf("typed nil client: %v, want ErrInvalid", err)
	}
	if _, err := lock.Acquire(t.Context(), b.Client, "k", lock.Options{TTL: -time.Second}); err == nil {
		t.Error("negative TTL accepted")
	}
	// Keys that could be another lock's fence key or marker (FenceKey's rule).
	for _, k := range []string{"a:fence", "a:{x}:fence", "a:fence:b", "a:fence:" + strings.Repeat("0", 32)} {
		if _, err := lock.Acquire(t.Context(), b.Client, k, lock.Options{}); err == nil {
			t.Errorf("key %q accepted: it collides with a derived key", k)
		}
	}
	for _, k := range []string{"a:fences", "a:fencepost:b", "fence:a", "a:xfence"} {
		l, err := lock.Acquire(t.Context(), b.Client, k, lock.Options{})
		if err != nil {
			t.Errorf("key %q refused: %v", k, err)
			continue
		}
		_ = l.Release(t.Context())
	}
	// A lock key of the wrong type is a Redis error, not a wait.
	b.Client.LPush(t.Context(), "wrong", "x")
	if _, err := lock.Acquire(t.Context(), b.Client, "wrong", lock.Options{}); err == nil || errors.Is(err, rapyer.ErrNotAcquired) {
		t.Errorf("lock key of the wrong type: %v", err)
	}
}
