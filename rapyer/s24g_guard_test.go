package rapyer_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s24gCase is a predicate for a guard and what the bound it passes is
// called in the error (empty: within every bound, so it must run).
type s24gCase struct {
	name  string
	p     func() is.Pred[QItem]
	bound string
}

// s24gNest is leaf wrapped n times in wrap: Not(Not(...)), And(And(...)).
func s24gNest(n int, leaf is.Pred[QItem], wrap func(is.Pred[QItem]) is.Pred[QItem]) is.Pred[QItem] {
	for range n {
		leaf = wrap(leaf)
	}
	return leaf
}

func s24gAnd(p is.Pred[QItem]) is.Pred[QItem] { return is.And(p) }
func s24gOr(p is.Pred[QItem]) is.Pred[QItem]  { return is.Or(p) }

// s24gIn is an In of status over n values, the last one "a" (the stored
// status), so that it holds.
func s24gIn(n int) is.Pred[QItem] {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = "v" + strconv.Itoa(i)
	}
	vs[n-1] = "a"
	return is.In(iStatus, vs...)
}

// s24gLeaves is an And of n leaves that hold.
func s24gLeaves(n int) is.Pred[QItem] {
	ps := make([]is.Pred[QItem], n)
	for i := range ps {
		ps[i] = is.AtLeast(iPrice, -i)
	}
	return is.And(ps...)
}

// s24gCases are predicates that hold on QItem{Status: "a"}: the
// largest within each bound of a batch's predicate (64 levels, 4096 nodes,
// 1 MiB of values) and the smallest past it, and huge ones.
func s24gCases() []s24gCase {
	eq := is.Equal(iStatus, "a")
	return []s24gCase{
		{"Not63", func() is.Pred[QItem] { return s24gNest(63, is.NotEqual(iStatus, "a"), is.Not[QItem]) }, ""},
		{"And63", func() is.Pred[QItem] { return s24gNest(63, eq, s24gAnd) }, ""},
		{"In4095", func() is.Pred[QItem] { return s24gIn(4095) }, ""},
		{"Leaves4095", func() is.Pred[QItem] { return s24gLeaves(4095) }, ""},
		{"Value1MiB", func() is.Pred[QItem] { return is.NotEqual(iName, strings.Repeat("x", 1<<20)) }, ""},
		{"Not64", func() is.Pred[QItem] { return s24gNest(64, eq, is.Not[QItem]) }, "deeper than 64"},
		{"And64", func() is.Pred[QItem] { return s24gNest(64, eq, s24gAnd) }, "deeper than 64"},
		{"Not10k", func() is.Pred[QItem] { return s24gNest(10_000, eq, is.Not[QItem]) }, "deeper than 64"},
		{"Or100k", func() is.Pred[QItem] { return s24gNest(100_000, eq, s24gOr) }, "deeper than 64"},
		{"In4096", func() is.Pred[QItem] { return s24gIn(4096) }, "more than 4096 nodes"},
		{"In100k", func() is.Pred[QItem] { return s24gIn(100_000) }, "more than 4096 nodes"},
		{"Leaves4096", func() is.Pred[QItem] { return s24gLeaves(4096) }, "more than 4096 nodes"},
		{"Value1MiBAnd1", func() is.Pred[QItem] { return is.NotEqual(iName, strings.Repeat("x", 1<<20+1)) }, "over 1048576 bytes"},
		{"Value100MB", func() is.Pred[QItem] { return is.NotEqual(iName, strings.Repeat("x", 100<<20)) }, "over 1048576 bytes"},
	}
}

// TestS24gGuardsAreBounded: a predicate in a batch (ops.Require, and
// ops.Check) deeper than 64 levels (63 of And, Or and Not over a leaf),
// of more than 4096 nodes or past 1 MiB of values fails with ErrTooLarge naming the bound, before anything is sent,
// and writes nothing, on every tier; the largest within each bound runs.
// Before, nothing bounded them: a Not 64 deep and an In of 100k values ran
// (and held a redis-server for as long as they took), a Not 1000 deep
// failed on miniredis only (ErrRefused, a stack overflow in gopher-lua).
func TestS24gGuardsAreBounded(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		args := &s23hArgs{}
		rdb := b.NewClient(t, nil)
		rdb.AddHook(args)
		m := rapyer.MustNew[QItem](rdb, rapyer.Options{Prefix: b.Prefix + "s24g"})
		if err := m.Save(ctx, "x", QItem{Status: "a", Name: "n"}); err != nil {
			t.Fatal(err)
		}
		price := 0
		for _, c := range s24gCases() {
			p := c.p()
			for _, op := range []ops.Op{ops.Require(p), ops.Check(p)} {
				args.reset()
				_, err := m.Exec(ctx, "x", tx.Of(op, ops.Incr(iPrice, 1)))
				if c.bound == "" {
					if err != nil {
						t.Fatalf("%s: %v; want it to run", c.name, err)
					}
					price++
				} else if !errors.Is(err, rapyer.ErrTooLarge) || !strings.Contains(err.Error(), c.bound) {
					t.Errorf("%s: %v; want ErrTooLarge naming %q", c.name, err, c.bound)
				} else if n := args.total.Load(); n != 0 {
					t.Errorf("%s: refused after sending %d bytes; want nothing sent", c.name, n)
				}
				if got, err := m.Get(ctx, "x"); err != nil || got.Price != price {
					t.Fatalf("%s: price %d (%v); want %d", c.name, got.Price, err, price)
				}
			}
		}
	})
}
