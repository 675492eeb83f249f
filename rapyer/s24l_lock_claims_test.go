package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// s24lGoexit runs call in a goroutine of its own and waits for it to end:
// a function under the lock that calls runtime.Goexit (t.FailNow, t.Skip
// inside fn do) ends that goroutine, not the test's.
func s24lGoexit(call func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		call()
	}()
	<-done
}

// s24lStep moves miniredis' clock on by d (its keys expire only when told);
// the real servers keep their own time.
func s24lStep(b *testenv.Backend, d time.Duration) {
	if b.Mini != nil {
		b.Mini.FastForward(d)
	}
}

// TestS24lGoexitInFnLeavesNoLock: fn that leaves by runtime.Goexit (a
// t.FailNow or t.Skip inside it) is neither a return nor a panic. Model.Lock
// and LockAll must still save nothing and release the locks before the
// goroutine ends, and stop an AutoExtend watchdog; they used to leave the
// lock held (the watchdog kept it for ever), since the clean-up only ran on
// a recovered panic. On every tier.
func TestS24lGoexitInFnLeavesNoLock(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{TTL: 2 * time.Second}})
		for _, id := range []string{"a", "b"} {
			if err := m.Save(ctx, id, Account{Balance: 10}); err != nil {
				t.Fatal(err)
			}
		}
		for _, extend := range []bool{false, true} {
			var opt []rapyer.Option
			if extend {
				opt = append(opt, rapyer.WithAutoExtend())
			}
			s24lGoexit(func() {
				_, _ = m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error {
					a.Balance = 0
					runtime.Goexit()
					return nil
				}, opt...)
			})
			var x, y Account
			s24lGoexit(func() {
				_, _ = rapyer.LockAll(ctx, "w", []rapyer.Held{m.Hold("a", &x), m.Hold("b", &y)}, func(context.Context) error {
					x.Balance, y.Balance = 0, 0
					runtime.Goexit()
					return nil
				}, opt...)
			})
			for _, id := range []string{"a", "b"} {
				root, _ := m.Key(id)
				if n := b.Client.Exists(ctx, root+":lock:w").Val(); n != 0 {
					t.Errorf("AutoExtend %v: fn left by Goexit, and the lock of %s is still held", extend, id)
				}
				if got, err := m.Get(ctx, id); err != nil || got.Balance != 10 {
					t.Errorf("AutoExtend %v: fn left by Goexit, and %s is %+v, %v; want it untouched", extend, id, got, err)
				}
			}
		}
	})
}

// TestS24lReentrantLockWaitsAndFails: locks are not reentrant (lock/doc.go,
// docs/locks.md). A Model.Lock of the model and action fn already holds,
// called inside fn, waits like any other caller and ends with
// ErrNotAcquired after its wait, without deadlocking or taking the lock
// from the holder, whose save then goes through; so do a LockAll over it
// and a lock.Acquire of its key. Another action of the same model is
// another lock and is taken. On every tier.
func TestS24lReentrantLockWaitsAndFails(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Balance: 10}); err != nil {
			t.Fatal(err)
		}
		root, _ := m.Key("a")
		short := rapyer.WithWait(150 * time.Millisecond)
		_, err := m.Lock(ctx, "a", "w", func(ctx context.Context, a *Account) error {
			_, err := m.Lock(ctx, "a", "w", func(context.Context, *Account) error { return nil }, short)
			if !errors.Is(err, rapyer.ErrNotAcquired) {
				return fmt.Errorf("inner Model.Lock of the held action: %v; want ErrNotAcquired", err)
			}
			var v Account
			_, err = rapyer.LockAll(ctx, "w", []rapyer.Held{m.Hold("a", &v)}, func(context.Context) error { return nil }, short)
			if !errors.Is(err, rapyer.ErrNotAcquired) {
				return fmt.Errorf("inner LockAll of the held action: %v; want ErrNotAcquired", err)
			}
			l, err := lock.Acquire(ctx, b.Client, root+":lock:w", lock.Options{Wait: 150 * time.Millisecond})
			if !errors.Is(err, rapyer.ErrNotAcquired) || l != nil {
				return fmt.Errorf("inner lock.Acquire of the held key: %v, %v; want ErrNotAcquired", l, err)
			}
			_, err = m.Lock(ctx, "a", "other", func(_ context.Context, o *Account) error { o.Owner = "inner"; return nil }, short)
			if err != nil {
				return fmt.Errorf("inner Model.Lock of another action: %w", err)
			}
			a.Balance = 11
			return nil
		})
		if err != nil {
			t.Fatalf("outer Lock: %v", err)
		}
		got, err := m.Get(ctx, "a")
		if err != nil || got.Balance != 11 || got.Owner != "inner" {
			t.Fatalf("after the inner calls: %+v, %v; want Balance 11 (outer) and Owner inner (other action)", got, err)
		}
		if n := b.Client.Exists(ctx, root+":lock:w", root+":lock:other").Val(); n != 0 {
			t.Fatalf("%d lock keys left after reentrant calls", n)
		}
	})
}

// TestS24lContextEndsMidFn: the caller's context cancelled, or its deadline
// passed, while fn runs, and fn returns nil anyway. Whatever the call
// reports must be the truth (an error: nothing saved, and it says why with
// the context's error; nil: saved), and no lock is left held. On every tier.
func TestS24lContextEndsMidFn(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{TTL: 5 * time.Second}})
		for i, deadline := range []bool{false, true} {
			for _, extend := range []bool{false, true} {
				id := fmt.Sprintf("c%d%v", i, extend)
				if err := m.Save(context.Background(), id, Account{Balance: 10}); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				want := context.Canceled
				if deadline {
					ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
					want = context.DeadlineExceeded
				}
				var opt []rapyer.Option
				if extend {
					opt = append(opt, rapyer.WithAutoExtend())
				}
				_, err := m.Lock(ctx, id, "w", func(fctx context.Context, a *Account) error {
					a.Balance = 20
					if !deadline {
						cancel()
					}
					<-fctx.Done() // fn's context ends with the caller's
					return nil
				}, opt...)
				cancel()
				got, gerr := m.Get(context.Background(), id)
				switch {
				case gerr != nil:
					t.Fatal(gerr)
				case err == nil && got.Balance != 20:
					t.Errorf("%s: Lock returned nil but saved nothing: %+v", id, got)
				case err != nil && (got.Balance != 10 || !errors.Is(err, want)):
					t.Errorf("%s: Lock: %v with %+v stored; want nothing saved and an error wrapping %v", id, err, got, want)
				}
				root, _ := m.Key(id)
				if n := b.Client.Exists(context.Background(), root+":lock:w").Val(); n != 0 {
					t.Errorf("%s: the lock is still held after a context that ended mid-fn", id)
				}
			}
		}
	})
}

// TestS24lSaveAfterTheTTLIsRefused: a holder whose lock expired while fn
// ran, with nobody else taking it since, still holds nothing: its save is
// refused with ErrLockLost wrapping ErrNotHeld, nothing is written, and no
// lock key is left. Only the case of another holder taking the lock was
// tested. On every tier.
func TestS24lSaveAfterTheTTLIsRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Balance: 10}); err != nil {
			t.Fatal(err)
		}
		root, _ := m.Key("a")
		_, err := m.Lock(ctx, "a", "w", func(fctx context.Context, a *Account) error {
			a.Balance = 99
			<-fctx.Done() // the TTL passed by the local clock
			deadline := time.Now().Add(30 * time.Second)
			for b.Client.Exists(ctx, root+":lock:w").Val() != 0 && time.Now().Before(deadline) {
				s24lStep(b, 10*time.Millisecond) // miniredis: let its clock pass the TTL
				time.Sleep(10 * time.Millisecond)
			}
			return nil
		}, rapyer.WithLockTTL(100*time.Millisecond))
		if !errors.Is(err, rapyer.ErrLockLost) || !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("save after the TTL: %v; want ErrLockLost and ErrNotHeld", err)
		}
		if got, _ := m.Get(ctx, "a"); got.Balance != 10 {
			t.Fatalf("a save after the TTL wrote %+v", got)
		}
		if n := b.Client.Exists(ctx, root+":lock:w").Val(); n != 0 {
			t.Fatal("a lock key is left")
		}
	})
}

// TestS24lExtremeLockTTLs: a Model.Lock TTL past what a lock can live is
// refused with ErrInvalid before anything is sent, fn not called; a TTL of
// a nanosecond is taken as the shortest a lock can have (a millisecond):
// the call then ends typed, saving only with the lock held, and leaves no
// lock key behind. On every tier.
func TestS24lExtremeLockTTLs(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Balance: 10}); err != nil {
			t.Fatal(err)
		}
		trips := testenv.CountRoundTrips(b.Client)
		called := false
		_, err := m.Lock(ctx, "a", "w", func(context.Context, *Account) error { called = true; return nil },
			rapyer.WithLockTTL(time.Duration(math.MaxInt64)))
		if !errors.Is(err, rapyer.ErrInvalid) || called || trips.Count() != 0 {
			t.Fatalf("TTL of MaxInt64: %v, fn called %v, sent %s; want ErrInvalid, nothing sent", err, called, trips)
		}
		root, _ := m.Key("a")
		for range 20 {
			_, err := m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error { a.Balance++; return nil },
				rapyer.WithLockTTL(time.Nanosecond))
			if err != nil && !errors.Is(err, rapyer.ErrLockLost) && !errors.Is(err, rapyer.ErrNotAcquired) {
				t.Fatalf("TTL of 1ns: %v; want nil, ErrLockLost or ErrNotAcquired", err)
			}
		}
		s24lStep(b, 10*time.Millisecond)
		deadline := time.Now().Add(30 * time.Second)
		for b.Client.Exists(ctx, root+":lock:w").Val() != 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if ttl := b.Client.PTTL(ctx, root+":lock:w").Val(); ttl != -2*time.Nanosecond && ttl != -2*time.Millisecond {
			t.Fatalf("a lock key of a 1ns lock lives on (PTTL %v)", ttl)
		}
	})
}

// TestS24lOneVariableHeldTwiceIsRefused: LockAll loads each model into its
// variable and saves what fn changed in it; two models held into one
// variable would load the second over the first, and the save would write
// the second model's fields into the first. LockAll must refuse that with
// ErrInvalid before taking anything, like a model held twice. On every tier.
func TestS24lOneVariableHeldTwiceIsRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Owner: "alice", Balance: 10}); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ctx, "b", Account{Owner: "bob", Balance: 20}); err != nil {
			t.Fatal(err)
		}
		trips := testenv.CountRoundTrips(b.Client)
		var v Account
		called := false
		_, err := rapyer.LockAll(ctx, "w", []rapyer.Held{m.Hold("a", &v), m.Hold("b", &v)}, func(context.Context) error {
			called = true
			v.Balance++
			return nil
		})
		if !errors.Is(err, rapyer.ErrInvalid) || called || trips.Count() != 0 {
			t.Errorf("two models into one variable: %v, fn called %v, sent %s; want ErrInvalid, nothing sent", err, called, trips)
		}
		for id, want := range map[string]Account{"a": {Owner: "alice", Balance: 10}, "b": {Owner: "bob", Balance: 20}} {
			if got, err := m.Get(ctx, id); err != nil || got.Owner != want.Owner || got.Balance != want.Balance {
				t.Errorf("%s is %+v, %v; want %+v", id, got, err, want)
			}
		}
	})
}
