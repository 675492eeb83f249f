package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

var (
	BalanceL = lens.Of(func(a *Account) *int { return &a.Balance })
)

func TestModelLockSerialisesOneActionAndNotTwo(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{Wait: 5 * time.Minute}})
		if err := m.Save(ctx, "a", Account{}); err != nil {
			t.Fatal(err)
		}
		var inside, maxInside atomic.Int32
		// Sized for two cores under -race on a busy machine: 50 workers of
		// 20 rounds made a waiter wait over a minute on miniredis there. The
		// wait is a generous deadline, not a timing: the test asserts only
		// that holders never overlap and no update is lost.
		const workers, rounds = 16, 20 // 320 lock cycles
		testenv.Workers(t, workers, func(int) error {
			for range rounds {
				_, err := m.Lock(ctx, "a", "count", func(_ context.Context, a *Account) error {
					n := inside.Add(1)
					for {
						old := maxInside.Load()
						if n <= old || maxInside.CompareAndSwap(old, n) {
							break
						}
					}
					a.Balance++
					inside.Add(-1)
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if got := maxInside.Load(); got != 1 {
			t.Fatalf("%d holders were inside at once", got)
		}
		a, err := m.Get(ctx, "a")
		if err != nil || a.Balance != workers*rounds {
			t.Fatalf("balance %d (%v), want %d: a lost update", a.Balance, err, workers*rounds)
		}

		// Two different actions on one model are inside together: each waits
		// inside its section until it sees the other there.
		var profile, views atomic.Bool
		var two sync.WaitGroup
		deadline := time.Now().Add(30 * time.Second)
		both := func(mine, other *atomic.Bool) func(context.Context, *Account) error {
			return func(context.Context, *Account) error {
				mine.Store(true)
				for !other.Load() {
					if time.Now().After(deadline) {
						return errors.New("the other action never came in")
					}
					time.Sleep(time.Millisecond)
				}
				return nil
			}
		}
		var e1, e2 error
		two.Add(2)
		go func() { defer two.Done(); _, e1 = m.Lock(ctx, "a", "profile", both(&profile, &views)) }()
		go func() { defer two.Done(); _, e2 = m.Lock(ctx, "a", "views", both(&views, &profile)) }()
		two.Wait()
		if e1 != nil || e2 != nil {
			t.Fatalf("different actions did not run side by side: %v / %v", e1, e2)
		}
	})
}

func TestModelLockIsTwoRoundTripsAndSavesOnlyTheDiff(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Owner: "x", Balance: 10, History: []string{"open"}, Limits: map[string]int{"day": 1, "week": 5}}); err != nil {
			t.Fatal(err)
		}
		// Warm the scripts, then count.
		if _, err := m.Lock(ctx, "a", "w", func(context.Context, *Account) error { return nil }); err != nil {
			t.Fatal(err)
		}
		counter := testenv.CountRoundTrips(b.Client)
		_, err := m.Lock(ctx, "a", "withdraw", func(_ context.Context, a *Account) error {
			// A concurrent writer changes the owner while we hold the lock for
			// another purpose: our save must not overwrite it.
			if _, err := m.Exec(ctx, "a", tx.Of(ops.Set(lens.Of(func(a *Account) *string { return &a.Owner }), "y"))); err != nil {
				return err
			}
			a.Balance -= 3
			a.History = append(a.History, "withdraw:3")
			a.Limits["day"] = 2
			delete(a.Limits, "week")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if c := counter.Count(); c != 3 { // 2 for the lock, 1 for the writer inside
			t.Fatalf("lock, write inside, save took %d round trips: %v", c, counter.Commands())
		}
		got, _ := m.Get(ctx, "a")
		if got.Owner != "y" || got.Balance != 7 || len(got.History) != 2 || got.Limits["day"] != 2 || len(got.Limits) != 1 {
			t.Fatalf("after the lock: %+v", got)
		}
	})
}

func TestModelLockFailureSavesNothingAndReleases(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{Wait: lock.NoWait}})
		if err := m.Save(ctx, "a", Account{Balance: 10}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		_, err := m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error { a.Balance = 0; return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("fn's error: %v", err)
		}
		func() {
			defer func() {
				if r := recover(); r != "panic in fn" {
					t.Fatalf("the panic did not go on: %v", r)
				}
			}()
			_, _ = m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error { a.Balance = 0; panic("panic in fn") })
		}()
		if got, _ := m.Get(ctx, "a"); got.Balance != 10 {
			t.Fatalf("a failed section saved: %+v", got)
		}
		// The lock is free again: NoWait would fail otherwise.
		if _, err := m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error { a.Balance = 11; return nil }); err != nil {
			t.Fatalf("the lock was not released: %v", err)
		}
		if _, err := m.Lock(ctx, "nobody", "w", func(context.Context, *Account) error { return nil }); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("lock of a missing model: %v", err)
		}
		root, _ := m.Key("nobody")
		if n := b.Client.Exists(ctx, root, root+":lock:w").Val(); n != 0 {
			t.Fatalf("a lock of a missing model left %d keys", n)
		}
		if _, err := m.Lock(ctx, "a", "bad action", func(context.Context, *Account) error { return nil }); !errors.Is(err, rapyer.ErrInvalid) {
			t.Fatalf("a bad action: %v", err)
		}
	})
}

func TestStalledHolderLosesTheLockAndItsSaveIsRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		const ttl = 300 * time.Millisecond
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{TTL: ttl, Wait: time.Minute}})
		if err := m.Save(ctx, "a", Account{Balance: 10}); err != nil {
			t.Fatal(err)
		}
		root, _ := m.Key("a")
		lockKey := root + ":lock:w"
		stalled := make(chan struct{})
		second := make(chan error, 1)
		_, err := m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error {
			a.Balance = 999 // the stale write
			// Stall until the lock expired and another holder took it.
			if b.Mini != nil {
				b.Mini.FastForward(2 * ttl)
			}
			go func() {
				_, err := m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error {
					close(stalled)
					a.Balance = 20
					return nil
				})
				second <- err
			}()
			select {
			case <-stalled:
			case <-time.After(30 * time.Second):
				return errors.New("nobody took the expired lock")
			}
			// Wait until the second holder is done and its save is in.
			if err := <-second; err != nil {
				return err
			}
			return nil
		})
		if !errors.Is(err, rapyer.ErrLockLost) || !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("a stale holder's save: %v", err)
		}
		got, _ := m.Get(ctx, "a")
		if got.Balance != 20 {
			t.Fatalf("balance %d: the stale save got in", got.Balance)
		}
		if n := b.Client.Exists(ctx, lockKey).Val(); n != 0 {
			t.Fatal("the lock key is still there after both holders ended")
		}
	})
}

func TestLockAllTransfersNeverDeadlock(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{Wait: time.Minute}})
		ids := make([]string, 10)
		for i := range ids {
			ids[i] = fmt.Sprintf("acc%d", i)
			if err := m.Save(ctx, ids[i], Account{Balance: 100}); err != nil {
				t.Fatal(err)
			}
		}
		seed := testenv.Seed(t)
		// 8 x 500 on the real tiers; miniredis serves every command on one
		// lock and is slower under -race, so it runs a fifth.
		const workers = 8
		each := 500
		if b.Kind == testenv.Mini {
			each = 100
		}
		testenv.Workers(t, workers, func(w int) error {
			r := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
			for range each {
				i, j := r.IntN(len(ids)), r.IntN(len(ids)-1)
				if j >= i {
					j++
				}
				amount := 1 + r.IntN(50)
				var from, to Account
				_, err := rapyer.LockAll(ctx, "transfer", []rapyer.Held{m.Hold(ids[i], &from), m.Hold(ids[j], &to)}, func(context.Context) error {
					if from.Balance < amount {
						return nil // not enough: nothing changes
					}
					from.Balance -= amount
					to.Balance += amount
					return nil
				}, rapyer.WithWait(time.Minute))
				if err != nil {
					return err
				}
			}
			return nil
		})
		found, _, err := m.GetMany(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0
		for _, e := range found {
			if a := e.Value; a.Balance < 0 {
				t.Fatalf("negative balance %d", a.Balance)
			}
			sum += e.Value.Balance
		}
		if sum != 100*len(ids) {
			t.Fatalf("sum %d, want %d", sum, 100*len(ids))
		}
	})
}

var _ = BalanceL

func TestLockContextEndsWhenTheLockIsLost(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct",
			Lock: lock.Options{TTL: 600 * time.Millisecond, AutoExtend: true}})
		if err := m.Save(ctx, "a", Account{Balance: 1}); err != nil {
			t.Fatal(err)
		}
		root, _ := m.Key("a")
		_, err := m.Lock(ctx, "a", "long", func(ctx context.Context, a *Account) error {
			a.Balance = 2
			// Someone deletes the lock by hand; the watchdog notices at its
			// next extension and ends our context.
			b.Client.Del(ctx, root+":lock:long")
			select {
			case <-ctx.Done():
				if !errors.Is(context.Cause(ctx), rapyer.ErrNotHeld) {
					return fmt.Errorf("cause %v", context.Cause(ctx))
				}
				return nil // try to save anyway: the fence must refuse it
			case <-time.After(30 * time.Second):
				return errors.New("the context never ended")
			}
		})
		if !errors.Is(err, rapyer.ErrLockLost) {
			t.Fatalf("the save after a lost lock: %v", err)
		}
		if got, _ := m.Get(ctx, "a"); got.Balance != 1 {
			t.Fatalf("a save after the lock was lost got in: %+v", got)
		}
	})
}
