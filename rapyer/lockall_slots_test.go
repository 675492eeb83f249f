package rapyer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestLockAllAcrossSlotsNeverSaysNothingWasSaved: on a cluster, LockAll over
// models in different slots saves each model by its own fenced batch. When
// one of those saves is refused (its lock was lost) after another was
// stored, the error must say the call is partly applied
// (rapyer.ErrPartlyApplied, and still the cause, ErrLockLost): before, it
// was a bare ErrLockLost, which promises that nothing was written, so a
// caller who retried a transfer applied its stored half twice. On one server
// the save is one batch and a lost lock saves nothing.
func TestLockAllAcrossSlotsNeverSaysNothingWasSaved(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{Wait: lock.NoWait}})
		ids := []string{"a", "b"} // {a} and {b}: two slots, "a" first in key order
		for lost := range ids {
			for _, id := range ids {
				if err := m.Save(ctx, id, Account{Owner: id, Balance: 100}); err != nil {
					t.Fatal(err)
				}
			}
			lockKey, _ := m.Key(ids[lost])
			lockKey += ":lock:transfer"
			var from, to Account
			_, err := rapyer.LockAll(ctx, "transfer", []rapyer.Held{m.Hold("a", &from), m.Hold("b", &to)}, func(ctx context.Context) error {
				from.Balance -= 30
				to.Balance += 30
				return b.Client.Del(ctx, lockKey).Err() // the lock of ids[lost] is lost
			})
			if !errors.Is(err, rapyer.ErrLockLost) {
				t.Fatalf("lost %s: %v, want ErrLockLost", ids[lost], err)
			}
			var stored int
			for _, id := range ids {
				got, gerr := m.Get(ctx, id)
				if gerr != nil {
					t.Fatal(gerr)
				}
				if got.Balance != 100 {
					stored++
				}
			}
			partly := errors.Is(err, rapyer.ErrPartlyApplied)
			switch {
			case b.Kind != testenv.Cluster && stored != 0:
				t.Fatalf("lost %s on one server: %d models saved, want none", ids[lost], stored)
			case stored > 0 && !partly:
				t.Fatalf("lost %s: %d of 2 models saved, yet the error does not say partly applied: %v", ids[lost], stored, err)
			case stored == 0 && partly:
				t.Fatalf("lost %s: nothing saved, yet the error says partly applied: %v", ids[lost], err)
			}
			// the locks are free again
			if _, err := rapyer.LockAll(ctx, "transfer", []rapyer.Held{m.Hold("a", new(Account)), m.Hold("b", new(Account))}, func(context.Context) error { return nil }); err != nil {
				t.Fatalf("lost %s: a lock was left held: %v", ids[lost], err)
			}
		}
	})
}

// cancelAfterTx cancels a context once n calls (a save is one command or
// one MULTI/EXEC pipeline) have completed after it is armed.
type cancelAfterTx struct {
	armed  atomic.Bool
	n      atomic.Int32
	cancel context.CancelFunc
}

func (h *cancelAfterTx) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *cancelAfterTx) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.done(err)
		return err
	}
}

func (h *cancelAfterTx) done(err error) {
	if h.armed.Load() && err == nil && h.n.Add(-1) == 0 {
		h.cancel()
	}
}
func (h *cancelAfterTx) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.done(err)
		return err
	}
}

// TestLockAllAcrossSlotsFinishesWhatItStarted: on a cluster, when the
// caller's context ends after the first model's save was stored (models in
// different slots), the other saves still run under the locks still held:
// the call ends with every model saved, not with the first half stored and
// an ErrNotSent that tells the caller that sending it again is safe.
func TestLockAllAcrossSlotsFinishesWhatItStarted(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		hook := &cancelAfterTx{}
		c := b.NewClient(t, nil)
		c.AddHook(hook)
		m := rapyer.MustNew[Account](c, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{Wait: lock.NoWait}})
		bg := context.Background()
		for _, id := range []string{"a", "b"} {
			if err := m.Save(bg, id, Account{Owner: id, Balance: 100}); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		hook.cancel = cancel
		hook.n.Store(1)
		var from, to Account
		_, err := rapyer.LockAll(ctx, "transfer", []rapyer.Held{m.Hold("a", &from), m.Hold("b", &to)}, func(ctx context.Context) error {
			from.Balance -= 30
			to.Balance += 30
			hook.armed.Store(true) // the next MULTI/EXEC is the first save
			return nil
		})
		hook.armed.Store(false)
		if hook.n.Load() > 0 {
			t.Fatalf("the context was never cancelled (%v): the test tried nothing", err)
		}
		a, _ := m.Get(bg, "a")
		bb, _ := m.Get(bg, "b")
		switch {
		case a.Balance == 70 && bb.Balance == 130:
			if err != nil {
				t.Fatalf("both saved, yet the error %v", err)
			}
		case a.Balance == 100 && bb.Balance == 100:
			if err == nil {
				t.Fatal("nothing saved, yet no error")
			}
		default:
			t.Fatalf("half a transfer stored (a %d, b %d), with the error %v", a.Balance, bb.Balance, err)
		}
		if _, err := rapyer.LockAll(bg, "transfer", []rapyer.Held{m.Hold("a", new(Account)), m.Hold("b", new(Account))}, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("a lock was left held: %v", err)
		}
	})
}
