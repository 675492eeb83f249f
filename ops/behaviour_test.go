package ops_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// strict compares models read back: empty and nil collections are alike
// (Redis keeps no empty keys), and times must be the same instant written
// with the same offset and nanoseconds.
var strict = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b time.Time) bool {
		return a.Equal(b) && a.Format(time.RFC3339Nano) == b.Format(time.RFC3339Nano)
	}),
}

// opCase is one op (or a short batch) run on a stored model.
type opCase struct {
	name    string
	on      string // the collection the batch works on, "" for the root hash
	start   Acct   // saved first
	batch   tx.Batch
	want    Acct                             // read back with Get after the batch
	yield   func(t *testing.T, r *tx.Result) // checks what the ops yielded
	gone    bool                             // the batch deletes the model
	creates bool                             // the batch creates a missing model
}

func yields[A any](y *ops.Yield[A], want A) func(*testing.T, *tx.Result) {
	return func(t *testing.T, r *tx.Result) {
		t.Helper()
		got, err := y.Result(r)
		if err != nil {
			t.Errorf("%s: Result: %v", y, err)
			return
		}
		if diff := cmp.Diff(want, got, strict); diff != "" {
			t.Errorf("%s yielded %#v, want %#v", y, got, want)
		}
	}
}

func maybe[A any](m *ops.Maybe[A], want A, wantOK bool) func(*testing.T, *tx.Result) {
	return func(t *testing.T, r *tx.Result) {
		t.Helper()
		got, ok, err := m.Result(r)
		if err != nil {
			t.Errorf("%s: Result: %v", m, err)
			return
		}
		if ok != wantOK || cmp.Diff(want, got, strict) != "" {
			t.Errorf("%s yielded %#v, %v; want %#v, %v", m, got, ok, want, wantOK)
		}
	}
}

func pair[K, V any](p *ops.Pair[K, V], wantK K, wantV V) func(*testing.T, *tx.Result) {
	return func(t *testing.T, r *tx.Result) {
		t.Helper()
		k, v, err := p.Result(r)
		if err != nil {
			t.Errorf("%s: Result: %v", p, err)
			return
		}
		if cmp.Diff(wantK, k) != "" || cmp.Diff(wantV, v) != "" {
			t.Errorf("%s yielded %v=%v, want %v=%v", p, k, v, wantK, wantV)
		}
	}
}

// one is a case of one op that yields nothing.
func one(name, on string, start Acct, o ops.Op, want Acct) opCase {
	return opCase{name: name, on: on, start: start, batch: tx.Of(o), want: want}
}

// y is a case of one op that yields a value.
func y[A any](name, on string, start Acct, o *ops.Yield[A], want Acct, res A) opCase {
	return opCase{name: name, on: on, start: start, batch: tx.Of(o), want: want, yield: yields(o, res)}
}

// mb is a case of one op that may yield a value.
func mb[A any](name, on string, start Acct, o *ops.Maybe[A], want Acct, res A, ok bool) opCase {
	return opCase{name: name, on: on, start: start, batch: tx.Of(o), want: want, yield: maybe(o, res, ok)}
}

// t0 is a time in a fixed zone of +05:30, with nanoseconds, the day before a
// leap day.
var t0 = time.Date(2024, 2, 28, 12, 0, 0, 123456789, time.FixedZone("", 5*3600+1800))

var base = Acct{
	Owner: "ann", Balance: 5, Small: 100, Big: 1 << 40, Count: 5, Ratio: 1.5,
	Note: "ab", Blob: []byte("ab"), When: t0, Flag: true, Nick: ptr("annie"),
	Home:    Address{Street: "Main", City: "Oslo"},
	History: []string{"a", "b", "c"},
	Queue:   []string{"q"},
	Items:   []Item{{SKU: "s1", Qty: 1}, {SKU: "s2", Qty: 2}},
	Limits:  map[string]int{"day": 10, "week": 50},
	Flags:   set("x", "y"),
}

// with returns base changed by fn.
func with(fn func(a *Acct)) Acct { return edit(base, fn) }

func hist(h ...string) func(a *Acct) { return func(a *Acct) { a.History = h } }
func bal(n int) func(a *Acct)        { return func(a *Acct) { a.Balance = n } }
func ratio(f float64) func(a *Acct)  { return func(a *Acct) { a.Ratio = f } }
func when(t time.Time) func(a *Acct) { return func(a *Acct) { a.When = t } }
func limits(m map[string]int) func(a *Acct) {
	return func(a *Acct) { a.Limits = m }
}
func flags(e ...string) func(a *Acct) {
	return func(a *Acct) { a.Flags = set(e...) }
}

// five is base with the list [a b c d e].
var five = with(hist("a", "b", "c", "d", "e"))

func opCases() []opCase {
	zone := func(h int) *time.Location { return time.FixedZone("", h*3600) }
	utc := time.UTC
	cs := []opCase{
		// Set
		one("Set int", "", base, ops.Set(Balance, 7), with(bal(7))),
		one("Set struct", "", base, ops.Set(Home, Address{Street: "Elm"}), with(func(a *Acct) { a.Home = Address{Street: "Elm"} })),
		one("Set nil pointer", "", base, ops.Set(Nick, nil), with(func(a *Acct) { a.Nick = nil })),
		one("Set pointer", "", with(func(a *Acct) { a.Nick = nil }), ops.Set(Nick, ptr("z")), with(func(a *Acct) { a.Nick = ptr("z") })),
		one("Set time keeps the offset", "", base, ops.Set(When, t0.Add(time.Hour).In(zone(-7))), with(when(t0.Add(time.Hour).In(zone(-7))))),
		one("Set bytes", "", base, ops.Set(Blob, []byte{0, 0xff}), with(func(a *Acct) { a.Blob = []byte{0, 0xff} })),
		one("Set list", "history", base, ops.Set(History, []string{"x"}), with(hist("x"))),
		one("Set list to nil", "history", base, ops.Set(History, nil), with(hist())),
		one("Set map", "limits", base, ops.Set(Limits, map[string]int{"k": 1}), with(limits(map[string]int{"k": 1}))),
		one("Set set", "flags", base, ops.Set(Flags, set("z")), with(flags("z"))),

		// numbers
		y("Incr int", "", base, ops.Incr(Balance, 10), with(bal(15)), 15),
		y("Incr by a negative step", "", base, ops.Incr(Balance, -8), with(bal(-3)), -3),
		y("Decr int", "", base, ops.Decr(Balance, 8), with(bal(-3)), -3),
		y("Incr int8 to its max", "", base, ops.Incr(Small, 27), with(func(a *Acct) { a.Small = 127 }), int8(127)),
		y("Decr int8 to its min", "", with(func(a *Acct) { a.Small = -100 }), ops.Decr(Small, 28), with(func(a *Acct) { a.Small = -128 }), int8(-128)),
		y("Incr int64 to its max", "", with(func(a *Acct) { a.Big = math.MaxInt64 - 1 }), ops.Incr(Big, 1), with(func(a *Acct) { a.Big = math.MaxInt64 }), int64(math.MaxInt64)),
		y("Decr int64 to its min", "", with(func(a *Acct) { a.Big = math.MinInt64 + 1 }), ops.Decr(Big, 1), with(func(a *Acct) { a.Big = math.MinInt64 }), int64(math.MinInt64)),
		y("Decr uint to zero", "", base, ops.Decr(Count, 5), with(func(a *Acct) { a.Count = 0 }), uint(0)),
		y("Incr float", "", base, ops.Incr(Ratio, 0.25), with(ratio(1.75)), 1.75),
		y("Decr float", "", base, ops.Decr(Ratio, 2.5), with(ratio(-1)), -1.0),
		y("Incr float from zero", "", with(ratio(0)), ops.Incr(Ratio, -0.125), with(ratio(-0.125)), -0.125),
		// Go writes some floats with an exponent and no dot ("1e+21", "1e-07").
		y("Incr a float written with an exponent", "", with(ratio(1e21)), ops.Incr(Ratio, 1e21), with(ratio(2e21)), 2e21),
		y("Incr by a step written with an exponent", "", with(ratio(0)), ops.Incr(Ratio, 1e-7), with(ratio(1e-7)), 1e-7),
		y("Mul a float written with an exponent", "", with(ratio(1e21)), ops.Mul(Ratio, 2), with(ratio(2e21)), 2e21),
		y("FloorDiv by a float written with an exponent", "", with(ratio(1e22)), ops.FloorDiv(Ratio, 1e21), with(ratio(10)), 10.0),
		y("Min at the largest float", "", with(ratio(math.MaxFloat64)), ops.Min(Ratio, math.MaxFloat64), with(ratio(math.MaxFloat64)), math.MaxFloat64),
		y("Mul int", "", base, ops.Mul(Balance, -3), with(bal(-15)), -15),
		y("Mul float", "", base, ops.Mul(Ratio, 0.5), with(ratio(0.75)), 0.75),
		y("FloorDiv -7 by 2", "", with(bal(-7)), ops.FloorDiv(Balance, 2), with(bal(-4)), -4),
		y("FloorDiv 7 by -2", "", with(bal(7)), ops.FloorDiv(Balance, -2), with(bal(-4)), -4),
		y("FloorDiv -7 by -2", "", with(bal(-7)), ops.FloorDiv(Balance, -2), with(bal(3)), 3),
		y("FloorDiv 7 by 2", "", with(bal(7)), ops.FloorDiv(Balance, 2), with(bal(3)), 3),
		y("FloorDiv float", "", with(ratio(-7.5)), ops.FloorDiv(Ratio, 2), with(ratio(-4)), -4.0),
		y("Mod -7 by 2", "", with(bal(-7)), ops.Mod(Balance, 2), with(bal(1)), 1),
		y("Mod 7 by -2", "", with(bal(7)), ops.Mod(Balance, -2), with(bal(-1)), -1),
		y("Mod -7 by -2", "", with(bal(-7)), ops.Mod(Balance, -2), with(bal(-1)), -1),
		y("Mod 7 by 2", "", with(bal(7)), ops.Mod(Balance, 2), with(bal(1)), 1),
		y("Mod int8 min by 3", "", with(func(a *Acct) { a.Small = -128 }), ops.Mod(Small, 3), with(func(a *Acct) { a.Small = 1 }), int8(1)),
		y("Mod float", "", with(ratio(-7.5)), ops.Mod(Ratio, 2), with(ratio(0.5)), 0.5),
		y("Pow int", "", with(bal(3)), ops.Pow(Balance, 4), with(bal(81)), 81),
		y("Pow of a negative base", "", with(bal(-2)), ops.Pow(Balance, 3), with(bal(-8)), -8),
		y("Pow to the zeroth", "", base, ops.Pow(Balance, 0), with(bal(1)), 1),
		y("Pow 0 to the zeroth", "", with(bal(0)), ops.Pow(Balance, 0), with(bal(1)), 1),
		y("Pow 1 to a huge power", "", with(bal(1)), ops.Pow(Balance, 1<<52), with(bal(1)), 1),
		y("Pow -1 to a huge odd power", "", with(bal(-1)), ops.Pow(Balance, 1<<52+1), with(bal(-1)), -1),
		y("Pow -1 to a huge even power", "", with(bal(-1)), ops.Pow(Balance, 1<<52), with(bal(1)), 1),
		y("Pow 0 to a huge power", "", with(bal(0)), ops.Pow(Balance, 1<<52), with(bal(0)), 0),
		y("Pow 2 to 53 is exact", "", with(func(a *Acct) { a.Big = 2 }), ops.Pow(Big, 53), with(func(a *Acct) { a.Big = 1 << 53 }), int64(1<<53)),
		y("Pow float", "", base, ops.Pow(Ratio, 2), with(ratio(2.25)), 2.25),
		y("Pow float root", "", with(ratio(2.25)), ops.Pow(Ratio, 0.5), with(ratio(1.5)), 1.5),
		y("Max raises", "", base, ops.Max(Balance, 9), with(bal(9)), 9),
		y("Max keeps", "", base, ops.Max(Balance, 2), base, 5),
		y("Min lowers", "", base, ops.Min(Balance, 2), with(bal(2)), 2),
		y("Min keeps", "", base, ops.Min(Balance, 9), base, 5),
		y("Max is exact beyond 2^53", "", with(func(a *Acct) { a.Big = math.MaxInt64 - 1 }), ops.Max(Big, math.MaxInt64), with(func(a *Acct) { a.Big = math.MaxInt64 }), int64(math.MaxInt64)),
		y("Min of uint", "", base, ops.Min(Count, 3), with(func(a *Acct) { a.Count = 3 }), uint(3)),
		y("Min float", "", base, ops.Min(Ratio, -0.5), with(ratio(-0.5)), -0.5),

		// text
		y("AppendText string", "", base, ops.AppendText(Note, " cd"), with(func(a *Acct) { a.Note = "ab cd" }), "ab cd"),
		y("AppendText bytes", "", base, ops.AppendText(Blob, []byte{0, 0xff}), with(func(a *Acct) { a.Blob = []byte("ab\x00\xff") }), []byte("ab\x00\xff")),
		y("AppendText to an empty string", "", with(func(a *Acct) { a.Note = "" }), ops.AppendText(Note, "x"), with(func(a *Acct) { a.Note = "x" }), "x"),
		y("Repeat string", "", base, ops.Repeat(Note, 3), with(func(a *Acct) { a.Note = "ababab" }), "ababab"),
		y("Repeat string once", "", base, ops.Repeat(Note, 1), base, "ab"),
		y("Repeat bytes zero times", "", base, ops.Repeat(Blob, 0), with(func(a *Acct) { a.Blob = nil }), []byte{}),
		y("Repeat bytes", "", with(func(a *Acct) { a.Blob = []byte{0, 1} }), ops.Repeat(Blob, 2), with(func(a *Acct) { a.Blob = []byte{0, 1, 0, 1} }), []byte{0, 1, 0, 1}),

		// time: the zone offset and the nanoseconds stay
		y("AddDuration onto a leap day", "", base, ops.AddDuration(When, 24*time.Hour),
			with(when(t0.AddDate(0, 0, 1))), time.Date(2024, 2, 29, 12, 0, 0, 123456789, t0.Location())),
		y("AddDuration across a leap day", "", base, ops.AddDuration(When, 48*time.Hour),
			with(when(t0.AddDate(0, 0, 2))), time.Date(2024, 3, 1, 12, 0, 0, 123456789, t0.Location())),
		y("AddDuration back onto a leap day", "", with(when(time.Date(2024, 3, 1, 0, 0, 0, 0, zone(-7)))), ops.AddDuration(When, -time.Nanosecond),
			with(when(time.Date(2024, 2, 29, 23, 59, 59, 999999999, zone(-7)))), time.Date(2024, 2, 29, 23, 59, 59, 999999999, zone(-7))),
		y("AddDuration across a year end", "", with(when(time.Date(2023, 12, 31, 23, 59, 59, 5e8, utc))), ops.AddDuration(When, 1500*time.Millisecond),
			with(when(time.Date(2024, 1, 1, 0, 0, 1, 0, utc))), time.Date(2024, 1, 1, 0, 0, 1, 0, utc)),
		y("AddDuration in a common year", "", with(when(time.Date(2023, 2, 28, 0, 0, 0, 0, utc))), ops.AddDuration(When, 24*time.Hour),
			with(when(time.Date(2023, 3, 1, 0, 0, 0, 0, utc))), time.Date(2023, 3, 1, 0, 0, 0, 0, utc)),
		y("AddDuration in 2100, no leap year", "", with(when(time.Date(2100, 2, 28, 0, 0, 0, 0, utc))), ops.AddDuration(When, 24*time.Hour),
			with(when(time.Date(2100, 3, 1, 0, 0, 0, 0, utc))), time.Date(2100, 3, 1, 0, 0, 0, 0, utc)),
		y("AddDuration in 2000, a leap year", "", with(when(time.Date(2000, 2, 28, 0, 0, 0, 0, utc))), ops.AddDuration(When, 24*time.Hour),
			with(when(time.Date(2000, 2, 29, 0, 0, 0, 0, utc))), time.Date(2000, 2, 29, 0, 0, 0, 0, utc)),
		y("AddDuration of years keeps a negative offset", "", with(when(time.Date(2020, 1, 1, 0, 0, 0, 7, zone(-3)))), ops.AddDuration(When, 4*8766*time.Hour),
			with(when(time.Date(2020, 1, 1, 0, 0, 0, 7, zone(-3)).Add(4*8766*time.Hour))), time.Date(2020, 1, 1, 0, 0, 0, 7, zone(-3)).Add(4*8766*time.Hour)),

		// lists
		one("Append", "history", base, ops.Append(History, "d", "e"), with(hist("a", "b", "c", "d", "e"))),
		one("Append to a missing list", "history", with(hist()), ops.Append(History, "x"), with(hist("x"))),
		one("Append a struct element", "items", base, ops.Append(Items, Item{SKU: "s3", Qty: 3}),
			with(func(a *Acct) { a.Items = append(a.Items, Item{SKU: "s3", Qty: 3}) })),
		one("Prepend keeps the order given", "history", base, ops.Prepend(History, "x", "y"), with(hist("x", "y", "a", "b", "c"))),
		one("Insert at 1", "history", base, ops.InsertAt(History, 1, "z"), with(hist("a", "z", "b", "c"))),
		one("Insert at 0", "history", base, ops.InsertAt(History, 0, "z"), with(hist("z", "a", "b", "c"))),
		one("Insert at -1", "history", base, ops.InsertAt(History, -1, "z"), with(hist("a", "b", "z", "c"))),
		one("Insert at -3", "history", base, ops.InsertAt(History, -3, "z"), with(hist("z", "a", "b", "c"))),
		one("Insert at -10 clamps to the start", "history", base, ops.InsertAt(History, -10, "z"), with(hist("z", "a", "b", "c"))),
		one("Insert at the length", "history", base, ops.InsertAt(History, 3, "z"), with(hist("a", "b", "c", "z"))),
		one("Insert at 10 clamps to the end", "history", base, ops.InsertAt(History, 10, "z"), with(hist("a", "b", "c", "z"))),
		one("Insert into an empty list", "history", with(hist()), ops.InsertAt(History, 5, "z"), with(hist("z"))),
		mb("PopLast", "history", base, ops.PopLast(History), with(hist("a", "b")), "c", true),
		mb("PopLast of an empty list", "history", with(hist()), ops.PopLast(History), with(hist()), "", false),
		mb("PopFirst", "history", base, ops.PopFirst(History), with(hist("b", "c")), "a", true),
		mb("PopFirst of an empty list", "history", with(hist()), ops.PopFirst(History), with(hist()), "", false),
		mb("PopFirst of a struct element", "items", base, ops.PopFirst(Items), with(func(a *Acct) { a.Items = a.Items[1:] }), Item{SKU: "s1", Qty: 1}, true),
		mb("PopAt 1", "history", base, ops.PopAt(History, 1), with(hist("a", "c")), "b", true),
		mb("PopAt -1", "history", base, ops.PopAt(History, -1), with(hist("a", "b")), "c", true),
		mb("PopAt -3", "history", base, ops.PopAt(History, -3), with(hist("b", "c")), "a", true),
		mb("PopAt 3 is out of range", "history", base, ops.PopAt(History, 3), base, "", false),
		mb("PopAt -4 is out of range", "history", base, ops.PopAt(History, -4), base, "", false),
		mb("PopAt of an empty list", "history", with(hist()), ops.PopAt(History, 0), with(hist()), "", false),
		one("SetAt 1", "history", base, ops.SetAt(History, 1, "B"), with(hist("a", "B", "c"))),
		one("SetAt -1", "history", base, ops.SetAt(History, -1, "C"), with(hist("a", "b", "C"))),
		one("SetAt -3", "history", base, ops.SetAt(History, -3, "A"), with(hist("A", "b", "c"))),
		{name: "SetAt an element appended in the same batch", on: "history", start: base,
			batch: tx.Of(ops.Append(History, "d"), ops.SetAt(History, 3, "D")), want: with(hist("a", "b", "c", "D"))},
		func() opCase {
			pop := ops.PopLast(History)
			return opCase{name: "SetAt -1 after a pop in the same batch", on: "history", start: base,
				batch: tx.Of(pop, ops.SetAt(History, -1, "B")), want: with(hist("a", "B")), yield: maybe(pop, "c", true)}
		}(),
		y("RemoveRange 1:3", "history", five, ops.RemoveRange(History, 1, 3), with(hist("a", "d", "e")), 2),
		y("RemoveRange -2:End", "history", five, ops.RemoveRange(History, -2, ops.End), with(hist("a", "b", "c")), 2),
		y("RemoveRange -10:2 clamps", "history", five, ops.RemoveRange(History, -10, 2), with(hist("c", "d", "e")), 2),
		y("RemoveRange 2:100 clamps", "history", five, ops.RemoveRange(History, 2, 100), with(hist("a", "b")), 3),
		y("RemoveRange 3:1 removes nothing", "history", five, ops.RemoveRange(History, 3, 1), five, 0),
		y("RemoveRange -1:-3 removes nothing", "history", five, ops.RemoveRange(History, -1, -3), five, 0),
		y("RemoveRange 0:End empties", "history", five, ops.RemoveRange(History, 0, ops.End), with(hist()), 5),
		y("RemoveRange of an empty list", "history", with(hist()), ops.RemoveRange(History, 0, ops.End), with(hist()), 0),
		one("Trim 1:-1", "history", five, ops.Trim(History, 1, -1), with(hist("b", "c", "d"))),
		one("Trim -2:End", "history", five, ops.Trim(History, -2, ops.End), with(hist("d", "e"))),
		one("Trim -100:2 clamps", "history", five, ops.Trim(History, -100, 2), with(hist("a", "b"))),
		one("Trim 0:100 keeps all", "history", five, ops.Trim(History, 0, 100), five),
		one("Trim 0:End keeps all", "history", five, ops.Trim(History, 0, ops.End), five),
		one("Trim 3:1 empties", "history", five, ops.Trim(History, 3, 1), with(hist())),
		y("Remove the first equal element", "history", with(hist("a", "b", "c", "b")), ops.Remove(History, "b"), with(hist("a", "c", "b")), 1),
		y("Remove a missing element", "history", base, ops.Remove(History, "z"), base, 0),
		y("RemoveAll", "history", with(hist("a", "b", "c", "b")), ops.RemoveAll(History, "b"), with(hist("a", "c")), 2),
		y("Remove a struct element", "items", base, ops.Remove(Items, Item{SKU: "s1", Qty: 1}), with(func(a *Acct) { a.Items = a.Items[1:] }), 1),
		y("Len of a list", "history", base, ops.Len(History), base, 3),
		y("Len of an empty list", "queue", with(func(a *Acct) { a.Queue = nil }), ops.Len(Queue), with(func(a *Acct) { a.Queue = nil }), 0),
		y("Size of a map", "limits", base, ops.Size(Limits), base, 2),
		y("Size of a set", "flags", base, ops.Size(Flags), base, 2),
		one("Clear a list", "history", base, ops.Clear(History), with(hist())),
		one("ClearItems of a map", "limits", base, ops.ClearItems(Limits), with(limits(nil))),
		one("ClearItems of a set", "flags", base, ops.ClearItems(Flags), with(flags())),
		mb("Move last to first", "history", base, ops.Move(History, ops.Last, Queue, ops.First),
			with(func(a *Acct) { a.History = []string{"a", "b"}; a.Queue = []string{"c", "q"} }), "c", true),
		mb("Move first to last", "history", base, ops.Move(History, ops.First, Queue, ops.Last),
			with(func(a *Acct) { a.History = []string{"b", "c"}; a.Queue = []string{"q", "a"} }), "a", true),
		mb("Move to a missing list", "history", with(func(a *Acct) { a.Queue = nil }), ops.Move(History, ops.First, Queue, ops.Last),
			with(func(a *Acct) { a.History = []string{"b", "c"}; a.Queue = []string{"a"} }), "a", true),
		mb("Move from an empty list", "history", with(hist()), ops.Move(History, ops.Last, Queue, ops.First), with(hist()), "", false),
		mb("Move within one list rotates it", "history", base, ops.Move(History, ops.Last, History, ops.First), with(hist("c", "a", "b")), "c", true),

		// maps
		one("SetItem adds", "limits", base, ops.SetItem(Limits, "month", 100), with(limits(map[string]int{"day": 10, "week": 50, "month": 100}))),
		one("SetItem overwrites", "limits", base, ops.SetItem(Limits, "day", 1), with(limits(map[string]int{"day": 1, "week": 50}))),
		one("SetItem into a missing map", "limits", with(limits(nil)), ops.SetItem(Limits, "k", 0), with(limits(map[string]int{"k": 0}))),
		one("SetItems", "limits", base, ops.SetItems(Limits, map[string]int{"a": 1, "day": 2}), with(limits(map[string]int{"a": 1, "day": 2, "week": 50}))),
		y("DeleteItems counts the keys that were there", "limits", base, ops.DeleteItems(Limits, "day", "nope"), with(limits(map[string]int{"week": 50})), 1),
		mb("PopItem", "limits", base, ops.PopItem(Limits, "day", -1), with(limits(map[string]int{"week": 50})), 10, true),
		mb("PopItem of a missing key yields the default", "limits", base, ops.PopItem(Limits, "nope", -1), base, -1, false),
		mb("GetItem", "limits", base, ops.GetItem(Limits, "week"), base, 50, true),
		mb("GetItem of a missing key", "limits", base, ops.GetItem(Limits, "nope"), base, 0, false),
		func() opCase {
			get := ops.GetItem(Limits, "day")
			return opCase{name: "GetItem sees a SetItem earlier in the batch", on: "limits", start: base,
				batch: tx.Of(ops.SetItem(Limits, "day", 11), get), want: with(limits(map[string]int{"day": 11, "week": 50})), yield: maybe(get, 11, true)}
		}(),
		func() opCase {
			pop := ops.PopAnyItem(Limits)
			return opCase{name: "PopAnyItem", on: "limits", start: with(limits(map[string]int{"only": 7})),
				batch: tx.Of(pop), want: with(limits(nil)), yield: pair(pop, "only", 7)}
		}(),
		func() opCase {
			pop := ops.PopAnyItem(Limits)
			return opCase{name: "PopAnyItem of an empty map", on: "limits", start: with(limits(nil)),
				batch: tx.Of(pop, ops.Incr(Balance, 1)), want: with(func(a *Acct) { a.Limits = nil; a.Balance = 6 }),
				yield: func(t *testing.T, r *tx.Result) {
					k, v, err := pop.Result(r)
					if !errors.Is(err, rapyer.ErrEmpty) {
						t.Errorf("PopAnyItem of an empty map: %q, %d, %v; want ErrEmpty", k, v, err)
					}
				}}
		}(),
		y("Check Key of a present key", "limits", base, ops.Check(is.Key(Limits, "day")), base, true),
		y("Check Key of a missing key", "limits", base, ops.Check(is.Key(Limits, "nope")), base, false),

		// sets
		y("Add counts the new members", "flags", base, ops.Add(Flags, "y", "z", "w"), with(flags("x", "y", "z", "w")), 2),
		y("Add to a missing set", "flags", with(flags()), ops.Add(Flags, "a"), with(flags("a")), 1),
		y("Discard counts the members that were there", "flags", base, ops.Discard(Flags, "x", "nope"), with(flags("y")), 1),
		y("Discard the last member", "flags", with(flags("x")), ops.Discard(Flags, "x"), with(flags()), 1),
		y("Check Member of a member", "flags", base, ops.Check(is.Member(Flags, "x")), base, true),
		y("Check Member of a non-member", "flags", base, ops.Check(is.Member(Flags, "q")), base, false),

		// the model
		{name: "Replace", start: base, creates: true,
			batch: tx.Of(ops.Replace(Acct{Owner: "zed", Balance: 1, Queue: []string{"n"}, Limits: map[string]int{"k": 1}})),
			want:  Acct{Owner: "zed", Balance: 1, Queue: []string{"n"}, Limits: map[string]int{"k": 1}}},
		{name: "Replace then change in one batch", start: base, creates: true,
			batch: tx.Of(ops.Replace(Acct{Owner: "zed"}), ops.Incr(Balance, 2), ops.Append(History, "new")),
			want:  Acct{Owner: "zed", Balance: 2, History: []string{"new"}}},
		{name: "Delete", start: base, batch: tx.Of(ops.Delete[Acct]()), gone: true},
		one("Expire", "", base, ops.Expire[Acct](time.Hour), base),
		one("Persist", "", base, ops.Persist[Acct](), base),
	}

	// guards that hold: the write after them applies
	guards := []struct {
		on string
		g  ops.Op
	}{
		{"", ops.Require(is.Equal(Owner, "ann"))},
		{"", ops.Require(is.NotEqual(Owner, "bob"))},
		{"", ops.Require(is.Below(Balance, 6))},
		{"", ops.Require(is.AtMost(Balance, 5))},
		{"", ops.Require(is.Above(Balance, 4))},
		{"", ops.Require(is.AtLeast(Balance, 5))},
		{"", ops.Require(is.AtLeast(Big, 1<<40))},
		{"", ops.Require(is.Below(Count, 6))},
		{"", ops.Require(is.Above(Ratio, 1.25))},
		{"", ops.Require(is.Above(Ratio, 1e-7))},
		{"", ops.Require(is.Below(Ratio, 1e21))},
		{"", ops.Require(is.Below(Note, "b"))},
		{"", ops.Require(is.Equal(Flag, true))},
		{"", ops.Require(is.Equal(When, t0.UTC()))}, // the same instant in another zone
		{"", ops.Require(is.Below(When, t0.Add(time.Nanosecond)))},
		{"", ops.Require(is.AtMost(When, t0))},
		{"", ops.Require(is.Above(When, time.Date(2024, 2, 28, 6, 30, 0, 123456788, time.UTC)))},
		{"history", ops.Require(is.Equal(is.Len(History), 3))},
		{"queue", ops.Require(is.NotEqual(is.Len(Queue), 0))},
		{"limits", ops.Require(is.AtLeast(is.Size(Limits), 2))},
		{"flags", ops.Require(is.Below(is.Size(Flags), 3))},
		{"flags", ops.Require(is.AtMost(is.Size(Flags), 2))},
		{"history", ops.Require(is.Above(is.Len(History), 2))},
		{"limits", ops.Require(is.Key(Limits, "day"))},
		{"limits", ops.Require(is.Not(is.Key(Limits, "nope")))},
		{"flags", ops.Require(is.Member(Flags, "x"))},
		{"flags", ops.Require(is.Not(is.Member(Flags, "nope")))},
		{"history", ops.Require(is.Element(History, "b"))},
		{"history", ops.Require(is.Not(is.Element(History, "z")))},
		{"items", ops.Require(is.Element(Items, Item{SKU: "s2", Qty: 2}))},
		{"flags", ops.Require(is.And(is.Equal(Owner, "ann"), is.Member(Flags, "x"), is.Below(is.Len(History), 4)))},
		{"flags", ops.Require(is.Or(is.Equal(Owner, "bob"), is.Member(Flags, "x")))},
		{"", ops.Require(is.In(Balance, 1, 5, 9))},
		{"limits", ops.Require(is.Not(is.Or(is.Equal(Owner, "bob"), is.Key(Limits, "nope"))))},
		// VersionIs holding: TestVersionIs (a created model's version comes
		// from the server's clock)
		{"", ops.Exists[Acct]()},
	}
	for _, g := range guards {
		cs = append(cs, opCase{name: "guard " + g.g.String() + " holds", on: g.on, start: base,
			batch: tx.Of(g.g, ops.Incr(Balance, 1)), want: with(bal(6))})
	}
	// A guard is checked against the model as the batch found it, wherever
	// it stands in the batch.
	cs = append(cs, opCase{name: "a guard after a write sees the value before it", start: base,
		batch: tx.Of(ops.Incr(Balance, 10), ops.Require(is.AtMost(Balance, 5))), want: with(bal(15))})
	return cs
}

// named is a table case: its name names its subtest.
type named interface{ caseName() string }

func (c opCase) caseName() string    { return c.name }
func (c failCase) caseName() string  { return c.name }
func (c limitCase) caseName() string { return c.name }

// eachCase runs run on every backend, as a subtest per case named after it;
// i numbers the case, so that newModel gives each case keys of its own.
func eachCase[C named](t *testing.T, cases []C, run func(t *testing.T, b *testenv.Backend, i int, c C)) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for i, c := range cases {
			t.Run(c.caseName(), func(t *testing.T) { run(t, b, i, c) })
		}
	})
}

// newModel returns a model of Acct whose keys no other case shares.
func newModel(t *testing.T, b *testenv.Backend, i int) *rapyer.Model[Acct] {
	t.Helper()
	m, err := rapyer.New[Acct](b.Client, rapyer.Options{Prefix: fmt.Sprintf("%sc%d", b.Prefix, i)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// keysOf lists the keys that start with the model's prefix, on every master
// of a cluster.
func keysOf(t *testing.T, b *testenv.Backend, m *rapyer.Model[Acct]) []string {
	t.Helper()
	ctx := context.Background()
	pattern := m.Prefix() + ":*"
	var out []string
	if c, ok := b.Client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			ks, err := n.Keys(ctx, pattern).Result()
			mu.Lock()
			out = append(out, ks...)
			mu.Unlock()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	} else {
		ks, err := b.Client.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		out = ks
	}
	slices.Sort(out)
	return out
}

func requireNoKeys(t *testing.T, b *testenv.Backend, m *rapyer.Model[Acct], id string) {
	t.Helper()
	if ks := keysOf(t, b, m); len(ks) > 0 {
		t.Errorf("keys were created: %v", ks)
	}
	ks, err := m.Keys(id)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := existing(b, ks); err != nil || n != 0 {
		t.Errorf("EXISTS of the model's keys = %d, %v; want 0", n, err)
	}
}

// existing counts the keys that exist (one EXISTS: the keys of a model
// share a cluster slot).
func existing(b *testenv.Backend, ks []string) (int64, error) {
	return b.Client.Exists(context.Background(), ks...).Result()
}

// snapshot reads every key of model id raw: its type and its content.
func snapshot(t *testing.T, b *testenv.Backend, m *rapyer.Model[Acct], id string) map[string]any {
	t.Helper()
	ctx := context.Background()
	ks, err := m.Keys(id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, k := range ks {
		typ, err := b.Client.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "hash":
			v, err = b.Client.HGetAll(ctx, k).Result()
		case "list":
			v, err = b.Client.LRange(ctx, k, 0, -1).Result()
		case "set":
			var ms []string
			ms, err = b.Client.SMembers(ctx, k).Result()
			slices.Sort(ms)
			v = ms
		case "string":
			v, err = b.Client.Get(ctx, k).Result()
		case "none":
			continue
		default:
			t.Fatalf("%s is a %s", k, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		out[k+" "+typ] = v
	}
	return out
}

// unchanged fails t when model x of m is not as snapshot took it before;
// what says what changed it.
func unchanged(t *testing.T, b *testenv.Backend, m *rapyer.Model[Acct], before map[string]any, what string) {
	t.Helper()
	if diff := cmp.Diff(before, snapshot(t, b, m, "x")); diff != "" {
		t.Errorf("%s (-before +after):\n%s", what, diff)
	}
}

func save(t *testing.T, m *rapyer.Model[Acct], id string, v Acct) {
	t.Helper()
	if err := m.Save(context.Background(), id, v); err != nil {
		t.Fatalf("save: %v", err)
	}
}

func root(t *testing.T, m *rapyer.Model[Acct], id string) string {
	t.Helper()
	k, err := m.Key(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func colKey(t *testing.T, m *rapyer.Model[Acct], id, name string) string {
	t.Helper()
	return root(t, m, id) + ":" + name
}

// TestOpsApply runs every case on a stored model: the value read back, what
// the ops yield.
func TestOpsApply(t *testing.T) {
	eachCase(t, opCases(), func(t *testing.T, b *testenv.Backend, i int, c opCase) {
		ctx := context.Background()
		m := newModel(t, b, i)
		save(t, m, "x", c.start)
		res, err := m.Exec(ctx, "x", c.batch)
		if err != nil {
			t.Fatalf("exec %s: %v", strings.TrimSpace(c.batch.String()), err)
		}
		if res.Skipped {
			t.Fatal("skipped")
		}
		if c.yield != nil {
			c.yield(t, res)
		}
		got, err := m.Get(ctx, "x")
		if c.gone {
			if !errors.Is(err, rapyer.ErrNotFound) {
				t.Fatalf("Get after the batch: %+v, %v; want ErrNotFound", got, err)
			}
			ks, _ := m.Keys("x")
			if n, err := existing(b, ks); err != nil || n != 0 {
				t.Fatalf("%d keys of the model are left (%v)", n, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Get after the batch: %v", err)
		}
		if diff := cmp.Diff(c.want, got, strict); diff != "" {
			t.Errorf("model after %s (-want +got):\n%s", strings.TrimSpace(c.batch.String()), diff)
		}
	})
}

// TestOpsOnAMissingModel: every batch on a model that does not exist fails
// with rapyer.ErrNotFound and creates no key.
func TestOpsOnAMissingModel(t *testing.T) {
	cases := opCases()
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for i, c := range cases {
			if c.creates {
				continue // Replace creates a missing model; see TestReplaceOnAMissingModel
			}
			t.Run(c.name, func(t *testing.T) {
				m := newModel(t, b, i)
				res, err := m.Exec(context.Background(), "x", c.batch)
				if !errors.Is(err, rapyer.ErrNotFound) {
					t.Fatalf("exec on a missing model: %+v, %v; want ErrNotFound", res, err)
				}
				requireNoKeys(t, b, m, "x")
			})
		}
	})
}

// TestOpsSkipIfMissing: with SkipIfMissing every batch on a missing
// model does nothing, says so, and yields nothing.
func TestOpsSkipIfMissing(t *testing.T) {
	eachCase(t, opCases(), func(t *testing.T, b *testenv.Backend, i int, c opCase) {
		m := newModel(t, b, i)
		res, err := m.Exec(context.Background(), "x", c.batch, rapyer.SkipIfMissing())
		if err != nil || res == nil || !res.Skipped {
			t.Fatalf("exec on a missing model with SkipIfMissing: %+v, %v; want Skipped", res, err)
		}
		for _, o := range c.batch.Ops() {
			if raw, ok := res.Reply(o); ok {
				t.Errorf("a skipped batch has a reply for %s: %v", o, raw)
			}
		}
		requireNoKeys(t, b, m, "x")
	})
}

// TestOpsOnAWrongStoredType: a key holding another Redis type than the
// model's fails the batch with rapyer.ErrWrongType, and nothing changes.
func TestOpsOnAWrongStoredType(t *testing.T) {
	eachCase(t, opCases(), func(t *testing.T, b *testenv.Backend, i int, c opCase) {
		ctx := context.Background()
		m := newModel(t, b, i)
		if c.on == "" {
			// The root is a list where a hash should be.
			r := root(t, m, "x")
			if err := b.Client.RPush(ctx, r, "x").Err(); err != nil {
				t.Fatal(err)
			}
			_, err := m.Exec(ctx, "x", c.batch)
			if !errors.Is(err, rapyer.ErrWrongType) {
				t.Fatalf("exec with a list at the root: %v; want ErrWrongType", err)
			}
			if ks := keysOf(t, b, m); !slices.Equal(ks, []string{r}) {
				t.Errorf("keys after: %v, want only %s", ks, r)
			}
			if l, err := b.Client.LRange(ctx, r, 0, -1).Result(); err != nil || !slices.Equal(l, []string{"x"}) {
				t.Errorf("the root list became %v, %v", l, err)
			}
			return
		}
		// The collection is a string.
		save(t, m, "x", c.start)
		k := colKey(t, m, "x", c.on)
		if err := b.Client.Set(ctx, k, "str", 0).Err(); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, b, m, "x")
		_, err := m.Exec(ctx, "x", c.batch)
		if !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("exec with a string at %s: %v; want ErrWrongType", k, err)
		}
		if !strings.Contains(err.Error(), k) {
			t.Errorf("the error does not name the key %s: %v", k, err)
		}
		unchanged(t, b, m, before, "a failed batch changed the model")
	})
}

// failCase is a batch that must fail on a stored model and change nothing.
type failCase struct {
	name  string
	start Acct
	setup func(ctx context.Context, b *testenv.Backend, root string) error // corrupts the stored model
	batch tx.Batch
	err   error
	text  string // the error names the op or guard that failed
}

func failCases() []failCase {
	noop := tx.Of(ops.Append(History, "w"), ops.Incr(Balance, 1), ops.SetItem(Limits, "w", 1), ops.Add(Flags, "w"))
	guard := func(g ops.Op) tx.Batch { return noop.Then(g).Then(ops.Append(Queue, "w")) }
	cs := []failCase{
		{name: "SetAt out of range fails the whole batch", start: base,
			batch: tx.Of(ops.Append(History, "d"), ops.Incr(Balance, 1), ops.SetAt(History, 4, "x")),
			err:   rapyer.ErrOutOfRange, text: `SetAt(history, 4, "x")`},
		{name: "SetAt -5", start: base, batch: noop.Then(ops.SetAt(History, -5, "x")), err: rapyer.ErrOutOfRange, text: "SetAt(history, -5"},
		{name: "SetAt in an empty list", start: with(func(a *Acct) { a.Queue = nil }), batch: noop.Then(ops.SetAt(Queue, 0, "x")), err: rapyer.ErrOutOfRange, text: "SetAt(queue, 0"},
		{name: "SetAt after a pop empties the list", start: with(hist("a")), batch: tx.Of(ops.PopLast(History), ops.SetAt(History, 0, "x")), err: rapyer.ErrOutOfRange, text: "SetAt(history, 0"},
		{name: "Incr int8 past its max", start: base, batch: noop.Then(ops.Incr(Small, 28)), err: rapyer.ErrOverflow, text: "Incr(small, 28)"},
		{name: "Decr int8 past its min", start: with(func(a *Acct) { a.Small = -100 }), batch: noop.Then(ops.Decr(Small, 29)), err: rapyer.ErrOverflow, text: "Decr(small, 29)"},
		{name: "Incr int64 max by 1", start: with(func(a *Acct) { a.Big = math.MaxInt64 }), batch: noop.Then(ops.Incr(Big, 1)), err: rapyer.ErrOverflow, text: "Incr(big, 1)"},
		{name: "Decr int64 min by 1", start: with(func(a *Acct) { a.Big = math.MinInt64 }), batch: noop.Then(ops.Decr(Big, 1)), err: rapyer.ErrOverflow, text: "Decr(big, 1)"},
		{name: "Decr uint below 0", start: base, batch: noop.Then(ops.Decr(Count, 6)), err: rapyer.ErrOverflow, text: "Decr(count, 6)"},
		{name: "two Incr past the max together", start: base, batch: noop.Then(ops.Incr(Small, 20), ops.Incr(Small, 20)), err: rapyer.ErrOverflow, text: "Incr(small, 20)"},
		{name: "Incr float past the float range", start: with(ratio(math.MaxFloat64)), batch: noop.Then(ops.Incr(Ratio, math.MaxFloat64)), err: rapyer.ErrOverflow, text: "Incr(ratio"},
		{name: "Mul int8 overflow", start: base, batch: noop.Then(ops.Mul(Small, 2)), err: rapyer.ErrOverflow, text: "Mul(small, 2)"},
		{name: "Mul beyond 2^53", start: base, batch: noop.Then(ops.Mul(Big, 1<<20)), err: rapyer.ErrOverflow, text: "Mul(big"},
		{name: "Pow int8 overflow", start: base, batch: noop.Then(ops.Pow(Small, 2)), err: rapyer.ErrOverflow, text: "Pow(small, 2)"},
		{name: "Pow beyond 2^53", start: with(bal(2)), batch: noop.Then(ops.Pow(Balance, 54)), err: rapyer.ErrOverflow, text: "Pow(balance, 54)"},
		{name: "Pow of a huge base to a huge power", start: with(bal(3)), batch: noop.Then(ops.Pow(Balance, 1<<52)), err: rapyer.ErrOverflow, text: "Pow(balance"},
		{name: "Pow negative exponent", start: base, batch: noop.Then(ops.Pow(Balance, -1)), err: rapyer.ErrInvalid, text: "negative exponent"},
		{name: "FloorDiv by zero", start: base, batch: noop.Then(ops.FloorDiv(Balance, 0)), err: rapyer.ErrInvalid, text: "division by zero"},
		{name: "FloorDiv float by zero", start: base, batch: noop.Then(ops.FloorDiv(Ratio, 0)), err: rapyer.ErrInvalid, text: "FloorDiv(ratio, 0)"},
		{name: "Mod by zero", start: base, batch: noop.Then(ops.Mod(Balance, 0)), err: rapyer.ErrInvalid, text: "modulo by zero"},
		{name: "Incr a field holding text", start: base,
			setup: func(ctx context.Context, b *testenv.Backend, root string) error {
				return b.Client.HSet(ctx, root, "balance", "abc").Err()
			},
			batch: noop.Then(ops.Incr(Small, 1)).Then(ops.Incr(Balance, 1)), err: rapyer.ErrCorrupt, text: "Incr(balance, 1)"},
		{name: "Incr float on a field holding text", start: base,
			setup: func(ctx context.Context, b *testenv.Backend, root string) error {
				return b.Client.HSet(ctx, root, "ratio", "1.5x").Err()
			},
			batch: noop.Then(ops.Incr(Ratio, 1)), err: rapyer.ErrCorrupt, text: "Incr(ratio, 1)"},
		{name: "AddDuration on a field holding text", start: base,
			setup: func(ctx context.Context, b *testenv.Backend, root string) error {
				return b.Client.HSet(ctx, root, "when", "yesterday").Err()
			},
			batch: noop.Then(ops.AddDuration(When, time.Hour)), err: rapyer.ErrCorrupt, text: "AddDuration(when, 1h0m0s)"},
		{name: "AddDuration past year 9999", start: with(when(time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC))),
			batch: noop.Then(ops.AddDuration(When, 2*time.Hour)), err: rapyer.ErrOverflow, text: "AddDuration(when"},
		{name: "a guard after a write sees the value before it", start: base,
			batch: tx.Of(ops.Incr(Balance, 100), ops.Append(History, "x"), ops.Require(is.AtLeast(Balance, 100))),
			err:   rapyer.ErrPrecondition, text: "AtLeast(balance, 100)"},
		{name: "a guard that fails among guards that hold", start: base,
			batch: tx.Of(ops.Require(is.Equal(Owner, "ann")), ops.Decr(Balance, 5), ops.Require(is.AtLeast(Balance, 6)), ops.Require(is.Equal(is.Len(History), 3))),
			err:   rapyer.ErrPrecondition, text: "AtLeast(balance, 6)"},
	}
	// guards that do not hold
	for _, g := range []ops.Op{
		ops.Require(is.Equal(Owner, "bob")),
		ops.Require(is.NotEqual(Owner, "ann")),
		ops.Require(is.Below(Balance, 5)),
		ops.Require(is.AtMost(Balance, 4)),
		ops.Require(is.Above(Balance, 5)),
		ops.Require(is.AtLeast(Balance, 100)),
		ops.Require(is.AtLeast(Big, 1<<40+1)),
		ops.Require(is.Above(Ratio, 1.5)),
		ops.Require(is.AtLeast(Note, "b")),
		ops.Require(is.And(is.Equal(Owner, "ann"), is.Below(Balance, 5))),
		ops.Require(is.Or(is.Equal(Owner, "bob"), is.Member(Flags, "nope"), is.Above(is.Len(History), 3))),
		ops.Require(is.In(Balance, 1, 2, 3)),
		ops.Require(is.Not(is.And(is.Equal(Owner, "ann"), is.Key(Limits, "day")))),
		ops.Require(is.Equal(Flag, false)),
		ops.Require(is.Equal(When, t0.Add(time.Nanosecond))),
		ops.Require(is.Below(When, t0)),
		ops.Require(is.Above(is.Len(History), 3)),
		ops.Require(is.Equal(is.Len(Queue), 0)),
		ops.Require(is.Below(is.Size(Limits), 2)),
		ops.Require(is.NotEqual(is.Size(Flags), 2)),
		ops.Require(is.Key(Limits, "nope")),
		ops.Require(is.Not(is.Key(Limits, "day"))),
		ops.Require(is.Member(Flags, "nope")),
		ops.Require(is.Not(is.Member(Flags, "x"))),
		ops.Require(is.Element(History, "z")),
		ops.Require(is.Not(is.Element(History, "a"))),
		ops.Require(is.Not(is.Element(Items, Item{SKU: "s1", Qty: 1}))),
		ops.VersionIs[Acct](2),
	} {
		cs = append(cs, failCase{name: "guard " + g.String() + " fails", start: base, batch: guard(g), err: rapyer.ErrPrecondition, text: g.String()})
	}
	return cs
}

// TestFailingBatches: a batch that fails, whatever op or guard fails it,
// writes nothing (the version included), and its error says which op.
func TestFailingBatches(t *testing.T) {
	eachCase(t, failCases(), func(t *testing.T, b *testenv.Backend, i int, c failCase) {
		ctx := context.Background()
		m := newModel(t, b, i)
		save(t, m, "x", c.start)
		if c.setup != nil {
			if err := c.setup(ctx, b, root(t, m, "x")); err != nil {
				t.Fatal(err)
			}
		}
		before := snapshot(t, b, m, "x")
		keysBefore := keysOf(t, b, m)
		res, err := m.Exec(ctx, "x", c.batch)
		if !errors.Is(err, c.err) {
			t.Fatalf("exec %s: %+v, %v; want %v", strings.TrimSpace(c.batch.String()), res, err, c.err)
		}
		if !strings.Contains(err.Error(), c.text) {
			t.Errorf("the error does not name %s: %v", c.text, err)
		}
		unchanged(t, b, m, before, "a failed batch changed the model")
		if ks := keysOf(t, b, m); !slices.Equal(ks, keysBefore) {
			t.Errorf("a failed batch changed the keys from %v to %v", keysBefore, ks)
		}
	})
}

// TestFailingBatchLeavesNothing is the issue's own case: a batch [append to
// a list, increment a field that holds "abc"] fails and leaves the list as it
// was; a batch whose guard fails changes nothing; on every backend.
func TestFailingBatchLeavesNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", Acct{Owner: "ann", Balance: 5, History: []string{"a", "b"}})
		r := root(t, m, "x")
		if err := b.Client.HSet(ctx, r, "balance", "abc").Err(); err != nil {
			t.Fatal(err)
		}
		version := func() string { return b.Client.HGet(ctx, r, "__v").Val() }
		v0 := version()

		_, err := m.Exec(ctx, "x", tx.Of(ops.Append(History, "c"), ops.Incr(Balance, 1)))
		if !errors.Is(err, rapyer.ErrCorrupt) || !strings.Contains(err.Error(), "Incr(balance, 1)") {
			t.Fatalf("append then incr of \"abc\": %v; want ErrCorrupt naming Incr(balance, 1)", err)
		}
		if l, err := b.Client.LRange(ctx, colKey(t, m, "x", "history"), 0, -1).Result(); err != nil || !slices.Equal(l, []string{"a", "b"}) {
			t.Fatalf("the list became %q (%v); want it as it was, [a b]", l, err)
		}
		if s := b.Client.HGet(ctx, r, "balance").Val(); s != "abc" {
			t.Fatalf("balance became %q", s)
		}
		if v := version(); v != v0 {
			t.Fatalf("the version moved from %s to %s", v0, v)
		}

		// A guard that fails: nothing changes either.
		if err := b.Client.HSet(ctx, r, "balance", "5").Err(); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, b, m, "x")
		_, err = m.Exec(ctx, "x", tx.Of(ops.Append(History, "c"), ops.Decr(Balance, 100), ops.Require(is.AtLeast(Balance, 100))))
		if !errors.Is(err, rapyer.ErrPrecondition) || !strings.Contains(err.Error(), "AtLeast(balance") {
			t.Fatalf("a failing guard: %v; want ErrPrecondition naming AtLeast(balance", err)
		}
		unchanged(t, b, m, before, "a batch whose guard failed changed the model")
		got, err := m.Get(ctx, "x")
		if err != nil || got.Balance != 5 || !slices.Equal(got.History, []string{"a", "b"}) {
			t.Fatalf("after the failed batches: %+v, %v", got, err)
		}
	})
}

// TestReplaceOnAMissingModel: Replace creates a missing model, unless Exists
// guards the batch, which then fails with rapyer.ErrNotFound and creates nothing.
func TestReplaceOnAMissingModel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		v := Acct{Owner: "new", Balance: 3, History: []string{"h"}, Flags: set("f")}

		_, err := m.Exec(ctx, "x", tx.Of(ops.Exists[Acct](), ops.Replace(v)))
		if !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("Exists and Replace on a missing model: %v; want ErrNotFound", err)
		}
		requireNoKeys(t, b, m, "x")

		if _, err := m.Exec(ctx, "x", tx.Of(ops.Replace(v))); err != nil {
			t.Fatalf("Replace on a missing model: %v", err)
		}
		got, err := m.Get(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, got, strict); diff != "" {
			t.Fatalf("after Replace (-want +got):\n%s", diff)
		}

		// On an existing model Exists holds, and the version goes on counting.
		r := root(t, m, "x")
		v1 := b.Client.HGet(ctx, r, "__v").Val()
		w := Acct{Owner: "newer"}
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Exists[Acct](), ops.Replace(w))); err != nil {
			t.Fatal(err)
		}
		if got, err = m.Get(ctx, "x"); err != nil || cmp.Diff(w, got, strict) != "" {
			t.Fatalf("after the second Replace: %+v, %v", got, err)
		}
		n1, err := strconv.ParseInt(v1, 10, 64)
		if err != nil || n1 < minClockVersion {
			t.Fatalf("the created model's version is %q; want the server's clock in µs", v1)
		}
		if v2 := b.Client.HGet(ctx, r, "__v").Val(); v2 != strconv.FormatInt(n1+1, 10) {
			t.Fatalf("versions %s then %s; want the second one more", v1, v2)
		}
		// Replace removed the collections of the first value.
		ks, _ := m.Keys("x")
		if n, _ := existing(b, ks[1:]); n != 0 {
			t.Fatalf("%d collection keys survived a Replace with empty collections", n)
		}
	})
}

// minClockVersion is the server's clock in µs at the time of writing: a
// created model's first version is at least this.
const minClockVersion = 1_700_000_000_000_000

// TestVersionIs: a save that creates the model makes its version the
// server's clock in µs, and every write batch adds one; reads and failed
// batches do not.
func TestVersionIs(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", base)
		v0, err := b.Client.HGet(ctx, root(t, m, "x"), "__v").Int64()
		if err != nil || v0 < minClockVersion {
			t.Fatalf("the version after a save is %d (%v); want the server's clock in µs", v0, err)
		}
		exec := func(bt tx.Batch) error { _, err := m.Exec(ctx, "x", bt); return err }
		if err := exec(tx.Of(ops.VersionIs[Acct](v0), ops.Incr(Balance, 1))); err != nil {
			t.Fatalf("VersionIs(v0) after a save: %v", err)
		}
		err = exec(tx.Of(ops.VersionIs[Acct](v0), ops.Incr(Balance, 1)))
		if !errors.Is(err, rapyer.ErrPrecondition) || !strings.Contains(err.Error(), fmt.Sprintf("VersionIs(%d)", v0)) {
			t.Fatalf("VersionIs(v0) after a second write: %v; want ErrPrecondition", err)
		}
		// Reads, TTL changes and failed batches leave the version alone.
		if err := exec(tx.Of(ops.Len(History), ops.GetItem(Limits, "day"), ops.Check(is.Key(Limits, "k")), ops.Check(is.Member(Flags, "x")), ops.Require(is.AtLeast(Balance, 0)))); err != nil {
			t.Fatal(err)
		}
		if err := exec(tx.Of(ops.Expire[Acct](time.Hour))); err != nil {
			t.Fatal(err)
		}
		if err := exec(tx.Of(ops.Incr(Balance, 1), ops.Require(is.AtLeast(Balance, 1000)))); !errors.Is(err, rapyer.ErrPrecondition) {
			t.Fatal(err)
		}
		if err := exec(tx.Of(ops.VersionIs[Acct](v0+1), ops.Append(History, "d"))); err != nil {
			t.Fatalf("VersionIs(v0+1) after reads: %v", err)
		}
		if err := m.Save(ctx, "x", base); err != nil {
			t.Fatal(err)
		}
		if err := exec(tx.Of(ops.VersionIs[Acct](v0 + 3))); err != nil {
			t.Fatalf("VersionIs(v0+3) after a save over the model: %v", err)
		}
	})
}

// TestExpireAndPersistEveryKey: Expire sets the TTL of every key of the
// model in the batch's step, keys created later get the model's remaining
// TTL, and Persist takes it off every key.
func TestExpireAndPersistEveryKey(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", with(func(a *Acct) { a.Queue = nil }))
		ks, _ := m.Keys("x")
		r, queue := ks[0], colKey(t, m, "x", "queue")
		pttl := func(k string) time.Duration {
			d, err := b.Client.PTTL(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		every := func(what string, ok func(k string, d time.Duration) bool) {
			t.Helper()
			for _, k := range ks {
				if d := pttl(k); !ok(k, d) {
					t.Errorf("%s: PTTL of %s is %v", what, k, d)
				}
			}
		}

		// Expire with a write that creates the queue key.
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Expire[Acct](time.Hour), ops.Append(Queue, "q"))); err != nil {
			t.Fatal(err)
		}
		every("after Expire", func(k string, d time.Duration) bool { return d > 59*time.Minute && d <= time.Hour })

		// A key created later by a batch without a TTL of its own gets the model's.
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Clear(Queue))); err != nil {
			t.Fatal(err)
		}
		if n, _ := existing(b, []string{queue}); n != 0 {
			t.Fatal("Clear left the queue key")
		}
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Append(Queue, "again"))); err != nil {
			t.Fatal(err)
		}
		if d := pttl(queue); d <= 0 || d > time.Hour {
			t.Errorf("a list created under a model with a TTL has PTTL %v", d)
		}
		// A key the batch empties (so Redis deletes it) and fills again
		// in the same step is a new key: it gets the TTL too.
		for _, b := range []tx.Batch{
			tx.Of(ops.PopLast(Queue), ops.Append(Queue, "again")),
			tx.Of(ops.Clear(Queue), ops.Append(Queue, "again")),
			tx.Of(ops.Remove(Queue, "again"), ops.Append(Queue, "again")),
		} {
			if _, err := m.Exec(ctx, "x", b); err != nil {
				t.Fatal(err)
			}
			if d := pttl(queue); d <= 0 || d > time.Hour {
				t.Errorf("%v: a list emptied and filled again has PTTL %v", b, d)
			}
		}

		// Persist takes it off every key.
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Persist[Acct]())); err != nil {
			t.Fatal(err)
		}
		every("after Persist", func(k string, d time.Duration) bool { return d == -1*time.Millisecond || d == -1 })
		if ttl, err := m.TTL(ctx, "x"); err != nil || ttl != rapyer.NoTTL {
			t.Errorf("TTL after Persist: %v, %v", ttl, err)
		}

		// Expire again, refreshing a shorter one; the data is untouched.
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Expire[Acct](time.Minute))); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Expire[Acct](2*time.Hour))); err != nil {
			t.Fatal(err)
		}
		every("after a second Expire", func(k string, d time.Duration) bool { return d > time.Hour && d <= 2*time.Hour })
		got, err := m.Get(ctx, "x")
		want := with(func(a *Acct) { a.Queue = []string{"again"} })
		if err != nil || cmp.Diff(want, got, strict) != "" {
			t.Fatalf("the data changed: %s (%v)", cmp.Diff(want, got, strict), err)
		}
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Delete[Acct]())); err != nil {
			t.Fatal(err)
		}
		if n, _ := existing(b, append(ks, r)); n != 0 {
			t.Fatalf("Delete left %d keys", n)
		}
	})
}

// TestAddDurationKeepsOffsetAndNanoseconds reads the stored text itself.
func TestAddDurationKeepsOffsetAndNanoseconds(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", base)
		add := ops.AddDuration(When, 24*time.Hour+time.Nanosecond)
		res, err := m.Exec(ctx, "x", tx.Of(add))
		if err != nil {
			t.Fatal(err)
		}
		const want = "2024-02-29T12:00:00.12345679+05:30"
		if s := b.Client.HGet(ctx, root(t, m, "x"), "when").Val(); s != want {
			t.Errorf("stored %q, want %q", s, want)
		}
		got, err := add.Result(res)
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("yielded %v, %v; want %s", got, err, want)
		}
		if _, off := got.Zone(); off != 5*3600+1800 {
			t.Errorf("offset %d", off)
		}
	})
}

// TestExpireOfZeroKeepsTheTTL: ops.Expire of a zero duration (a TTL a
// caller left unset) removed the model's TTL, as Persist does, and its
// batch succeeded, where every other TTL under a millisecond is refused
// and rapyer's Model.Expire refuses zero. Now the batch fails with
// rapyer.ErrInvalid before sending, and every key keeps its TTL.
func TestExpireOfZeroKeepsTheTTL(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "z", with(func(a *Acct) {}))
		if _, err := m.Exec(ctx, "z", tx.Of(ops.Expire[Acct](time.Hour))); err != nil {
			t.Fatal(err)
		}
		for _, bt := range []tx.Batch{tx.Of(ops.Expire[Acct](0)), tx.Of(ops.Incr(Balance, 1), ops.Expire[Acct](0))} {
			if _, err := m.Exec(ctx, "z", bt); !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("%v: %v; want ErrInvalid", bt, err)
			}
		}
		ks, _ := m.Keys("z")
		for _, k := range ks {
			if n, _ := existing(b, []string{k}); n == 1 && b.Client.PTTL(ctx, k).Val() <= 0 {
				t.Errorf("the key %s lost its TTL: %v", k, b.Client.PTTL(ctx, k).Val())
			}
		}
		if got, _ := m.Get(ctx, "z"); got.Balance != with(func(a *Acct) {}).Balance {
			t.Errorf("the refused batch wrote: balance %d", got.Balance)
		}
	})
}
