package rapyer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// docs/atomicity.md section 4: an update that meets a concurrent write
// starts again, "up to tx.Retry.Attempts (16 by default), then fails with
// rapyer.ErrConflict; Result.Attempts says how many it took". Pinned here:
// the function runs exactly Attempts times (16 for the zero Retry, the
// Attempts of WithRetry otherwise), none of its batches is applied, and an
// update that wins at attempt k reports Attempts == k.
func TestS24aUpdateStopsAtItsAttempts(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "s24aupd"})
		balance := lens.Of(func(a *Account) *int { return &a.Balance })
		owner := lens.Of(func(a *Account) *string { return &a.Owner })
		if err := m.Save(ctx, "a", Account{Owner: "x", Balance: 100}); err != nil {
			t.Fatal(err)
		}
		// conflicting writes the Owner behind the update's back, between its
		// read and its EXEC, for the first `conflicts` calls
		run := func(conflicts int, opt ...rapyer.Option) (int, *tx.Result, error) {
			calls := 0
			res, err := m.Update(ctx, "a", func(a Account) (tx.Batch, error) {
				calls++
				if calls <= conflicts {
					if _, err := m.Exec(ctx, "a", tx.Of(ops.Set(owner, "w"))); err != nil {
						return tx.Batch{}, err
					}
				}
				return tx.Of(ops.Incr(balance, 1)), nil
			}, opt...)
			return calls, res, err
		}
		fast := tx.Retry{Backoff: time.Microsecond, MaxBackoff: time.Microsecond}
		calls, _, err := run(1000, rapyer.WithRetry(fast))
		if !errors.Is(err, rapyer.ErrConflict) || calls != tx.DefaultAttempts {
			t.Fatalf("default retry: %d calls, %v; want %d calls and ErrConflict", calls, err, tx.DefaultAttempts)
		}
		three := fast
		three.Attempts = 3
		calls, _, err = run(1000, rapyer.WithRetry(three))
		if !errors.Is(err, rapyer.ErrConflict) || calls != 3 {
			t.Fatalf("Attempts 3: %d calls, %v; want 3 calls and ErrConflict", calls, err)
		}
		if got, _ := m.Get(ctx, "a"); got.Balance != 100 {
			t.Fatalf("failed updates stored %+v", got)
		}
		calls, res, err := run(2, rapyer.WithRetry(three))
		if err != nil || calls != 3 || res.Attempts != 3 {
			t.Fatalf("won at the third attempt: %d calls, %+v, %v", calls, res, err)
		}
		if got, _ := m.Get(ctx, "a"); got.Balance != 101 {
			t.Fatalf("one applied update stored %+v", got)
		}
	})
}

// An update whose last attempt met a conflict fails with ErrConflict at
// once: it does not first wait out a backoff no attempt follows. With one
// attempt and a backoff of an hour, the old loop slept after the last
// attempt until the call's context ended (ErrNotSent wrapping the deadline,
// not ErrConflict). The deadline is generous: the check is on the error.
func TestS24aUpdateDoesNotWaitAfterItsLastAttempt(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "s24alast"})
		owner := lens.Of(func(a *Account) *string { return &a.Owner })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := m.Save(ctx, "a", Account{Owner: "x"}); err != nil {
			t.Fatal(err)
		}
		_, err := m.Update(ctx, "a", func(a Account) (tx.Batch, error) {
			if _, err := m.Exec(ctx, "a", tx.Of(ops.Set(owner, "w"))); err != nil {
				return tx.Batch{}, err
			}
			return tx.Of(ops.Set(owner, "u")), nil
		}, rapyer.WithRetry(tx.Retry{Attempts: 1, Backoff: time.Hour, MaxBackoff: time.Hour}))
		if !errors.Is(err, rapyer.ErrConflict) {
			t.Fatalf("%v; want ErrConflict", err)
		}
		// and a context that ends during a backoff ends the update with
		// ErrNotSent wrapping the context's error (nothing applied)
		short, stop := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer stop()
		_, err = m.Update(short, "a", func(a Account) (tx.Batch, error) {
			if _, err := m.Exec(ctx, "a", tx.Of(ops.Set(owner, "w"))); err != nil {
				return tx.Batch{}, err
			}
			return tx.Of(ops.Set(owner, "u")), nil
		}, rapyer.WithRetry(tx.Retry{Attempts: 2, Backoff: time.Hour, MaxBackoff: time.Hour}))
		if !errors.Is(err, rapyer.ErrNotSent) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v; want ErrNotSent wrapping the deadline", err)
		}
		if got, _ := m.Get(ctx, "a"); got.Owner != "w" {
			t.Fatalf("stored %+v, want the conflicting writer's owner", got)
		}
	})
}
