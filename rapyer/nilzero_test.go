package rapyer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// everyModelCall calls every method of m that can fail, each recovered, and
// returns the method's name with its error (or the panic, as an error).
func everyModelCall(ctx context.Context, m *rapyer.Model[Account]) map[string]error {
	out := map[string]error{}
	for name, call := range everyModelCallOf(ctx, m) {
		out[name] = callRecovered(call)
	}
	return out
}

// everyModelCallOf is every method of m that can fail, by name (LockAll as
// a method), each as a call with ctx.
func everyModelCallOf(ctx context.Context, m *rapyer.Model[Account]) map[string]func() error {
	first := func(seq func(func(string, error) bool)) (err error) {
		seq(func(_ string, e error) bool { err = e; return false })
		return err
	}
	noop := func(context.Context, *Account) error { return nil }
	decide := func(Account) (tx.Batch, error) { return tx.Of(), nil }
	calls := map[string]func() error{
		"Key":    func() error { _, err := m.Key("a"); return err },
		"Keys":   func() error { _, err := m.Keys("a"); return err },
		"Target": func() error { return m.Target("a").Err() },
		"Save":   func() error { return m.Save(ctx, "a", Account{}) },
		"Create": func() error { return m.Create(ctx, "a", Account{}) },
		"Insert": func() error { _, err := m.Insert(ctx, Account{}); return err },
		"Get":    func() error { _, err := m.Get(ctx, "a"); return err },
		"GetWithVersion": func() error {
			_, _, err := m.GetWithVersion(ctx, "a")
			return err
		},
		"GetMany": func() error { _, _, err := m.GetMany(ctx, []string{"a"}); return err },
		"Exists":  func() error { _, err := m.Exists(ctx, "a"); return err },
		"Delete":  func() error { _, err := m.Delete(ctx, "a"); return err },
		"Expire":  func() error { return m.Expire(ctx, "a", time.Minute) },
		"Persist": func() error { return m.Persist(ctx, "a") },
		"TTL":     func() error { _, err := m.TTL(ctx, "a"); return err },
		"IDs":     func() error { return first(m.IDs(ctx)) },
		"Exec":    func() error { _, err := m.Exec(ctx, "a", tx.Of(ops.Incr(BalanceL, 1))); return err },
		"Update":  func() error { _, err := m.Update(ctx, "a", decide); return err },
		"UpdateMany": func() error {
			_, err := m.UpdateMany(ctx, []string{"a"}, func([]Account) (tx.Batch, error) { return tx.Of(), nil })
			return err
		},
		"Lock": func() error { _, err := m.Lock(ctx, "a", "x", noop); return err },
		"LockAll": func() error {
			var a Account
			_, err := rapyer.LockAll(ctx, "x", []rapyer.Held{m.Hold("a", &a)}, func(context.Context) error { return nil })
			return err
		},
		"SaveMany":   func() error { return m.SaveMany(ctx, []rapyer.Entry[Account]{{ID: "a"}}) },
		"InsertMany": func() error { _, err := m.InsertMany(ctx, Account{}); return err },
		"DeleteMany": func() error { _, err := m.DeleteMany(ctx, "a"); return err },
		"Duplicate":  func() error { _, err := m.Duplicate(ctx, "a", "b"); return err },
		"Sweep":      func() error { _, err := m.Sweep(ctx); return err },
		"Find": func() error {
			var err error
			for _, err = range m.Find(ctx, query.All[Account]()) {
				break
			}
			return err
		},
		"FindIDs":     func() error { return first(m.FindIDs(ctx, query.All[Account]())) },
		"Page":        func() error { _, err := m.Page(ctx, query.All[Account](), ""); return err },
		"Count":       func() error { _, err := m.Count(ctx, query.All[Account]()); return err },
		"DeleteWhere": func() error { _, err := m.DeleteWhere(ctx, query.All[Account]()); return err },
		"Reindex":     func() error { return m.Reindex(ctx, nil) },
		"DropIndex":   func() error { return m.DropIndex(ctx, "balance") },
	}
	return calls
}

type panicked struct{ v any }

func (p *panicked) Error() string { return "panic" }

// TestNilAndZeroModelsFailTyped: a nil *Model and a zero Model (not made by
// New) give ErrInvalid from every method, with no panic; Client and Prefix
// give their zero values.
func TestNilAndZeroModelsFailTyped(t *testing.T) {
	ctx := context.Background()
	for name, m := range map[string]*rapyer.Model[Account]{"nil": nil, "zero": new(rapyer.Model[Account])} {
		t.Run(name, func(t *testing.T) {
			if m.Client() != nil || m.Prefix() != "" {
				t.Errorf("Client, Prefix = %v, %q; want nil, \"\"", m.Client(), m.Prefix())
			}
			for call, err := range everyModelCall(ctx, m) {
				var p *panicked
				switch {
				case errors.As(err, &p):
					t.Errorf("%s of a %s Model panicked: %v", call, name, p.v)
				case !errors.Is(err, rapyer.ErrInvalid):
					t.Errorf("%s of a %s Model: %v, want ErrInvalid", call, name, err)
				}
			}
		})
	}
}

// TestBadCallArgumentsSendNothing: a nil decide, a nil-model Held next to a
// real one, and ops.Fenced/Unlock of a nil or zero lock fail with
// ErrInvalid before anything is sent: no round trip, no lock key, the model
// as it was.
func TestBadCallArgumentsSendNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Balance: 5}); err != nil {
			t.Fatal(err)
		}
		_, v0, err := m.GetWithVersion(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		var nilModel *rapyer.Model[Account]
		var a, x Account
		counter := testenv.CountRoundTrips(b.Client)
		cases := map[string]func() error{
			"Update(nil)": func() error { _, err := m.Update(ctx, "a", nil); return err },
			"LockAll with a nil model's Held": func() error {
				_, err := rapyer.LockAll(ctx, "x", []rapyer.Held{m.Hold("a", &a), nilModel.Hold("b", &x)}, func(context.Context) error { return nil })
				return err
			},
			"Fenced(nil)": func() error { _, err := m.Exec(ctx, "a", tx.Of(ops.Incr(BalanceL, 1), ops.Fenced(nil))); return err },
			"Unlock(nil)": func() error { _, err := m.Exec(ctx, "a", tx.Of(ops.Incr(BalanceL, 1), ops.Unlock(nil))); return err },
			"Fenced(&lock.Lock{})": func() error {
				_, err := m.Exec(ctx, "a", tx.Of(ops.Incr(BalanceL, 1), ops.Fenced(&lock.Lock{})))
				return err
			},
			"Require then nil Result": func() error {
				y := ops.Check(is.AtLeast(BalanceL, 1))
				_, err := y.Result(nil)
				return err
			},
		}
		for name, call := range cases {
			if err := call(); !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
		if n := counter.Count(); n != 0 {
			t.Errorf("%d round trips sent (%s), want 0", n, counter)
		}
		got, v1, err := m.GetWithVersion(ctx, "a")
		if err != nil || got.Balance != 5 || v1 != v0 {
			t.Errorf("after the refused calls: %+v version %d (was %d), %v", got, v1, v0, err)
		}
		if n, err := b.Client.Exists(ctx, m.Prefix()+":{a}:lock:x").Result(); err != nil || n != 0 {
			t.Errorf("lock key left: %d, %v", n, err)
		}
	})
}
