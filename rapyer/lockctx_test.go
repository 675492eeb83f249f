package rapyer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestLockContextIsBoundOnlyWhenAskedFor: a Lock whose function never
// looks at its context allocates fewer times than one that does (binding
// it to the lock costs a context, cancel functions and a timer), so the
// context is bound only when asked for. On the code that bound it before
// calling fn the two cost the same. Not under -race, whose sync.Pool drops
// items at random, nor on miniredis, whose server in this process
// allocates too, a varying number of times.
func TestLockContextIsBoundOnlyWhenAskedFor(t *testing.T) {
	if raceOn {
		t.Skip("allocations are not counted under -race")
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		if b.Mini != nil {
			t.Skip("miniredis allocates in this process")
		}
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Balance: 1}); err != nil {
			t.Fatal(err)
		}
		count := func(fn func(context.Context, *Account) error) float64 {
			return testing.AllocsPerRun(50, func() {
				if _, err := m.Lock(ctx, "a", "x", fn); err != nil {
					t.Fatal(err)
				}
			})
		}
		unasked := count(func(_ context.Context, a *Account) error { a.Balance++; return nil })
		asked := count(func(ctx context.Context, a *Account) error { a.Balance++; return ctx.Err() })
		t.Logf("allocations per Lock: fn ignores its context %.0f, asks it %.0f", unasked, asked)
		if unasked >= asked {
			t.Errorf("a Lock whose fn ignores its context allocates %.0f times, one that asks it %.0f: the context is bound before it is asked for", unasked, asked)
		}
	})
}

// TestLockContextAskedLateStillTellsTheTruth: the context fn gets, first
// asked for after the lock's TTL ran out by the local clock, is ended with
// a cause wrapping ErrNotHeld, as a context bound at the start is by its
// timer; one fn leaves behind is ended once Lock returns, whether first
// asked for before or after; and goroutines asking for it while fn returns
// race with nothing (go test -race).
func TestLockContextAskedLateStillTellsTheTruth(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct",
			Lock: lock.Options{TTL: 200 * time.Millisecond}})
		if err := m.Save(ctx, "a", Account{Balance: 1}); err != nil {
			t.Fatal(err)
		}
		var cause error
		_, err := m.Lock(ctx, "a", "slow", func(ctx context.Context, a *Account) error {
			time.Sleep(300 * time.Millisecond) // past the TTL: the lock is lost by the local clock
			cause = context.Cause(ctx)
			return nil
		})
		if !errors.Is(cause, rapyer.ErrNotHeld) {
			t.Fatalf("the context asked for after the TTL: cause %v", cause)
		}
		if !errors.Is(err, rapyer.ErrLockLost) && err != nil {
			t.Fatalf("the save after the TTL: %v", err)
		}
		var left context.Context
		var wg sync.WaitGroup
		_, err = m.Lock(ctx, "a", "leave", func(ctx context.Context, a *Account) error {
			left = ctx
			for range 4 {
				wg.Go(func() { <-ctx.Done() })
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Wait() // each Done ends once Lock returned
		if !errors.Is(left.Err(), context.Canceled) || !errors.Is(context.Cause(left), context.Canceled) {
			t.Fatalf("the context left behind: %v, cause %v", left.Err(), context.Cause(left))
		}
		_, err = m.Lock(ctx, "a", "late", func(ctx context.Context, a *Account) error { left = ctx; return nil })
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-left.Done():
		default:
			t.Fatal("a context first asked for after Lock returned is not ended")
		}
		if !errors.Is(left.Err(), context.Canceled) {
			t.Fatalf("the context first asked for after Lock returned: %v", left.Err())
		}
	})
}
