package rapyer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// badOptions are option values no call can use, each with the field its
// error must name.
var badOptions = []struct {
	field string
	edit  func(c *rapyer.Call)
}{
	{"Exec.IfMissing", func(c *rapyer.Call) { c.Exec.IfMissing = 7 }},
	{"Exec.IfMissing", func(c *rapyer.Call) { c.Exec.IfMissing = -1 }},
	{"Exec.Record", func(c *rapyer.Call) { c.Exec.Record = time.Microsecond }},
	{"Lock.TTL", func(c *rapyer.Call) { c.Lock.TTL = -time.Second }},
	{"Lock.RetryMin", func(c *rapyer.Call) { c.Lock.RetryMin, c.Lock.RetryMax = time.Second, time.Millisecond }},
	{"Lock.Load", func(c *rapyer.Call) { c.Lock.Load = func(redis.Pipeliner) {} }},
	{"Exec.Retry.Attempts", func(c *rapyer.Call) { c.Exec.Retry.Attempts = -1 }},
	{"Exec.Retry.Backoff", func(c *rapyer.Call) { c.Exec.Retry.Backoff = -time.Millisecond }},
	{"Exec.Retry.MaxBackoff", func(c *rapyer.Call) { c.Exec.Retry.MaxBackoff = -time.Millisecond }},
	{"Exec.Retry.Backoff", func(c *rapyer.Call) { c.Exec.Retry.Backoff, c.Exec.Retry.MaxBackoff = time.Second, time.Millisecond }},
	{"Lock.RetryMin", func(c *rapyer.Call) { c.Lock.RetryMin = -time.Millisecond }},
	{"Lock.RetryMax", func(c *rapyer.Call) { c.Lock.RetryMax = -time.Millisecond }},
}

// TestNewRefusesOptionsNoCallCanUse: a model whose Exec or Lock defaults
// hold a value tx.Exec or lock.Acquire would refuse (or a Lock.Load, which
// the model's locks overwrite) is refused by New with ErrInvalid naming
// the field, instead of failing, or silently ignoring it, at every call.
func TestNewRefusesOptionsNoCallCanUse(t *testing.T) {
	b := testenv.On(t, testenv.Mini)
	for i, bad := range badOptions {
		var c rapyer.Call
		bad.edit(&c)
		_, err := rapyer.New[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "opt", Exec: c.Exec, Lock: c.Lock})
		if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "Options."+bad.field) {
			t.Errorf("%d: New with a bad %s: %v; want ErrInvalid naming Options.%s", i, bad.field, err, bad.field)
		}
	}
	good := rapyer.Options{Prefix: b.Prefix + "opt", Exec: tx.Options{IfMissing: tx.MustBeNew, Record: tx.NoRecord, Resends: tx.NoResends, Retry: tx.Retry{Backoff: time.Second}},
		Lock: lock.Options{TTL: time.Microsecond, Wait: lock.NoWait, RetryMin: time.Second}}
	if _, err := rapyer.New[Account](b.Client, good); err != nil {
		t.Errorf("New with documented values: %v", err)
	}
}

// TestPerCallOptionsNoCallCanUseSendNothing: the same values given per
// call fail Exec, Update, Lock and LockAll with ErrInvalid naming the
// field, with no round trip and no lock taken; tx.Exec (an empty batch
// too) and lock.Acquire refuse theirs. On every tier.
func TestPerCallOptionsNoCallCanUseSendNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "opt"})
		if err := m.Save(ctx, "a", Account{Balance: 5}); err != nil {
			t.Fatal(err)
		}
		trips := testenv.CountRoundTrips(b.Client)
		called := false
		for _, bad := range badOptions {
			calls := map[string]func() error{
				"Exec": func() error { _, err := m.Exec(ctx, "a", tx.Of(ops.Incr(BalanceL, 1)), bad.edit); return err },
				"Update": func() error {
					_, err := m.Update(ctx, "a", func(Account) (tx.Batch, error) { called = true; return tx.Of(), nil }, bad.edit)
					return err
				},
				"Lock": func() error {
					_, err := m.Lock(ctx, "a", "x", func(context.Context, *Account) error { called = true; return nil }, bad.edit)
					return err
				},
				"LockAll": func() error {
					var a Account
					_, err := rapyer.LockAll(ctx, "x", []rapyer.Held{m.Hold("a", &a)}, func(context.Context) error { called = true; return nil }, bad.edit)
					return err
				},
			}
			for name, call := range calls {
				if err := call(); !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "Call."+bad.field) {
					t.Errorf("%s with a bad %s: %v; want ErrInvalid naming Call.%s", name, bad.field, err, bad.field)
				}
			}
		}
		for _, b := range []tx.Batch{tx.On(m.Target("a"), ops.Incr(BalanceL, 1)), {}} {
			if _, err := tx.Exec(ctx, m.Client(), b, tx.Options{IfMissing: 3}); !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "tx.Options.IfMissing") {
				t.Errorf("tx.Exec of %d ops with IfMissing 3: %v; want ErrInvalid naming tx.Options.IfMissing", b.Len(), err)
			}
		}
		if _, err := lock.Acquire(ctx, b.Client, m.Prefix()+":{a}:lock:y", lock.Options{RetryMin: time.Second, RetryMax: time.Millisecond}); !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), "lock.Options.RetryMin") {
			t.Errorf("Acquire with RetryMin > RetryMax: %v; want ErrInvalid naming lock.Options.RetryMin", err)
		}
		if n := trips.Count(); n != 0 || called {
			t.Errorf("refused calls sent %s (a function called: %v)", trips, called)
		}
		if a, err := m.Get(ctx, "a"); err != nil || a.Balance != 5 {
			t.Errorf("a: %+v, %v; want it as it was", a, err)
		}
	})
}
