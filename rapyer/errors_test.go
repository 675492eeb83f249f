package rapyer_test

import (
	"context"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// failure is one way to meet a sentinel: run returns the error, op is the
// op the message must name exactly once ("" when there is none).
type failure struct {
	name string
	want error
	op   string
	run  func() error
}

// TestErrorMessagesHaveOneFormat: a failure per sentinel, each read as
// "rapyer: <what>: <op>: <detail>": the sentinel's own text first, then the
// op (named once), then what was found.
func TestErrorMessagesHaveOneFormat(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, f := range failures(t, b) {
			err := f.run()
			if !errors.Is(err, f.want) {
				t.Errorf("%s: %v; want %v", f.name, err, f.want)
				continue
			}
			head := regexp.QuoteMeta(f.want.Error())
			if !regexp.MustCompile(`^` + head + `: \S.*$`).MatchString(err.Error()) {
				t.Errorf("%s: %q does not read %q: <op>: <detail>", f.name, err, f.want)
			}
			if strings.Count(err.Error(), "rapyer: ") != 1 {
				t.Errorf("%s: %q says rapyer: more than once", f.name, err)
			}
			if f.op == "" {
				continue
			}
			if n := strings.Count(err.Error(), f.op); n != 1 {
				t.Errorf("%s: %q names %s %d times; want once", f.name, err, f.op, n)
			}
			if !strings.HasPrefix(err.Error(), f.want.Error()+": "+f.op+": ") {
				t.Errorf("%s: %q; want the op %s right after %q", f.name, err, f.op, f.want)
			}
		}
	})
}

func failures(t *testing.T, b *testenv.Backend) []failure {
	ctx := context.Background()
	m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
	owner := lens.Of(func(a *Account) *string { return &a.Owner })
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	history := lens.Of(func(a *Account) *[]string { return &a.History })
	limits := lens.Of(func(a *Account) *map[string]int { return &a.Limits })
	if err := m.Save(ctx, "a", Account{Owner: "ann", Balance: 1, History: []string{"h"}}); err != nil {
		t.Fatal(err)
	}
	exec := func(o ...ops.Op) func() error {
		return func() error { _, err := m.Exec(ctx, "a", tx.Of(o...)); return err }
	}
	lockKey := b.Prefix + "{lk}"
	pop := ops.PopAnyItem(limits)
	fs := []failure{
		{"a guard", rapyer.ErrPrecondition, "AtLeast(balance, 10)", exec(ops.AtLeast(balance, 10))},
		{"a missing model", rapyer.ErrNotFound, "", func() error { _, err := m.Exec(ctx, "nobody", tx.Of(ops.Incr(balance, 1))); return err }},
		{"a model made twice", rapyer.ErrExists, "", func() error { return m.Create(ctx, "a", Account{}) }},
		{"an overflow", rapyer.ErrOverflow, "Incr(balance, 9223372036854775807)", exec(ops.Incr(balance, math.MaxInt))},
		{"an index outside the list", rapyer.ErrOutOfRange, `SetAt(history, 5, "x")`, exec(ops.SetAt(history, 5, "x"))},
		{"a bad argument", rapyer.ErrInvalid, "Repeat(owner, -1)", exec(ops.Repeat(owner, -1))},
		{"a bad id", rapyer.ErrInvalidID, "", func() error { _, err := m.Get(ctx, "a{b"); return err }},
		{"an unstorable type", rapyer.ErrUnsupported, "", func() error { _, err := rapyer.New[WithChan](b.Client, rapyer.Options{}); return err }},
		{"over the budget", rapyer.ErrTooLarge, "Repeat(owner, 1000)", func() error {
			_, err := tx.Exec(ctx, b.Client, tx.On(m.Target("a"), ops.Repeat(owner, 1000)), tx.Options{Budget: tx.Budget{Bytes: 10}})
			return err
		}},
		{"a pop of an empty map", rapyer.ErrEmpty, pop.String(), func() error {
			res, err := m.Exec(ctx, "a", tx.Of(pop))
			if err != nil {
				return err
			}
			_, _, err = pop.Result(res)
			return err
		}},
		{"a wrong type", rapyer.ErrWrongType, "", func() error {
			root, _ := m.Key("str")
			b.Client.Set(ctx, root, "not a hash", 0)
			_, err := m.Get(ctx, "str")
			return err
		}},
		{"a corrupt number", rapyer.ErrCorrupt, "", func() error {
			root, _ := m.Key("num")
			b.Client.HSet(ctx, root, "balance", "abc", "__v", "1")
			_, err := m.Get(ctx, "num")
			return err
		}},
		{"a lock held elsewhere", rapyer.ErrNotAcquired, `Acquire("` + lockKey + `")`, func() error {
			l, err := lock.Acquire(ctx, b.Client, lockKey, lock.Options{})
			if err != nil {
				return err
			}
			defer func() { _ = l.Release(ctx) }()
			_, err = lock.Acquire(ctx, b.Client, lockKey, lock.Options{Wait: lock.NoWait})
			return err
		}},
		{"a lock released twice", rapyer.ErrNotHeld, "", func() error {
			l, err := lock.Acquire(ctx, b.Client, lockKey, lock.Options{})
			if err != nil {
				return err
			}
			_ = l.Release(ctx)
			return l.Release(ctx)
		}},
		{"a closed client", rapyer.ErrNotSent, "", func() error {
			c := b.NewClient(t, nil)
			_ = c.Close()
			_, err := tx.Exec(ctx, c, tx.On(m.Target("a"), ops.Incr(balance, 1)), tx.Options{})
			return err
		}},
		{"an update that keeps meeting writes", rapyer.ErrConflict, "", func() error {
			_, err := m.Update(ctx, "a", func(a Account) (tx.Batch, error) {
				if err := m.Save(ctx, "a", a); err != nil {
					return tx.Batch{}, err
				}
				return tx.Of(ops.Incr(balance, 1)), nil
			})
			return err
		}},
	}
	if b.Kind == testenv.Cluster {
		fs = append(fs, failure{"two slots", rapyer.ErrCrossSlot, "", func() error {
			_, err := m.ExecAll(ctx, tx.Join(tx.On(m.Target("a"), ops.Incr(balance, 1)), tx.On(m.Target("zz"), ops.Incr(balance, 1))))
			return err
		}})
	}
	return fs
}
