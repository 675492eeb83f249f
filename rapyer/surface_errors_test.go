package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/rapyertest"
	"github.com/rapyer-go/rapyer/tx"
)

// sentinels are every error package rapyer exports: the one home of the
// library's errors.
var sentinels = []error{rapyer.ErrNotFound, rapyer.ErrExists, rapyer.ErrPrecondition, rapyer.ErrConflict,
	rapyer.ErrCrossSlot, rapyer.ErrUnknownOutcome, rapyer.ErrWrongType, rapyer.ErrCorrupt, rapyer.ErrInvalid,
	rapyer.ErrInvalidID, rapyer.ErrDuplicate, rapyer.ErrUnsupported, rapyer.ErrOverflow, rapyer.ErrOutOfRange,
	rapyer.ErrEmpty, rapyer.ErrResultsNotKept, rapyer.ErrNotAcquired, rapyer.ErrNotHeld, rapyer.ErrLockLost,
	rapyer.ErrPartlyApplied, rapyer.ErrNoPermission, rapyer.ErrTooLarge, rapyer.ErrRefused, rapyer.ErrNotSent,
	rapyer.ErrNotIndexed, rapyer.ErrBadCursor}

type Gadget struct {
	Name  string
	Price int
	Parts []string
}

var (
	GadgetName  = lens.Of(func(g *Gadget) *string { return &g.Name })
	GadgetPrice = lens.Of(func(g *Gadget) *int { return &g.Price })
	GadgetParts = lens.Of(func(g *Gadget) *[]string { return &g.Parts })
)

// badCall is one bad input given to one entry point, with the sentinel
// its error must wrap.
type badCall struct {
	name string
	want error
	call func() error
}

// TestBadInputAtEveryEntryPointWrapsASentinel runs bad inputs (nil and
// zero values, empty and malformed keys and ids, negative counts, limits
// and durations, values of the wrong model) through the entry points of
// every public package, and checks that none panics, that each error
// wraps the sentinel it should (and so one of package rapyer's), and that
// nothing was written. On every tier.
func TestBadInputAtEveryEntryPointWrapsASentinel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Gadget](b.Client, rapyer.Options{Prefix: b.Prefix + "gadget",
			Indexes: []index.Spec{index.On(GadgetPrice)}})
		if err := m.Save(ctx, "a", Gadget{Name: "a", Price: 3}); err != nil {
			t.Fatal(err)
		}
		calls := append(append(append(badModelCalls(ctx, b, m), badBatchCalls(ctx, b, m)...),
			badQueryCalls(ctx, m)...), badLockCalls(ctx, b)...)
		for _, c := range calls {
			err := callSafely(c.call)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: %v; want an error wrapping %v", c.name, err, c.want)
			}
			if !wrapsASentinel(err) {
				t.Errorf("%s: %v wraps none of rapyer's sentinels", c.name, err)
			}
		}
		if g, err := m.Get(ctx, "a"); err != nil || g.Price != 3 || g.Name != "a" || len(g.Parts) != 0 {
			t.Errorf("a after the refused calls: %+v, %v; want it as saved", g, err)
		}
	})
}

func callSafely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	return f()
}

func wrapsASentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func badModelCalls(ctx context.Context, b *testenv.Backend, m *rapyer.Model[Gadget]) []badCall {
	var nilModel *rapyer.Model[Gadget]
	var zeroModel rapyer.Model[Gadget]
	var nilClient *redis.Client
	return []badCall{
		{"New with a nil client", rapyer.ErrInvalid, func() error { _, err := rapyer.New[Gadget](nilClient, rapyer.Options{}); return err }},
		{"New with a negative TTL", rapyer.ErrInvalid, func() error {
			_, err := rapyer.New[Gadget](b.Client, rapyer.Options{Prefix: b.Prefix + "g2", TTL: -time.Second})
			return err
		}},
		{"New with negative Groups", rapyer.ErrInvalid, func() error {
			_, err := rapyer.New[Gadget](b.Client, rapyer.Options{Prefix: b.Prefix + "g3", Groups: -1, Indexes: []index.Spec{index.On(GadgetPrice)}})
			return err
		}},
		{"New with a nil index", rapyer.ErrInvalid, func() error {
			_, err := rapyer.New[Gadget](b.Client, rapyer.Options{Prefix: b.Prefix + "g4", Indexes: []index.Spec{nil}})
			return err
		}},
		{"New with an index on the zero lens", rapyer.ErrInvalid, func() error {
			_, err := rapyer.New[Gadget](b.Client, rapyer.Options{Prefix: b.Prefix + "g5", Indexes: []index.Spec{index.On(lens.Field[Gadget, int]{})}})
			return err
		}},
		{"New with a negative retry count", rapyer.ErrInvalid, func() error {
			_, err := rapyer.New[Gadget](b.Client, rapyer.Options{Prefix: b.Prefix + "g6", Exec: tx.Options{Retry: tx.Retry{Attempts: -3}}})
			return err
		}},
		{"Get of a nil Model", rapyer.ErrInvalid, func() error { _, err := nilModel.Get(ctx, "a"); return err }},
		{"Save of a zero Model", rapyer.ErrInvalid, func() error { return zeroModel.Save(ctx, "a", Gadget{}) }},
		{"Key of a nil Model", rapyer.ErrInvalid, func() error { _, err := nilModel.Key("a"); return err }},
		{"Get of an empty id", rapyer.ErrInvalidID, func() error { _, err := m.Get(ctx, ""); return err }},
		{"Save of an id with braces", rapyer.ErrInvalidID, func() error { return m.Save(ctx, "a}b", Gadget{}) }},
		{"Expire by a negative duration", rapyer.ErrInvalid, func() error { return m.Expire(ctx, "a", -time.Second) }},
		{"Update with a negative retry count", rapyer.ErrInvalid, func() error {
			_, err := m.Update(ctx, "a", func(Gadget) (tx.Batch, error) { return tx.Of(ops.Incr(GadgetPrice, 1)), nil }, rapyer.WithRetry(tx.Retry{Attempts: -1}))
			return err
		}},
		{"Update with a nil function", rapyer.ErrInvalid, func() error { _, err := m.Update(ctx, "a", nil); return err }},
		{"Lock with a negative lock TTL", rapyer.ErrInvalid, func() error {
			_, err := m.Lock(ctx, "a", "x", func(context.Context, *Gadget) error { return nil }, rapyer.WithLockTTL(-time.Second))
			return err
		}},
		{"Lock with an empty action", rapyer.ErrInvalid, func() error {
			_, err := m.Lock(ctx, "a", "", func(context.Context, *Gadget) error { return nil })
			return err
		}},
		{"LockAll of no models", rapyer.ErrInvalid, func() error {
			_, err := rapyer.LockAll(ctx, "x", nil, func(context.Context) error { return nil })
			return err
		}},
		{"LockAll of a Hold without a variable", rapyer.ErrInvalid, func() error {
			_, err := rapyer.LockAll(ctx, "x", []rapyer.Held{m.Hold("a", nil)}, func(context.Context) error { return nil })
			return err
		}},
		{"Duplicate to itself", rapyer.ErrInvalid, func() error { _, err := m.Duplicate(ctx, "a", "a"); return err }},
		{"DropIndex of an empty name", rapyer.ErrInvalid, func() error { return m.DropIndex(ctx, "") }},
		{"rapyertest.DeletePrefix of an empty prefix", rapyer.ErrInvalid, func() error { return rapyertest.DeletePrefix(ctx, b.Client, "") }},
		{"rapyertest.DeletePrefix on a nil client", rapyer.ErrInvalid, func() error { return rapyertest.DeletePrefix(ctx, nilClient, "x") }},
	}
}

func badBatchCalls(ctx context.Context, b *testenv.Backend, m *rapyer.Model[Gadget]) []badCall {
	var nilClient *redis.Client
	var zeroInt lens.Field[Gadget, int]
	var zeroList lens.Field[Gadget, []string]
	exec := func(o ...ops.Op) func() error {
		return func() error { _, err := m.Exec(ctx, "a", tx.Of(o...)); return err }
	}
	return []badCall{
		{"Incr of the zero lens", rapyer.ErrInvalid, exec(ops.Incr(zeroInt, 1))},
		{"Append to the zero lens", rapyer.ErrInvalid, exec(ops.Append(zeroList, "x"))},
		{"Require of the zero Pred", rapyer.ErrInvalid, exec(ops.Require(is.Pred[Gadget]{}))},
		{"a nil op", rapyer.ErrInvalid, exec(nil)},
		{"Repeat a negative count", rapyer.ErrInvalid, exec(ops.Repeat(GadgetName, -3))},
		{"Move from a side that is none", rapyer.ErrInvalid, exec(ops.Move(GadgetParts, ops.Side("UP"), GadgetParts, ops.First))},
		{"ops.Expire by a negative duration", rapyer.ErrInvalid, exec(ops.Expire[Gadget](-time.Second))},
		{"tx.Exec on a nil client", rapyer.ErrInvalid, func() error { _, err := tx.Exec(ctx, nilClient, tx.Of(), tx.Options{}); return err }},
		{"tx.Exec of an op bound to no model", rapyer.ErrInvalid, func() error {
			_, err := tx.Exec(ctx, b.Client, tx.Of(ops.Incr(GadgetPrice, 1)), tx.Options{})
			return err
		}},
		{"tx.Exec on the zero Target", rapyer.ErrInvalid, func() error {
			_, err := tx.Exec(ctx, b.Client, tx.On(tx.Target{}, ops.Incr(GadgetPrice, 1)), tx.Options{})
			return err
		}},
		{"tx.Exec on an empty root", rapyer.ErrInvalid, func() error {
			_, err := tx.Exec(ctx, b.Client, tx.On(tx.At[Gadget](""), ops.Incr(GadgetPrice, 1)), tx.Options{})
			return err
		}},
		{"tx.Exec with a negative retry count", rapyer.ErrInvalid, func() error {
			_, err := tx.Exec(ctx, b.Client, tx.On(m.Target("a"), ops.Incr(GadgetPrice, 1)), tx.Options{Retry: tx.Retry{Attempts: -1}})
			return err
		}},
		{"tx.Optimistic with no keys", rapyer.ErrInvalid, func() error {
			_, err := tx.Optimistic(ctx, b.Client, nil, nil, tx.Options{})
			return err
		}},
	}
}

func badQueryCalls(ctx context.Context, m *rapyer.Model[Gadget]) []badCall {
	count := func(q query.Query[Gadget]) func() error {
		return func() error { _, err := m.Count(ctx, q); return err }
	}
	page := func(q query.Query[Gadget], cursor string) func() error {
		return func() error { _, err := m.Page(ctx, q, cursor); return err }
	}
	return []badCall{
		{"Where of the zero Pred", rapyer.ErrInvalid, count(query.Where(is.Pred[Gadget]{}))},
		{"Where on the zero lens", rapyer.ErrInvalid, count(query.Where(is.AtLeast(lens.Field[Gadget, int]{}, 1)))},
		{"In of no values", rapyer.ErrInvalid, count(query.Where(is.In(GadgetPrice)))},
		{"And of no predicates", rapyer.ErrInvalid, count(query.Where(is.And[Gadget]()))},
		{"a predicate no index serves", rapyer.ErrNotIndexed, count(query.Where(is.Equal(GadgetName, "a")))},
		{"Tag of a model without hash tags", rapyer.ErrInvalid, count(query.All[Gadget]().Tag(""))},
		{"Limit 0", rapyer.ErrInvalid, page(query.All[Gadget]().Limit(0), "")},
		{"Limit -1", rapyer.ErrInvalid, page(query.All[Gadget]().Limit(-1), "")},
		{"OrderBy(nil)", rapyer.ErrInvalid, page(query.All[Gadget]().OrderBy(nil), "")},
		{"OrderBy the zero lens", rapyer.ErrInvalid, page(query.All[Gadget]().OrderBy(lens.Field[Gadget, int]{}), "")},
		{"a cursor of no query", rapyer.ErrBadCursor, page(query.Where(is.AtLeast(GadgetPrice, 0)), "not-a-cursor")},
		{"Find with Limit -1", rapyer.ErrInvalid, func() error {
			for _, err := range m.Find(ctx, query.All[Gadget]().Limit(-1)) {
				return err
			}
			return nil
		}},
	}
}

func badLockCalls(ctx context.Context, b *testenv.Backend) []badCall {
	var nilClient *redis.Client
	key := b.Prefix + ":{l}:lock:x"
	acquire := func(rdb redis.UniversalClient, key string, o lock.Options) func() error {
		return func() error {
			l, err := lock.Acquire(ctx, rdb, key, o)
			if l != nil {
				_ = l.Release(ctx)
			}
			return err
		}
	}
	var zero lock.Lock
	return []badCall{
		{"Acquire of an empty key", rapyer.ErrInvalid, acquire(b.Client, "", lock.Options{})},
		{"Acquire on a nil client", rapyer.ErrInvalid, acquire(nilClient, key, lock.Options{})},
		{"Acquire with a negative TTL", rapyer.ErrInvalid, acquire(b.Client, key, lock.Options{TTL: -time.Second})},
		{"Acquire with a negative RetryMin", rapyer.ErrInvalid, acquire(b.Client, key, lock.Options{RetryMin: -time.Millisecond})},
		{"Release of the zero Lock", rapyer.ErrInvalid, func() error { return zero.Release(ctx) }},
		{"Extend by a negative TTL", rapyer.ErrInvalid, func() error {
			l, err := lock.Acquire(ctx, b.Client, key, lock.Options{})
			if err != nil {
				return err
			}
			defer l.Release(ctx)
			return l.Extend(ctx, -time.Second)
		}},
	}
}

// TestTheDocumentedErrorMessageIsTheOneReturned: the message the package
// documentation and docs/concepts.md quote as the shape of every error is
// the one a failed guard returns. They quoted "AtLeast(balance, 10)" as the
// op, where the op a caller writes, and the message names, is
// Require(AtLeast(balance, 10)). On every tier.
func TestTheDocumentedErrorMessageIsTheOneReturned(t *testing.T) {
	const want = "rapyer: precondition failed: Require(AtLeast(balance, 10)): balance is 5"
	for _, file := range []string{"doc.go", "../docs/concepts.md"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(strings.ReplaceAll(string(src), "//", "")), " ")
		if !strings.Contains(text, want) {
			t.Errorf("%s does not quote the message a failed guard returns, %q", file, want)
		}
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "alice", Account{Balance: 5}); err != nil {
			t.Fatal(err)
		}
		_, err := m.Exec(ctx, "alice", tx.Of(ops.Require(is.AtLeast(BalanceL, 10)), ops.Decr(BalanceL, 10)))
		if err == nil || err.Error() != want {
			t.Errorf("a failed guard: %v; want %q", err, want)
		}
	})
}
