package tx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// A batch whose reply is lost is applied once: go-redis resends it on its own
// (MaxRetries defaults to 3), and the batch record answers the resend.
func TestLostReplyIsAppliedOnce(t *testing.T) {
	for _, tier := range []testenv.Kind{testenv.Mini, testenv.Server} {
		t.Run(string(tier), func(t *testing.T) {
			b := testenv.On(t, tier)
			ctx := context.Background()
			for _, c := range []struct {
				name       string
				maxRetries int
			}{
				{"go-redis retries (default options)", 0},
				{"no go-redis retries: the executor resends", -1},
			} {
				t.Run(c.name, func(t *testing.T) {
					p := throughProxy(t, b, func(o *redis.UniversalOptions) { o.MaxRetries = c.maxRetries })
					m := rapyer.MustNew[Account](p.rdb, rapyer.Options{Prefix: b.Prefix + "acct"})
					if err := m.Save(ctx, "a", Account{}); err != nil {
						t.Fatal(err)
					}
					// Warm the interpreter so the dropped request is the batch.
					if _, err := m.Exec(ctx, "a", tx.Of(ops.Incr(Balance, 0))); err != nil {
						t.Fatal(err)
					}
					inc := ops.Incr(Balance, 1)
					var res *tx.Result
					err := p.loseReply(t, func() (err error) {
						res, err = m.Exec(ctx, "a", tx.Of(inc, ops.Append(History, "once")))
						return err
					}, "FCALL", "EVALSHA", "EVAL")
					if err != nil {
						t.Fatalf("a lost reply with a safe resend: %v", err)
					}
					if !res.Duplicate {
						t.Fatal("the resend was not recognised as a duplicate")
					}
					if n, err := inc.Result(res); n != 1 || err != nil {
						t.Fatalf("the duplicate's result: %d %v, want the first run's 1", n, err)
					}
					got, err := m.Get(ctx, "a")
					if err != nil {
						t.Fatal(err)
					}
					if got.Balance != 1 || len(got.History) != 1 {
						t.Fatalf("applied more than once: %+v", got)
					}
				})
			}

			t.Run("no resend gets through", func(t *testing.T) {
				p := throughProxy(t, b, func(o *redis.UniversalOptions) {
					o.MaxRetries = -1
					o.PoolSize = 1          // one connection: every resend dials
					o.PipelinePoolSize = -1 // (no second pool for pipelines)
				})
				m := rapyer.MustNew[Account](p.rdb, rapyer.Options{Prefix: b.Prefix + "acct2"})
				if err := m.Save(ctx, "a", Account{}); err != nil {
					t.Fatal(err)
				}
				// The pooled connection carries the batch; every new one (the
				// executor's resends) is refused.
				p.proxy.Refuse(true)
				defer p.proxy.Refuse(false)
				p.proxy.DropReplyTo("FCALL", "EVALSHA", "EVAL")
				_, err := m.Exec(ctx, "a", tx.Of(ops.Incr(Balance, 1)))
				if !errors.Is(err, rapyer.ErrUnknownOutcome) {
					t.Fatalf("a batch whose fate is unknown: %v", err)
				}
				p.proxy.Refuse(false)
				direct := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct2"})
				if got, _ := direct.Get(ctx, "a"); got.Balance > 1 {
					t.Fatalf("applied %d times", got.Balance)
				}
			})
		})
	}
}

// The EXEC of an optimistic update is not resent by go-redis; when its reply
// is lost, the update asks the batch record whether it was applied.
func TestLostExecReplyOfAnOptimisticUpdate(t *testing.T) {
	b := testenv.On(t, testenv.Server)
	ctx := context.Background()
	p := throughProxy(t, b)
	m := rapyer.MustNew[Account](p.rdb, rapyer.Options{Prefix: b.Prefix + "acct"})
	if err := m.Save(ctx, "a", Account{Balance: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(ctx, "a", func(Account) (tx.Batch, error) { return tx.Of(ops.Incr(Balance, 0)), nil }); err != nil {
		t.Fatal(err)
	}
	p.proxy.DropReplyTo("EXEC")
	calls := 0
	res, err := m.Update(ctx, "a", func(a Account) (tx.Batch, error) {
		calls++
		return tx.Of(ops.Set(Balance, a.Balance+5)), nil
	})
	if err != nil {
		t.Fatalf("update with a lost EXEC reply: %v", err)
	}
	if !res.Duplicate || calls != 1 {
		t.Fatalf("the record did not answer: duplicate=%v calls=%d", res.Duplicate, calls)
	}
	if got, _ := m.Get(ctx, "a"); got.Balance != 15 {
		t.Fatalf("balance %d, want 15", got.Balance)
	}
}
