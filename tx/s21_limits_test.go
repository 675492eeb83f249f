package tx_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/optcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestARecordPastItsLongestLifetimeIsRefused: a Record longer than
// optcheck.MaxRecord (some 194 years; math.MaxInt64 among them) is refused
// by Exec and Optimistic with ErrInvalid naming Record and its limit,
// before anything is sent (no round trip, the model unchanged, no record
// key). It was taken, and the client's count of a pooled record key's
// lifetime (half as long again, and the lifetime and a tenth) wrapped
// around past math.MaxInt64. The extremes of the other fields of Options
// (Resends, Retry.Attempts, the budgets: math.MaxInt and math.MinInt,
// Record math.MinInt64, which is NoRecord) run, as does the longest Record.
// On every tier.
func TestARecordPastItsLongestLifetimeIsRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		id := b.Prefix + "lim"
		if err := m.Save(ctx, id, Account{Balance: 5}); err != nil {
			t.Fatal(err)
		}
		root := m.Target(id).Root()
		incr := tx.On(tx.At[Account](root), ops.Incr(Balance, 1))
		read := func(redis.Pipeliner) func() (tx.Batch, error) {
			t.Error("read ran for refused options")
			return func() (tx.Batch, error) { return incr, nil }
		}
		records := recordKeys(t, b, root)
		trips := testenv.CountRoundTrips(b.Client)
		for _, d := range []time.Duration{math.MaxInt64, optcheck.MaxRecord + 1, optcheck.MaxRecord + time.Millisecond, math.MaxInt64 / 3 * 2} {
			opts := tx.Options{Record: d}
			_, err := tx.Exec(ctx, b.Client, incr, opts)
			if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "tx.Options.Record") || !strings.Contains(err.Error(), optcheck.MaxRecord.String()) {
				t.Errorf("Exec with Record %v: %v; want ErrInvalid naming tx.Options.Record and %v", d, err, optcheck.MaxRecord)
			}
			_, err = tx.Optimistic(ctx, b.Client, []string{root}, read, opts)
			if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "tx.Options.Record") {
				t.Errorf("Optimistic with Record %v: %v; want ErrInvalid naming tx.Options.Record", d, err)
			}
		}
		if n := trips.Count(); n != 0 {
			t.Errorf("refused executions sent %s", trips)
		}
		if got := recordKeys(t, b, root); got != records {
			t.Errorf("record keys: %d, were %d; want none written", got, records)
		}
		if a, err := m.Get(ctx, id); err != nil || a.Balance != 5 {
			t.Fatalf("a: %+v, %v; want balance 5: nothing applied", a, err)
		}
		run := []tx.Options{
			{Record: optcheck.MaxRecord},
			{Record: math.MinInt64},
			{Resends: math.MaxInt, Retry: tx.Retry{Attempts: math.MaxInt}, Budget: tx.Budget{Bytes: math.MaxInt64, Moves: math.MaxInt64}},
			{Resends: math.MinInt, Budget: tx.Budget{Bytes: math.MinInt64, Moves: math.MinInt64}},
		}
		for _, o := range run {
			if _, err := tx.Exec(ctx, b.Client, incr, o); err != nil {
				t.Errorf("Exec with %+v: %v", o, err)
			}
		}
		if got := recordKeys(t, b, root); got <= records {
			t.Errorf("record keys: %d after the runs with records, were %d; the count sees none", got, records)
		}
		if a, err := m.Get(ctx, id); err != nil || a.Balance != 5+len(run) {
			t.Errorf("a: %+v, %v; want balance %d", a, err, 5+len(run))
		}
	})
}

// recordKeys counts the batch record keys of the batches on root (those of
// its slot, tx{<slot tag>}:...), on every master.
func recordKeys(t *testing.T, b *testenv.Backend, root string) int {
	t.Helper()
	n := 0
	count := func(ctx context.Context, c *redis.Client) error {
		ks, err := c.Keys(ctx, keys.Tx(root, "*")).Result()
		n += len(ks)
		return err
	}
	var err error
	if c, ok := b.Client.(*redis.ClusterClient); ok {
		var mu = make(chan struct{}, 1)
		err = c.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
			mu <- struct{}{}
			defer func() { <-mu }()
			return count(ctx, c)
		})
	} else {
		err = count(context.Background(), b.Client.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}
