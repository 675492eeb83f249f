package ops_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

func incrItemCases() []meterCase {
	start := Meter{
		Hits:    map[string]int{"a": 5, "b": 1},
		Hits8:   map[string]int8{"a": 100},
		HitsU:   map[string]uint64{"a": 2, "max": math.MaxUint64},
		Weights: map[string]float64{"a": 1.5},
		W32:     map[string]float32{"a": 0.5},
		Tags:    []string{"t"},
	}
	with := func(fn func(m *Meter)) Meter {
		m := edited(start, func(m *Meter) {
			// copies of the maps, so that cases do not share them
			m.Hits, m.Hits8, m.HitsU = clone(m.Hits), clone(m.Hits8), clone(m.HitsU)
			m.Weights, m.W32 = clone(m.Weights), clone(m.W32)
		})
		fn(&m)
		return m
	}
	y := func(name string, o ops.Op, want Meter, check func(*testing.T, *tx.Result)) meterCase {
		return meterCase{name: name, start: with(func(*Meter) {}), batch: tx.Of(o), want: want, yield: check}
	}
	fail := func(name string, start Meter, o []ops.Op, err error, text string) meterCase {
		// an append and a SetItem before the ops: they must not be written either
		b := tx.Of(ops.Append(Tags, "w"), ops.SetItem(Hits, "w", 1)).Then(o...)
		return meterCase{name: name, start: start, batch: b, err: err, text: text}
	}
	of := func(o ...ops.Op) []ops.Op { return o }
	near := with(func(m *Meter) { m.Weights["a"], m.W32["a"] = math.MaxFloat64, 3e38 })
	corrupt := func(field, item, value string) func(ctx context.Context, b *testenv.Backend, m *rapyer.Model[Meter]) error {
		return func(ctx context.Context, b *testenv.Backend, m *rapyer.Model[Meter]) error {
			k, _ := m.Key("x")
			return b.Client.HSet(ctx, k+":"+field, item, value).Err()
		}
	}
	i1, i2, i3 := ops.IncrItem(Hits, "a", 3), ops.IncrItem(Hits, "new", 2), ops.IncrItem(Hits, "b", -4)
	i8, iu := ops.IncrItem(Hits8, "a", 27), ops.IncrItem(HitsU, "a", 1<<40)
	f1, f2, f3 := ops.IncrItem(Weights, "a", 0.25), ops.IncrItem(Weights, "z", -0.125), ops.IncrItem(W32, "a", 0.25)
	set, del, pop := ops.IncrItem(Hits, "a", 1), ops.IncrItem(Hits, "b", 1), ops.IncrItem(Hits, "a", 1)
	cleared, whole := ops.IncrItem(Hits, "a", 1), ops.IncrItem(Hits, "a", 1)
	return []meterCase{
		y("IncrItem", i1, with(func(m *Meter) { m.Hits["a"] = 8 }), yields(i1, 8)),
		y("IncrItem of a missing item counts from 0", i2, with(func(m *Meter) { m.Hits["new"] = 2 }), yields(i2, 2)),
		y("IncrItem by a negative step", i3, with(func(m *Meter) { m.Hits["b"] = -3 }), yields(i3, -3)),
		y("IncrItem int8 to its max", i8, with(func(m *Meter) { m.Hits8["a"] = 127 }), yields(i8, int8(127))),
		y("IncrItem uint64", iu, with(func(m *Meter) { m.HitsU["a"] = 2 + 1<<40 }), yields(iu, uint64(2+1<<40))),
		y("IncrItem float", f1, with(func(m *Meter) { m.Weights["a"] = 1.75 }), yields(f1, 1.75)),
		y("IncrItem float of a missing item", f2, with(func(m *Meter) { m.Weights["z"] = -0.125 }), yields(f2, -0.125)),
		y("IncrItem float32", f3, with(func(m *Meter) { m.W32["a"] = 0.75 }), yields(f3, float32(0.75))),
		{name: "IncrItem of a map that does not exist yet", start: Meter{Tags: []string{"t"}},
			batch: tx.Of(i2), want: Meter{Tags: []string{"t"}, Hits: map[string]int{"new": 2}}, yield: yields(i2, 2)},
		{name: "IncrItem sees a SetItem before it", start: with(func(*Meter) {}),
			batch: tx.Of(ops.SetItem(Hits, "a", 100), set), want: with(func(m *Meter) { m.Hits["a"] = 101 }), yield: yields(set, 101)},
		{name: "IncrItem sees a DeleteItems before it", start: with(func(*Meter) {}),
			batch: tx.Of(ops.DeleteItems(Hits, "b"), del), want: with(func(m *Meter) { m.Hits["b"] = 1 }), yield: yields(del, 1)},
		{name: "IncrItem sees a PopItem before it", start: with(func(*Meter) {}),
			batch: tx.Of(ops.PopItem(Hits, "a", 0), pop), want: with(func(m *Meter) { m.Hits["a"] = 1 }), yield: yields(pop, 1)},
		{name: "IncrItem sees a Clear before it", start: with(func(*Meter) {}),
			batch: tx.Of(ops.ClearItems(Hits), cleared), want: with(func(m *Meter) { m.Hits = map[string]int{"a": 1} }), yield: yields(cleared, 1)},
		{name: "IncrItem sees a Set of the map before it", start: with(func(*Meter) {}),
			batch: tx.Of(ops.Set(Hits, map[string]int{"a": 41}), whole), want: with(func(m *Meter) { m.Hits = map[string]int{"a": 42} }), yield: yields(whole, 42)},
		{name: "two IncrItem add up", start: with(func(*Meter) {}),
			batch: tx.Of(ops.IncrItem(Hits, "a", 1), ops.IncrItem(Hits, "a", 1)), want: with(func(m *Meter) { m.Hits["a"] = 7 })},

		fail("IncrItem int8 past its max", start, of(ops.IncrItem(Hits8, "a", 28)), rapyer.ErrOverflow, `IncrItem(hits8, "a", 28)`),
		fail("two IncrItem int8 past its max together", start, of(ops.IncrItem(Hits8, "a", 20), ops.IncrItem(Hits8, "a", 20)), rapyer.ErrOverflow, `IncrItem(hits8, "a", 20)`),
		fail("IncrItem int8 of a missing item past its min", start, of(ops.IncrItem(Hits8, "z", -100), ops.IncrItem(Hits8, "z", -29)), rapyer.ErrOverflow, `IncrItem(hits8, "z", -29)`),
		fail("IncrItem of an item past int64", start, of(ops.IncrItem(HitsU, "max", 1)), rapyer.ErrOverflow, `IncrItem(hits_u, "max", 1)`),
		fail("IncrItem uint64 by a step past int64", start, of(ops.IncrItem(HitsU, "a", math.MaxInt64+1)), rapyer.ErrOverflow, "HINCRBY takes steps up to 2^63-1"),
		fail("IncrItem float past the float range", near, of(ops.IncrItem(Weights, "a", math.MaxFloat64)), rapyer.ErrOverflow, `IncrItem(weights, "a"`),
		fail("IncrItem float32 past its range", near, of(ops.IncrItem(W32, "a", 3e38)), rapyer.ErrOverflow, `IncrItem(w32, "a"`),
		fail("IncrItem by an infinite step", start, of(ops.IncrItem(Weights, "a", math.Inf(1))), rapyer.ErrInvalid, "finite"),
		fail("IncrItem after a PopAnyItem of the map", start, of(ops.PopAnyItem(Hits), ops.IncrItem(Hits, "a", 1)), rapyer.ErrInvalid, "PopAnyItem"),
		{name: "IncrItem of an item holding text", start: with(func(*Meter) {}), setup: corrupt("hits", "a", "abc"),
			batch: tx.Of(ops.Append(Tags, "w"), ops.IncrItem(Hits, "a", 1)), err: rapyer.ErrCorrupt, text: `IncrItem(hits, "a", 1)`},
		{name: "IncrItem float of an item holding text", start: with(func(*Meter) {}), setup: corrupt("weights", "a", "1.5x"),
			batch: tx.Of(ops.Append(Tags, "w"), ops.IncrItem(Weights, "a", 1)), err: rapyer.ErrCorrupt, text: `IncrItem(weights, "a", 1)`},
		{name: "IncrItem of a map key of another type", start: Meter{Tags: []string{"t"}},
			setup: func(ctx context.Context, b *testenv.Backend, m *rapyer.Model[Meter]) error {
				k, _ := m.Key("x")
				return b.Client.Set(ctx, k+":hits", "x", 0).Err()
			},
			batch: tx.Of(ops.Append(Tags, "w"), ops.IncrItem(Hits, "a", 1)), err: rapyer.ErrWrongType, text: "hits"},
	}
}

func clone[M ~map[K]V, K comparable, V any](m M) M {
	out := make(M, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestIncrItem: incrementing map items on every backend, and the failures,
// which write nothing.
func TestIncrItem(t *testing.T) { runMeterCases(t, incrItemCases()) }

// IncrItem is Python's m[k] += n on a map of numbers: a missing item
// counts as 0.
func ExampleIncrItem() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Page struct{ Views map[string]int }
	views := lens.Of(func(p *Page) *map[string]int { return &p.Views })
	pages := rapyer.MustNew[Page](rdb, rapyer.Options{})
	_ = pages.Save(ctx, "home", Page{Views: map[string]int{"en": 10}})

	en, fr := ops.IncrItem(views, "en", 1), ops.IncrItem(views, "fr", 1)
	res, err := pages.Exec(ctx, "home", tx.Of(en, fr))
	fmt.Println(err)
	fmt.Println(en.Result(res))
	fmt.Println(fr.Result(res))
	p, _ := pages.Get(ctx, "home")
	fmt.Println(p.Views)
	// Output:
	// <nil>
	// 11 <nil>
	// 1 <nil>
	// map[en:11 fr:1]
}
