package bench_test

// The lock rows of issue #13's table: an uncontended acquire + release, and
// a contended hand-off of one lock between eight goroutines, by the lock
// package and by the lock libraries our users would pick instead, each used
// as its documentation shows: github.com/bsm/redislock (Obtain/Release),
// github.com/go-redsync/redsync/v4 (one pool, Lock/Unlock) and
// github.com/redis/rueidis/rueidislock (its own rueidis client on the same
// server, KeyMajority 1 for a single Redis, as its README says), plus the
// hand-written SET NX PX lock with a compare-and-delete release.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidislock"

	"github.com/rapyer-go/rapyer/lock"
)

// peerLockTTL is the TTL every side's lock is taken with.
const peerLockTTL = 10 * time.Second

// --- uncontended acquire + release ---------------------------------------------

// lockOnce is lockRapyer with the check that each release left nothing:
// the lock package's default lock, with its fencing token.
func lockOnce(tb testing.TB, e *env) prepared {
	return lockOnceWith(e, lock.Options{TTL: peerLockTTL, Wait: lock.NoWait})
}

// lockOnceNoFence is lockOnce without the fencing token (Options.NoFence),
// the promise redislock, redsync, rueidislock and the hand-written lock
// keep: none of them gives a fence. It still refuses an abandoned
// acquisition's late request and wakes waiters, which they do not.
func lockOnceNoFence(tb testing.TB, e *env) prepared {
	return lockOnceWith(e, lock.Options{TTL: peerLockTTL, Wait: lock.NoWait, NoFence: true})
}

func lockOnceWith(e *env, opts lock.Options) prepared {
	key := "lk:{" + e.id("lp") + "}:lock:x"
	return prepared{
		op: func() error {
			l, err := lock.Acquire(e.ctx, e.rdb, key, opts)
			if err != nil {
				return err
			}
			return l.Release(e.ctx)
		},
		check: func() error { return noKeys(e, key) },
	}
}

// lockOnceHand is SET NX PX and a compare-and-delete release.
func lockOnceHand(tb testing.TB, e *env) prepared {
	key := "hand:{" + e.id("lp") + "}:lock"
	keys := []string{key}
	return prepared{
		op: func() error {
			token := rapyerToken()
			ok, err := e.rdb.SetNX(e.ctx, key, token, peerLockTTL).Result()
			if err == nil && !ok {
				err = errors.New("SET NX: the lock is held")
			}
			if err != nil {
				return err
			}
			n, err := handRelease.Run(e.ctx, e.rdb, keys, token).Int()
			if err == nil && n != 1 {
				err = errors.New("release: not held")
			}
			return err
		},
		check: func() error { return noKeys(e, key) },
	}
}

func lockRedislock(tb testing.TB, e *env) prepared {
	c := redislock.New(e.rdb)
	key := "redislock:" + e.id("rl")
	return prepared{
		op: func() error {
			l, err := c.Obtain(e.ctx, key, peerLockTTL, nil)
			if err != nil {
				return err
			}
			return l.Release(e.ctx)
		},
		check: func() error { return noKeys(e, key) },
	}
}

func lockRedsync(tb testing.TB, e *env) prepared {
	rs := redsync.New(goredis.NewPool(e.rdb))
	key := "redsync:" + e.id("rs")
	mu := rs.NewMutex(key, redsync.WithExpiry(peerLockTTL), redsync.WithTries(1))
	return prepared{
		op: func() error {
			if err := mu.LockContext(e.ctx); err != nil {
				return err
			}
			ok, err := mu.UnlockContext(e.ctx)
			if err == nil && !ok {
				err = errors.New("redsync: unlock found the lock gone")
			}
			return err
		},
		check: func() error { return noKeys(e, key) },
	}
}

// rueidisLocker is a rueidislock.Locker on e's server, closed with tb.
func rueidisLocker(tb testing.TB, e *env) rueidislock.Locker {
	l, err := rueidislock.NewLocker(rueidislock.LockerOption{
		ClientOption:   rueidis.ClientOption{InitAddress: []string{e.srv.Addr()}},
		KeyMajority:    1,
		KeyValidity:    peerLockTTL,
		NoLoopTracking: true, // Redis >= 7.0.5, as its README advises
	})
	must(tb, err)
	tb.Cleanup(l.Close)
	return l
}

// peerWaitLimit bounds one wait of a peer lock in the hand-off rows.
const peerWaitLimit = 30 * time.Second

// rueidisCommands are what rueidislock sends on its own client: its scripts
// (EVAL when the server has not cached one yet).
var rueidisCommands = []string{"evalsha", "eval"}

// lockRueidis: TryWithContext acquires; the cancel function it returns
// releases, and returns once the release is done.
func lockRueidis(tb testing.TB, e *env) prepared {
	l := rueidisLocker(tb, e)
	name := e.id("ru")
	return prepared{
		op: func() error {
			_, cancel, err := l.TryWithContext(e.ctx, name)
			if err != nil {
				return err
			}
			cancel()
			return nil
		},
		check:    func() error { return noKeys(e, "rueidislock:0:"+name) },
		commands: rueidisCommands,
	}
}

// --- contended hand-off, eight goroutines ---------------------------------------

// exclusive counts the holders inside a critical section: a side whose lock
// lets two in at once fails its op.
type exclusive struct{ inside atomic.Int32 }

func (x *exclusive) hold(release func() error) error {
	n := x.inside.Add(1)
	x.inside.Add(-1)
	err := release()
	if n != 1 {
		err = errors.Join(err, fmt.Errorf("%d holders at once", n))
	}
	return err
}

func handoffRapyer(tb testing.TB, e *env) prepared {
	key := "lk:{" + e.id("hr") + "}:lock:x"
	var x exclusive
	return prepared{
		op: func() error {
			l, err := lock.Acquire(e.ctx, e.rdb, key, lock.Options{TTL: peerLockTTL, Wait: time.Minute})
			if err != nil {
				return err
			}
			return x.hold(func() error { return l.Release(e.ctx) })
		},
		check: func() error { return noKeys(e, key) },
	}
}

// handoffSpin is the lock everyone writes first: SET NX PX, and on a miss
// sleep 1 ms and try again; release by compare-and-delete.
func handoffSpin(tb testing.TB, e *env) prepared {
	key := "hand:{" + e.id("hs") + "}:lock"
	keys := []string{key}
	var x exclusive
	return prepared{
		op: func() error {
			token := rapyerToken()
			for {
				ok, err := e.rdb.SetNX(e.ctx, key, token, peerLockTTL).Result()
				if err != nil {
					return err
				}
				if ok {
					break
				}
				time.Sleep(time.Millisecond)
			}
			return x.hold(func() error { return handRelease.Run(e.ctx, e.rdb, keys, token).Err() })
		},
		check: func() error { return noKeys(e, key) },
	}
}

// handoffRedislock retries every millisecond (redislock.LinearBackoff),
// until the TTL, which is Obtain's deadline when the context has none.
func handoffRedislock(tb testing.TB, e *env) prepared {
	c := redislock.New(e.rdb)
	key := "redislock:" + e.id("hl")
	opt := &redislock.Options{RetryStrategy: redislock.LinearBackoff(time.Millisecond)}
	var x exclusive
	return prepared{
		op: func() error {
			l, err := c.Obtain(e.ctx, key, peerLockTTL, opt)
			if err != nil {
				return err
			}
			return x.hold(func() error { return l.Release(e.ctx) })
		},
		check: func() error { return noKeys(e, key) },
	}
}

// handoffRueidis waits with WithContext, which tries again when client-side
// caching reports the key changed, or when a release of the same Locker
// wakes it. A wait that has not ended after peerRewait is given up and
// begun again, and one op waits at most peerWaitLimit in all.
//
// rueidislock (v1.0.79) loses wake-ups: the goroutine that ends a failed
// attempt (monitoring, in lock.go) reads the attempt's failure count
// before try has added the failure, and then counts the waiter out of its
// gate a second time and wakes another; the count drifts to zero while
// goroutines still wait, and the gate is dropped with them on it. Every
// later release wakes the new gate, and within one client (NoLoopTracking)
// no invalidation arrives, so they waited until peerWaitLimit: on a loaded
// machine TestScenariosRun's Handoff8/rueidislock failed so 3 times in 40.
// Waiting again, as a user would, finds the current gate. The wait's
// context has no deadline (a deadline would also bound the lock, which
// rueidislock cancels when it passes): a timer cancels it, and a lock
// won just as the timer fired (its context cancelled, so released) is
// waited for again.
func handoffRueidis(tb testing.TB, e *env) prepared {
	l := rueidisLocker(tb, e)
	name := e.id("hu")
	var x exclusive
	var ops, rewaits atomic.Int64
	return prepared{
		op: func() error {
			ops.Add(1)
			limit := time.Now().Add(peerWaitLimit)
			for {
				ctx, stop := context.WithCancel(e.ctx)
				timer := time.AfterFunc(peerRewait, stop)
				_, cancel, err := l.WithContext(ctx, name)
				if err == nil && timer.Stop() {
					return x.hold(func() error { cancel(); stop(); return nil })
				}
				if err == nil {
					cancel()
				}
				stop()
				if err != nil && !errors.Is(err, context.Canceled) {
					return fmt.Errorf("rueidislock hand-off: %w", err)
				}
				if e.ctx.Err() != nil || time.Now().After(limit) {
					return fmt.Errorf("rueidislock hand-off: no lock after %v", peerWaitLimit)
				}
				rewaits.Add(1)
			}
		},
		metrics: func() map[string]float64 {
			return map[string]float64{"rewaits/op": float64(rewaits.Load()) / float64(max(ops.Load(), 1))}
		},
		reset:    func() { ops.Store(0); rewaits.Store(0) },
		check:    func() error { return noKeys(e, "rueidislock:0:"+name) },
		commands: rueidisCommands,
	}
}

// peerRewait is how long a rueidislock waiter of the hand-off rows waits
// before it waits again (see handoffRueidis): far longer than a wait for
// seven holders in turn, even under the race detector.
const peerRewait = time.Second

// TestLockPeerRows measures the peer table's two lock rows alone, as
// TestPeerTable does (the same sides, rounds and bench time), for a lock
// change that needs no run of the whole table:
//
//	RAPYER_BENCH_LOCKPEERS=1 RAPYER_BENCH_ROUNDS=5 RAPYER_BENCH_TIME=200ms go test -count=1 -run '^TestLockPeerRows$' -v ./bench/
func TestLockPeerRows(t *testing.T) {
	if os.Getenv("RAPYER_BENCH_LOCKPEERS") != "1" {
		t.Skip("set RAPYER_BENCH_LOCKPEERS=1 to measure the lock rows of the peer table")
	}
	var list []peerScenario
	for _, ps := range peerScenarios {
		if ps.name == "LockOnce" || ps.name == "LockOnceNoFence" || ps.name == "Handoff8" {
			list = append(list, ps)
		}
	}
	printPeerRows(t, list)
}
