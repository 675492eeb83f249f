package tx_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestNegativeRetryIsInvalidLikeOtherNegativeOptions: a tx.Retry with a
// negative field (or a Backoff longer than its MaxBackoff) is refused by
// Exec and Optimistic with ErrInvalid naming the field, before anything is
// sent and before read runs, as a negative lock TTL is; it used to be taken
// as the default (16 attempts, 1ms), so the same mistake passed here and
// failed in lock.Options. A zero Retry, and the named negative values of
// the other fields (NoRecord, NoResends, Unlimited), still run. On every
// tier.
func TestNegativeRetryIsInvalidLikeOtherNegativeOptions(t *testing.T) {
	bad := map[string]tx.Retry{
		"Attempts":   {Attempts: -1},
		"Backoff":    {Backoff: -time.Millisecond},
		"MaxBackoff": {MaxBackoff: -time.Second},
		"Backoff ":   {Backoff: time.Second, MaxBackoff: time.Millisecond},
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Balance: 5}); err != nil {
			t.Fatal(err)
		}
		root := m.Target("a").Root()
		read := func(redis.Pipeliner) func() (tx.Batch, error) {
			t.Error("read ran for refused options")
			return func() (tx.Batch, error) { return tx.Batch{}, nil }
		}
		trips := testenv.CountRoundTrips(b.Client)
		for field, r := range bad {
			want := "tx.Options.Retry." + strings.TrimSpace(field)
			opts := tx.Options{Retry: r}
			_, err := tx.Exec(ctx, b.Client, tx.On(tx.At[Account](root), ops.Incr(Balance, 1)), opts)
			if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), want) {
				t.Errorf("Exec with Retry %+v: %v; want ErrInvalid naming %s", r, err, want)
			}
			_, err = tx.Optimistic(ctx, b.Client, []string{root}, read, opts)
			if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), want) {
				t.Errorf("Optimistic with Retry %+v: %v; want ErrInvalid naming %s", r, err, want)
			}
		}
		if n := trips.Count(); n != 0 {
			t.Errorf("refused executions sent %s", trips)
		}
		named := tx.Options{Record: tx.NoRecord, Resends: tx.NoResends, Budget: tx.Budget{Bytes: tx.Unlimited, Moves: tx.Unlimited}}
		if _, err := tx.Exec(ctx, b.Client, tx.On(tx.At[Account](root), ops.Incr(Balance, 1)), named); err != nil {
			t.Errorf("Exec with the named negative values: %v", err)
		}
		if a, err := m.Get(ctx, "a"); err != nil || a.Balance != 6 {
			t.Errorf("a: %+v, %v; want balance 6: only the run with valid options applied", a, err)
		}
	})
}
