package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// A lock's wait key (the flag of its waiters) turned into another Redis
// type while a waiter waits, of another client or of the holder's own:
// the release still hands the lock on, the waiter takes it (or fails
// typed) within its patience, and no watchdog or hub goroutine is left.
func TestS21WaitKeyOfTheWrongTypeWhileWaiting(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, plant := range []string{"list", "hash", "set", "garbage"} {
			for _, own := range []bool{false, true} {
				key := lockKey(b, "s21wait"+plant)
				holder := b.NewClient(t, nil)
				waiterC := holder
				if !own {
					waiterC = b.NewClient(t, nil)
				}
				held := mustAcquire(t, holder, key, lock.Options{TTL: time.Minute, AutoExtend: true})
				got := make(chan *lock.Lock, 1)
				errs := make(chan error, 1)
				go func() {
					l, err := lock.Acquire(t.Context(), waiterC, key, lock.Options{Wait: time.Minute, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, AutoExtend: true})
					if err != nil {
						errs <- err
						return
					}
					got <- l
				}()
				testenv.Eventually(t, "the waiter flagged the wait key", func() bool {
					return b.Client.Exists(t.Context(), key+":fence:wait").Val() == 1
				})
				testenv.Plant(t.Context(), b.Client, key+":fence:wait", plant)
				time.Sleep(30 * time.Millisecond) // a few polls of the waiter
				testenv.Plant(t.Context(), b.Client, key+":fence:wait", plant)
				if err := held.Release(t.Context()); err != nil {
					t.Fatalf("%s (own %v): release: %v", plant, own, err)
				}
				select {
				case l := <-got:
					if l.Fence() <= held.Fence() {
						t.Fatalf("%s (own %v): fence %d not above %d", plant, own, l.Fence(), held.Fence())
					}
					if err := l.Release(t.Context()); err != nil {
						t.Fatalf("%s (own %v): %v", plant, own, err)
					}
				case err := <-errs:
					if !errors.Is(err, rapyer.ErrWrongType) && !errors.Is(err, rapyer.ErrCorrupt) {
						t.Fatalf("%s (own %v): waiter: %v", plant, own, err)
					}
				case <-time.After(patience):
					t.Fatalf("%s (own %v): the waiter did not get the lock", plant, own)
				}
				noWatchdog(t)
				testenv.Eventually(t, "the wake-up reader goroutines ended", func() bool {
					return !stacksContain("lock.(*hub).read(")
				})
				b.Client.Del(t.Context(), key, key+":fence:wait")
			}
		}
	})
}

// A fence key of another Redis type, planted while a waiter waits: the
// waiter fails typed (ErrWrongType or ErrCorrupt) when it next tries,
// takes no lock, and leaves no watchdog.
func TestS21FenceKeyOfTheWrongTypeWhileWaiting(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, plant := range []string{"list", "hash", "set"} {
			key := lockKey(b, "s21fence"+plant)
			held := mustAcquire(t, b.Client, key, lock.Options{TTL: time.Minute, NoFence: true})
			errs := make(chan error, 1)
			go func() {
				l, err := lock.Acquire(t.Context(), b.NewClient(t, nil), key, lock.Options{Wait: time.Minute, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, AutoExtend: true})
				if err == nil {
					_ = l.Release(context.Background())
				}
				errs <- err
			}()
			testenv.Eventually(t, "the waiter flagged the wait key", func() bool {
				return b.Client.Exists(t.Context(), key+":fence:wait").Val() == 1
			})
			testenv.Plant(t.Context(), b.Client, key+":fence", plant)
			if err := held.Release(t.Context()); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-errs:
				if !errors.Is(err, rapyer.ErrWrongType) && !errors.Is(err, rapyer.ErrCorrupt) {
					t.Fatalf("%s: waiter: %v, want ErrWrongType or ErrCorrupt", plant, err)
				}
			case <-time.After(patience):
				t.Fatalf("%s: the waiter did not end", plant)
			}
			if n := b.Client.Exists(t.Context(), key).Val(); n != 0 {
				t.Fatalf("%s: the lock key is left", plant)
			}
			if ty := b.Client.Type(t.Context(), key+":fence").Val(); ty != plant {
				t.Fatalf("%s: the fence key became a %s", plant, ty)
			}
			noWatchdog(t)
			b.Client.Del(t.Context(), key+":fence", key+":fence:wait")
		}
	})
}
