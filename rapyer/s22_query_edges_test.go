package rapyer_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s22Txt is a text-marshalled scalar whose zero does not marshal to "".
type s22Txt struct{ s string }

func (k s22Txt) MarshalText() ([]byte, error) { return []byte("x" + k.s), nil }
func (k *s22Txt) UnmarshalText(b []byte) error {
	k.s = strings.TrimPrefix(string(b), "x")
	return nil
}

type s22Ext struct {
	City string
	Code s22Txt
}

// s22E has an indexed field of every kind, each given values at its edges.
type s22E struct {
	S   string
	I8  int8
	I16 int16
	I32 int32
	I64 int64
	U8  uint8
	U64 uint64
	F   float64
	B   bool
	T   time.Time
	D   time.Duration
	X   s22Txt
	L   []string
	Set map[string]struct{}
	P   *int16
	Ext *s22Ext
	N   string // not indexed
}

var (
	s22S    = lens.Of(func(v *s22E) *string { return &v.S })
	s22I8   = lens.Of(func(v *s22E) *int8 { return &v.I8 })
	s22I16  = lens.Of(func(v *s22E) *int16 { return &v.I16 })
	s22I32  = lens.Of(func(v *s22E) *int32 { return &v.I32 })
	s22I64  = lens.Of(func(v *s22E) *int64 { return &v.I64 })
	s22U8   = lens.Of(func(v *s22E) *uint8 { return &v.U8 })
	s22U64  = lens.Of(func(v *s22E) *uint64 { return &v.U64 })
	s22F    = lens.Of(func(v *s22E) *float64 { return &v.F })
	s22B    = lens.Of(func(v *s22E) *bool { return &v.B })
	s22T    = lens.Of(func(v *s22E) *time.Time { return &v.T })
	s22D    = lens.Of(func(v *s22E) *time.Duration { return &v.D })
	s22X    = lens.Of(func(v *s22E) *s22Txt { return &v.X })
	s22L    = lens.Of(func(v *s22E) *[]string { return &v.L })
	s22Set  = lens.Of(func(v *s22E) *map[string]struct{} { return &v.Set })
	s22P    = lens.Of(func(v *s22E) **int16 { return &v.P })
	s22City = lens.Of(func(v *s22E) *string { return &v.Ext.City })
	s22N    = lens.Of(func(v *s22E) *string { return &v.N })
	s22Code = lens.Of(func(v *s22E) *s22Txt { return &v.Ext.Code })
)

var s22Indexes = []index.Spec{index.Prefix(s22S), index.On(s22I8), index.On(s22I16), index.On(s22I32), index.On(s22I64),
	index.On(s22U8), index.On(s22U64), index.On(s22F), index.On(s22B), index.On(s22T), index.On(s22D), index.On(s22X),
	index.Members(s22L), index.Members(s22Set), index.On(s22P), index.Prefix(s22City), index.On(s22Code)}

// The values at the edges of each kind.
var (
	s22Odd  = time.FixedZone("odd", 19*60+32) // an offset of whole seconds: stored in UTC
	s22East = time.FixedZone("plus14", 14*3600)
	s22West = time.FixedZone("minus0930", -9*3600-30*60)
	s22Strs = []string{"", "a", "a\x00", "a\x00b", "a\x00\x00", "a\x01", "\x00", ":", "a:b", "{", "}", "{x}", "\xff", "\xff\xff",
		"a\xff", "é", "ab", "b", strings.Repeat("z", 1024), strings.Repeat("\x00", 1024), strings.Repeat("\xff", 1023) + "a"}
	s22Pres = []string{"", "a", "a\x00", "a\x00\x00", "\x00", "\xff", "\xff\xff", "{", ":", "a\xff", "z", "zz", "é"[:1]}
	s22I8s  = []int8{math.MinInt8, math.MinInt8 + 1, -1, 0, 1, math.MaxInt8 - 1, math.MaxInt8}
	s22I16s = []int16{math.MinInt16, -1, 0, 1, math.MaxInt16}
	s22I32s = []int32{math.MinInt32, -10, 0, 9, 10, math.MaxInt32}
	s22I64s = []int64{math.MinInt64, math.MinInt64 + 1, -1e15, -1, 0, 1, 1<<53 + 1, math.MaxInt64 - 1, math.MaxInt64}
	s22U8s  = []uint8{0, 1, 127, 128, 254, 255}
	s22U64s = []uint64{0, 1, 1 << 53, 1<<53 + 1, 1<<63 - 1, 1 << 63, math.MaxUint64 - 1, math.MaxUint64}
	s22Fs   = []float64{math.Inf(-1), -math.MaxFloat64, -1e-300, -math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0,
		math.SmallestNonzeroFloat64, 2.225073858507201e-308, 2.2250738585072014e-308, 1e-300, 0.1, 1, 1e21, math.MaxFloat64, math.Inf(1)}
	s22Ts = []time.Time{{}, time.Unix(0, 0), time.Unix(0, 0).In(s22East), time.Unix(-1, 999_999_999), time.Unix(-1, 999_999_999).In(s22West),
		time.Unix(0, 1), time.Date(1900, 1, 1, 0, 0, 0, 1, s22Odd), time.Date(1900, 1, 1, 0, 19, 32, 1, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_998, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 0, s22East), time.Date(2023, 12, 31, 10, 0, 0, 0, time.UTC)}
	s22Ds   = []time.Duration{math.MinInt64, -time.Hour, -time.Nanosecond, 0, time.Nanosecond, math.MaxInt64}
	s22Xs   = []s22Txt{{""}, {"a"}, {"\x00"}, {"a\x00"}, {"\xff"}, {strings.Repeat("q", 1023)}}
	s22Elts = []string{"", "a", "a", "a\x00", "\x00", "\xff", "{", ":", strings.Repeat("e", 1024)}
	s22Ps   = []int16{math.MinInt16, -1, 0, 1, math.MaxInt16}
)

func s22Pick[E any](r *rand.Rand, xs []E) E { return xs[r.IntN(len(xs))] }

// s22Random is a model of edge values; a few times are read from the clock
// (with a monotonic reading).
func s22Random(r *rand.Rand) s22E {
	v := s22E{S: s22Pick(r, s22Strs), I8: s22Pick(r, s22I8s), I16: s22Pick(r, s22I16s), I32: s22Pick(r, s22I32s),
		I64: s22Pick(r, s22I64s), U8: s22Pick(r, s22U8s), U64: s22Pick(r, s22U64s), F: s22Pick(r, s22Fs), B: r.IntN(2) == 0,
		T: s22Pick(r, s22Ts), D: s22Pick(r, s22Ds), X: s22Pick(r, s22Xs), N: "n"}
	if r.IntN(10) == 0 {
		v.T = time.Now()
	}
	for range r.IntN(5) {
		v.L = append(v.L, s22Pick(r, s22Elts))
	}
	for range r.IntN(4) {
		if v.Set == nil {
			v.Set = map[string]struct{}{}
		}
		v.Set[s22Pick(r, s22Elts)] = struct{}{}
	}
	if r.IntN(2) == 0 {
		p := s22Pick(r, s22Ps)
		v.P = &p
	}
	if r.IntN(2) == 0 {
		v.Ext = &s22Ext{City: s22Pick(r, s22Strs), Code: s22Pick(r, s22Xs)}
	}
	return v
}

// s22Term is a predicate with the test's own reading of it (holds, over a
// model as Get returns it) and whether an index serves it (docs/queries.md:
// a leaf on an indexed field, an And with a served child, an Or whose
// children are all served; a Not or a NotEqual never).
type s22Term struct {
	p      is.Pred[s22E]
	holds  func(s22E) bool
	served bool
}

// s22Rel is what relation rel says of c, a comparison of a field's value
// with the operand.
func s22Rel(rel int, c int) bool {
	return [...]bool{c == 0, c < 0, c <= 0, c > 0, c >= 0, c != 0}[rel]
}

// s22Cmp is a comparison of a field with a value of pool (or of a stored
// model), by a random relation; get and order are the test's own.
func s22Cmp[A is.Ordered](r *rand.Rand, f lens.Field[s22E, A], pool []A, seen []A, get func(s22E) A, order func(a, b A) int) s22Term {
	v := s22Pick(r, pool)
	if len(seen) > 0 && r.IntN(3) == 0 {
		v = s22Pick(r, seen)
	}
	rel := r.IntN(7)
	mk := []func(is.Operand[s22E, A], A) is.Pred[s22E]{is.Equal[s22E, A], is.Below[s22E, A], is.AtMost[s22E, A],
		is.Above[s22E, A], is.AtLeast[s22E, A], is.NotEqual[s22E, A]}
	if rel == 6 {
		w := s22Pick(r, pool)
		return s22Term{is.In(f, v, w), func(s s22E) bool { return order(get(s), v) == 0 || order(get(s), w) == 0 }, true}
	}
	return s22Term{mk[rel](f, v), func(s s22E) bool { return s22Rel(rel, order(get(s), v)) }, rel != 5}
}

// s22Eq is an equality (or In, or NotEqual) of a field with no order.
func s22Eq[A comparable](r *rand.Rand, f lens.Field[s22E, A], pool []A, get func(s22E) A) s22Term {
	v, w := s22Pick(r, pool), s22Pick(r, pool)
	switch r.IntN(3) {
	case 0:
		return s22Term{is.In(f, v, w), func(s s22E) bool { return get(s) == v || get(s) == w }, true}
	case 1:
		return s22Term{is.NotEqual(f, v), func(s s22E) bool { return get(s) != v }, false}
	}
	return s22Term{is.Equal(f, v), func(s s22E) bool { return get(s) == v }, true}
}

func s22CityOf(s s22E) string {
	if s.Ext == nil {
		return ""
	}
	return s.Ext.City
}

func s22Time(a, b time.Time) int { return a.Compare(b) }

// s22Leaf is a random leaf over a random field; seen are the stored models.
func s22Leaf(r *rand.Rand, seen []s22E) s22Term {
	col := func(get func(s22E) time.Time) []time.Time {
		var out []time.Time
		for _, s := range seen {
			out = append(out, get(s))
		}
		return out
	}
	switch r.IntN(16) {
	case 0:
		// a query may ask for a value longer than an index holds
		long := []string{strings.Repeat("z", ix.MaxValue+1), strings.Repeat("\xff", ix.MaxValue+1)}
		return s22Cmp(r, s22S, append(long, s22Strs...), nil, func(s s22E) string { return s.S }, strings.Compare)
	case 1:
		p := s22Pick(r, s22Pres)
		return s22Term{is.HasPrefix(s22S, p), func(s s22E) bool { return strings.HasPrefix(s.S, p) }, true}
	case 2:
		return s22Cmp(r, s22I8, s22I8s, nil, func(s s22E) int8 { return s.I8 }, cmp.Compare[int8])
	case 3:
		return s22Cmp(r, s22I16, s22I16s, nil, func(s s22E) int16 { return s.I16 }, cmp.Compare[int16])
	case 4:
		return s22Cmp(r, s22I32, s22I32s, nil, func(s s22E) int32 { return s.I32 }, cmp.Compare[int32])
	case 5:
		return s22Cmp(r, s22I64, s22I64s, nil, func(s s22E) int64 { return s.I64 }, cmp.Compare[int64])
	case 6:
		return s22Cmp(r, s22U8, s22U8s, nil, func(s s22E) uint8 { return s.U8 }, cmp.Compare[uint8])
	case 7:
		return s22Cmp(r, s22U64, s22U64s, nil, func(s s22E) uint64 { return s.U64 }, cmp.Compare[uint64])
	case 8:
		return s22Cmp(r, s22F, s22Fs, nil, func(s s22E) float64 { return s.F }, cmp.Compare[float64])
	case 9:
		return s22Eq(r, s22B, []bool{false, true}, func(s s22E) bool { return s.B })
	case 10:
		get := func(s s22E) time.Time { return s.T }
		return s22Cmp(r, s22T, s22Ts, col(get), get, s22Time)
	case 11:
		return s22Cmp(r, s22D, s22Ds, nil, func(s s22E) time.Duration { return s.D }, cmp.Compare[time.Duration])
	case 12:
		return s22Eq(r, s22X, s22Xs, func(s s22E) s22Txt { return s.X })
	case 13:
		e := s22Pick(r, s22Elts)
		return s22Term{is.Element(s22L, e), func(s s22E) bool { return slices.Contains(s.L, e) }, true}
	case 14:
		e := s22Pick(r, s22Elts)
		return s22Term{is.Member(s22Set, e), func(s s22E) bool { _, ok := s.Set[e]; return ok }, true}
	}
	if r.IntN(3) == 0 {
		return s22Eq(r, s22Code, s22Xs, func(s s22E) s22Txt {
			if s.Ext == nil {
				return s22Txt{}
			}
			return s.Ext.Code
		})
	}
	if r.IntN(2) == 0 {
		p := s22Pick(r, s22Pres)
		return s22Term{is.HasPrefix(s22City, p), func(s s22E) bool { return strings.HasPrefix(s22CityOf(s), p) }, true}
	}
	return s22Cmp(r, s22City, s22Strs, nil, s22CityOf, strings.Compare)
}

// s22Pred is a random tree of leaves under And, Or and Not.
func s22Pred(r *rand.Rand, seen []s22E, depth int) s22Term {
	if depth == 0 || r.IntN(3) > 0 {
		return s22Leaf(r, seen)
	}
	if r.IntN(5) == 0 {
		x := s22Pred(r, seen, depth-1)
		return s22Term{is.Not(x.p), func(s s22E) bool { return !x.holds(s) }, false}
	}
	and := r.IntN(2) == 0
	var ps []is.Pred[s22E]
	var ts []s22Term
	served := !and
	for range 2 + r.IntN(2) {
		x := s22Pred(r, seen, depth-1)
		ps, ts = append(ps, x.p), append(ts, x)
		if and {
			served = served || x.served
		} else {
			served = served && x.served
		}
	}
	holds := func(s s22E) bool {
		for _, x := range ts {
			if x.holds(s) != and {
				return !and
			}
		}
		return and
	}
	if and {
		return s22Term{is.And(ps...), holds, served}
	}
	return s22Term{is.Or(ps...), holds, served}
}

// s22Order is a field to order by and the test's order of its values
// (an absent value, a nil pointer or a nil Ext, as its kind's zero).
type s22Order struct {
	f     query.Sortable
	name  string
	order func(a, b s22E) int
}

func s22By[A any](f query.Sortable, name string, get func(s22E) A, order func(a, b A) int) s22Order {
	return s22Order{f, name, func(a, b s22E) int { return order(get(a), get(b)) }}
}

func s22Bool(a, b bool) int {
	if a == b {
		return 0
	}
	if !a {
		return -1
	}
	return 1
}

var s22Orders = []s22Order{
	s22By(s22S, "S", func(s s22E) string { return s.S }, strings.Compare),
	s22By(s22I8, "I8", func(s s22E) int8 { return s.I8 }, cmp.Compare[int8]),
	s22By(s22I16, "I16", func(s s22E) int16 { return s.I16 }, cmp.Compare[int16]),
	s22By(s22I32, "I32", func(s s22E) int32 { return s.I32 }, cmp.Compare[int32]),
	s22By(s22I64, "I64", func(s s22E) int64 { return s.I64 }, cmp.Compare[int64]),
	s22By(s22U8, "U8", func(s s22E) uint8 { return s.U8 }, cmp.Compare[uint8]),
	s22By(s22U64, "U64", func(s s22E) uint64 { return s.U64 }, cmp.Compare[uint64]),
	s22By(s22F, "F", func(s s22E) float64 { return s.F }, cmp.Compare[float64]),
	s22By(s22B, "B", func(s s22E) bool { return s.B }, s22Bool),
	s22By(s22T, "T", func(s s22E) time.Time { return s.T }, s22Time),
	s22By(s22D, "D", func(s s22E) time.Duration { return s.D }, cmp.Compare[time.Duration]),
	s22By(s22X, "X", func(s s22E) string { return "x" + s.X.s }, strings.Compare),
	s22By(s22P, "P", func(s s22E) int16 {
		if s.P == nil {
			return 0
		}
		return *s.P
	}, cmp.Compare[int16]),
	s22By(s22City, "Ext.City", s22CityOf, strings.Compare),
	// an absent text-marshalled value orders as "" (docs/queries.md)
	s22By(s22Code, "Ext.Code", func(s s22E) string {
		if s.Ext == nil {
			return ""
		}
		return "x" + s.Ext.Code.s
	}, strings.Compare),
}

// s22Case is one query: a predicate (nil: All), an order, a limit.
type s22Case struct {
	t     *s22Term
	by    *s22Order
	desc  bool
	limit int
	scan  bool
}

func (c s22Case) query() query.Query[s22E] {
	q := query.All[s22E]()
	if c.t != nil {
		q = query.Where(c.t.p)
	}
	if c.by != nil {
		q = q.OrderBy(c.by.f)
		if c.desc {
			q = q.Desc()
		}
	}
	if c.limit > 0 {
		q = q.Limit(c.limit)
	}
	if c.scan {
		q = q.Scan()
	}
	return q
}

func s22RandomCase(r *rand.Rand, seen []s22E) s22Case {
	var c s22Case
	if r.IntN(12) > 0 {
		x := s22Pred(r, seen, 3)
		c.t = &x
		c.scan = !x.served || r.IntN(10) == 0
	}
	if r.IntN(2) == 0 {
		c.by = &s22Orders[r.IntN(len(s22Orders))]
		c.desc = r.IntN(2) == 0
	}
	if r.IntN(3) == 0 {
		c.limit = 1 + r.IntN(12)
	}
	return c
}

// want is every id the test's reading finds in snap, in the query's order
// (ties by id, Desc reversing both) or, without an order, by id.
func (c s22Case) want(snap map[string]s22E) []string {
	var out []string
	for id, s := range snap {
		if c.t == nil || c.t.holds(s) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		x := strings.Compare(a, b)
		if c.by != nil {
			x = cmp.Or(c.by.order(snap[a], snap[b]), x)
			if c.desc {
				x = -x
			}
		}
		return x
	})
	return out
}

func (c s22Case) String() string {
	s := c.query().String()
	if c.by != nil {
		s += fmt.Sprintf(" [by %s desc=%v]", c.by.name, c.desc)
	}
	return s
}

func s22IDs(ctx context.Context, m *rapyer.Model[s22E], q query.Query[s22E]) ([]string, error) {
	var got []string
	for id, err := range m.FindIDs(ctx, q) {
		if err != nil {
			return got, err
		}
		got = append(got, id)
	}
	return got, nil
}

// s22Same checks got against want: in order for an ordered query, as sets
// otherwise; a limit takes the head of want (of the query's own order,
// unordered: whole, the ids of its answer without the limit).
func s22Same(t *testing.T, what string, c s22Case, got, want, whole []string) {
	t.Helper()
	if c.by == nil {
		if c.limit > 0 && len(whole) >= c.limit {
			want = whole[:c.limit]
		} else {
			want, got = slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(got))
		}
	} else if c.limit > 0 && len(want) > c.limit {
		want = want[:c.limit]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %s:\n got  %q\n want %q", what, c, got, want)
	}
}

// s22Check asks c by FindIDs, Count, Page (walked to the end) and
// sometimes Find, and compares each answer with the test's reading of snap.
func s22Check(ctx context.Context, t *testing.T, r *rand.Rand, m *rapyer.Model[s22E], c s22Case, snap map[string]s22E) {
	t.Helper()
	q, want := c.query(), c.want(snap)
	var whole []string
	if c.by == nil && c.limit > 0 {
		u := c
		u.limit = 0
		var err error
		if whole, err = s22IDs(ctx, m, u.query()); err != nil {
			t.Fatalf("FindIDs %s: %v", u, err)
		}
		s22Same(t, "FindIDs", u, whole, want, nil)
	}
	got, err := s22IDs(ctx, m, q)
	if err != nil {
		t.Fatalf("FindIDs %s: %v", c, err)
	}
	s22Same(t, "FindIDs", c, got, want, whole)
	if n, err := m.Count(ctx, q); err != nil || n != len(want) {
		t.Fatalf("Count %s = %d, %v; want %d", c, n, err, len(want))
	}
	p := c
	p.limit = []int{1, 2, 3, 7, 16, 50}[r.IntN(6)]
	if len(want) > 40 && p.limit < 7 {
		p.limit = 7
	}
	paged := s22Pages(ctx, t, m, p, snap)
	what := fmt.Sprintf("Pages of %d", p.limit)
	p.limit = 0
	s22Same(t, what, p, paged, want, nil)
	if r.IntN(4) > 0 {
		return
	}
	i := 0
	for v, err := range m.Find(ctx, q) {
		if err != nil {
			t.Fatalf("Find %s: %v", c, err)
		}
		if i >= len(got) || !reflect.DeepEqual(v, snap[got[i]]) {
			t.Fatalf("Find %s: result %d is %+v, FindIDs gave %q", c, i, v, got)
		}
		i++
	}
	if i != len(got) {
		t.Fatalf("Find %s: %d results, FindIDs %d", c, i, len(got))
	}
}

// s22Pages walks every page of c (its limit the page size): no page after
// the first is empty or larger than the size, the last says no more, and
// an item's value is the stored model's.
func s22Pages(ctx context.Context, t *testing.T, m *rapyer.Model[s22E], c s22Case, snap map[string]s22E) []string {
	t.Helper()
	var ids []string
	for cur, n := "", 0; ; n++ {
		pg, err := m.Page(ctx, c.query(), cur)
		if err != nil {
			t.Fatalf("Page %d of %s: %v", n, c, err)
		}
		if len(pg.Items) > c.limit || (n > 0 && len(pg.Items) == 0) || (pg.Next != "" && len(pg.Items) < c.limit) {
			t.Fatalf("Page %d of %s: %d items, next %q", n, c, len(pg.Items), pg.Next)
		}
		for _, e := range pg.Items {
			if s, ok := snap[e.ID]; !ok || !reflect.DeepEqual(e.Value, s) {
				t.Fatalf("Page %d of %s: %s is %+v, stored %+v", n, c, e.ID, e.Value, s)
			}
			ids = append(ids, e.ID)
		}
		if pg.Next == "" {
			return ids
		}
		cur = pg.Next
	}
}

// s22Snap reads every model (the ids the test stored) and checks that the
// type's listing holds exactly them.
func s22Snap(ctx context.Context, t *testing.T, m *rapyer.Model[s22E], ids map[string]bool) map[string]s22E {
	t.Helper()
	want := slices.Sorted(maps.Keys(ids))
	found, missing, err := m.GetMany(ctx, want)
	if err != nil || len(missing) > 0 {
		t.Fatalf("GetMany: %v, missing %q", err, missing)
	}
	snap := map[string]s22E{}
	for _, e := range found {
		snap[e.ID] = e.Value
	}
	listed, err := s22IDs(ctx, m, query.All[s22E]().Scan())
	if slices.Sort(listed); err != nil || !slices.Equal(listed, want) {
		t.Fatalf("the listing %q, %v; stored %q", listed, err, want)
	}
	return snap
}

// s22Unchanged checks that a refused write failed with want (any typed
// error for nil) and left model id as it was (or absent).
func s22Unchanged(ctx context.Context, t *testing.T, m *rapyer.Model[s22E], id, what string, err, want error, before *s22E) {
	t.Helper()
	if err == nil || (want != nil && !errors.Is(err, want)) || (want == nil && !errs.Typed(err)) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
	after, gerr := m.Get(ctx, id)
	switch {
	case before == nil && !errors.Is(gerr, rapyer.ErrNotFound):
		t.Fatalf("%s: refused (%v), yet %s is there: %+v, %v", what, err, id, after, gerr)
	case before != nil && (gerr != nil || !reflect.DeepEqual(after, *before)):
		t.Fatalf("%s: refused (%v), yet %s changed:\n%+v\n%+v (%v)", what, err, id, *before, after, gerr)
	}
}

// s22Refusals tries writes that must be refused, each on a new id and on
// the stored model id, and checks that nothing was written: values one byte
// past the index's limit (a text, a text-marshalled value, a list element,
// a set member, a field under a pointer), NaN, a year past 9999, an
// increment past a type's range.
func s22Refusals(ctx context.Context, t *testing.T, m *rapyer.Model[s22E], r *rand.Rand, id string) {
	t.Helper()
	long := strings.Repeat("\x00", ix.MaxValue+1)
	saves := map[string]func(*s22E){
		"a long S":        func(v *s22E) { v.S = long },
		"a long text":     func(v *s22E) { v.X = s22Txt{strings.Repeat("q", ix.MaxValue)} },
		"a long element":  func(v *s22E) { v.L = append(v.L, long) },
		"a long member":   func(v *s22E) { v.Set = map[string]struct{}{long: {}} },
		"a long Ext.City": func(v *s22E) { v.Ext = &s22Ext{City: long} },
		"NaN":             func(v *s22E) { v.F = math.NaN() },
		"the year 10000":  func(v *s22E) { v.T = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"the year -1":     func(v *s22E) { v.T = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	wants := map[string]error{"NaN": rapyer.ErrInvalid, "the year 10000": rapyer.ErrInvalid, "the year -1": rapyer.ErrInvalid}
	for _, what := range slices.Sorted(maps.Keys(saves)) {
		change := saves[what]
		v := s22Random(r)
		change(&v)
		want := cmp.Or(wants[what], rapyer.ErrTooLarge)
		s22Unchanged(ctx, t, m, "new", "Save of "+what, m.Save(ctx, "new", v), want, nil)
		before, err := m.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		s22Unchanged(ctx, t, m, id, "Save over of "+what, m.Save(ctx, id, v), want, &before)
	}
	before, err := m.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	batches := map[string]tx.Batch{
		"Set of a long S":         tx.Of(ops.Set(s22S, long)),
		"AppendText past 1024":    tx.Of(ops.AppendText(s22S, strings.Repeat("y", ix.MaxValue+1-len(before.S)))),
		"Set of a long Ext.City":  tx.Of(ops.Set(s22City, long)),
		"Append of a long one":    tx.Of(ops.Append(s22L, "a", long)),
		"Add of a long one":       tx.Of(ops.Add(s22Set, long)),
		"Set of a long text":      tx.Of(ops.Set(s22X, s22Txt{strings.Repeat("q", ix.MaxValue)})),
		"Set of NaN":              tx.Of(ops.Set(s22S, "fine"), ops.Set(s22F, math.NaN())),
		"Inf plus -Inf":           tx.Of(ops.Set(s22F, math.Inf(1)), ops.Incr(s22F, math.Inf(-1))),
		"Inf times 0":             tx.Of(ops.Set(s22F, math.Inf(-1)), ops.Mul(s22F, 0)),
		"I8 past its max":         tx.Of(ops.Set(s22I8, math.MaxInt8), ops.Incr(s22I8, 1)),
		"I64 past its min":        tx.Of(ops.Set(s22I64, math.MinInt64), ops.Decr(s22I64, 1)),
		"U64 past its max":        tx.Of(ops.Set(s22U64, math.MaxUint64), ops.Incr(s22U64, 1)),
		"U8 below 0":              tx.Of(ops.Set(s22U8, 0), ops.Decr(s22U8, 1)),
		"a time past 9999":        tx.Of(ops.Set(s22T, s22Ts[10]), ops.AddDuration(s22T, time.Nanosecond)),
		"a time before year 0":    tx.Of(ops.Set(s22T, s22Ts[8]), ops.AddDuration(s22T, -time.Nanosecond)),
		"a Duration past its max": tx.Of(ops.Set(s22D, math.MaxInt64), ops.Incr(s22D, 1)),
	}
	for what, b := range batches {
		_, err := m.Exec(ctx, id, b)
		s22Unchanged(ctx, t, m, id, what, err, nil, &before)
	}
}

// s22Update makes one random write of edge values; ids are the stored ids.
// A write the types' ranges refuse must leave the model as it was.
func s22Update(ctx context.Context, t *testing.T, m *rapyer.Model[s22E], r *rand.Rand, ids map[string]bool, n *int) {
	t.Helper()
	id := s22Pick(r, slices.Sorted(maps.Keys(ids)))
	var b tx.Batch
	switch r.IntN(9) {
	case 0, 1:
		*n++
		if r.IntN(2) == 0 {
			id = fmt.Sprintf("m%03d", *n)
		}
		if err := m.Save(ctx, id, s22Random(r)); err != nil {
			t.Fatalf("Save %s: %v", id, err)
		}
		ids[id] = true
		return
	case 2:
		if _, err := m.Delete(ctx, id); err != nil {
			t.Fatalf("Delete %s: %v", id, err)
		}
		delete(ids, id)
		return
	case 3:
		v := s22Random(r)
		b = tx.Of(ops.Set(s22S, v.S), ops.Set(s22F, v.F), ops.Set(s22T, v.T), ops.Set(s22X, v.X), ops.Set(s22P, v.P))
	case 4:
		b = tx.Of(ops.Set(s22City, s22Pick(r, s22Strs)), ops.Set(s22Code, s22Pick(r, s22Xs)), ops.Set(s22U64, s22Pick(r, s22U64s)), ops.Set(s22D, s22Pick(r, s22Ds)))
	case 5:
		b = tx.Of(ops.Incr(s22I8, s22Pick(r, s22I8s)), ops.Incr(s22I64, s22Pick(r, s22I64s)))
	case 6:
		b = tx.Of(ops.Incr(s22U64, s22Pick(r, s22U64s)), ops.Incr(s22F, s22Pick(r, s22Fs)), ops.AddDuration(s22T, s22Pick(r, s22Ds)))
	case 7:
		e := s22Pick(r, s22Elts)
		b = tx.Of(ops.Append(s22L, e, s22Pick(r, s22Elts)), ops.Remove(s22L, s22Pick(r, s22Elts)), ops.Add(s22Set, e),
			ops.Discard(s22Set, s22Pick(r, s22Elts)))
	default:
		b = tx.Of(ops.PopFirst(s22L), ops.Set(s22N, "x"), ops.Set(s22B, r.IntN(2) == 0), ops.Incr(s22U8, 1))
	}
	before, err := m.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Exec(ctx, id, b); err != nil {
		s22Unchanged(ctx, t, m, id, fmt.Sprintf("Exec %s on %s", b, id), err, nil, &before)
	}
}

// TestS22QueriesOfEdgeValuesMatchAScan: models holding values at the edges
// of every indexed kind (NUL, ':', braces and 0xff in texts, 1024-byte
// texts, the ints' limits, uint64's max, -0, the infinities, denormals,
// times in zones, before 1970, in the years 0 and 9999, with a monotonic
// reading, a text-marshalled type, lists with repeated elements, absent
// values under a nil pointer) answer every random query (comparisons at
// the extremes, prefixes with special bytes, In, Not, And and Or,
// OrderBy both ways with ties, Limit, Count, pages walked to the end,
// Find) as the test's own reading of the stored models does, through
// random writes between the rounds; writes past the index's limits, NaN
// and out-of-range values are refused, typed, and write nothing.
func TestS22QueriesOfEdgeValuesMatchAScan(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(uint64(seed), 22))
		prefix := b.Prefix + "s22q"
		m, err := rapyer.New[s22E](b.Client, rapyer.Options{Prefix: prefix, Indexes: s22Indexes, Groups: 4})
		if err != nil {
			t.Fatal(err)
		}
		o := ixcheck.MustNew[s22E](t, b.Client, prefix, 4, s22Indexes, m.IDs)
		models, rounds, queries := 90, 5, 40
		if b.Kind == testenv.Mini { // miniredis's Lua is slow: a smaller run
			models, rounds, queries = 60, 3, 12
		}
		ids, n := map[string]bool{}, 0
		for n = range models {
			id := fmt.Sprintf("m%03d", n)
			if err := m.Save(ctx, id, s22Random(r)); err != nil {
				t.Fatalf("seed %d: Save %s: %v", seed, id, err)
			}
			ids[id] = true
		}
		s22Refusals(ctx, t, m, r, "m000")

		for round := range rounds {
			snap := s22Snap(ctx, t, m, ids)
			o.Check(t, fmt.Sprint("round ", round))
			var seen []s22E
			for _, id := range slices.Sorted(maps.Keys(snap)) {
				seen = append(seen, snap[id])
			}
			for range queries {
				s22Check(ctx, t, r, m, s22RandomCase(r, seen), snap)
			}
			for range 12 {
				s22Update(ctx, t, m, r, ids, &n)
			}
		}
	})
}

// TestS22AQueryOfTheZeroOfATextFindsTheAbsentValues: a text-marshalled
// field whose zero marshals to "none" is absent in a ("In" is nil): a
// predicate reads it as the zero, so Equal(X, zero) holds for a, as its
// guard says; its index holds it under "". A query of the zero (Equal, an
// In holding it, ordered by the field or by another) finds a too, and
// Count and Page agree. Before, the query read the range of "none" only,
// and found b alone (TestS22QueriesOfEdgeValuesMatchAScan, seed 1).
func TestS22AQueryOfTheZeroOfATextFindsTheAbsentValues(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := s18Docs(t, b, 2)
		docs := map[string]s18Doc{"a": {N: 1}, "b": {In: &s18Inner{}, N: 2}, "c": {In: &s18Inner{X: s18Txt{"empty"}}, N: 3},
			"d": {In: &s18Inner{X: s18Txt{"x"}}, N: 4}}
		for id, d := range docs {
			if err := m.Save(ctx, id, d); err != nil {
				t.Fatal(err)
			}
		}
		zero := s18Txt{}
		for _, p := range []is.Pred[s18Doc]{is.Equal(s18X, zero), is.In(s18X, s18Txt{"x"}, zero),
			is.Or(is.Equal(s18X, zero), is.Equal(s18N, 3)), is.And(is.Equal(s18X, zero), is.AtLeast(s18N, 0))} {
			if _, err := m.Exec(ctx, "a", tx.Of(ops.Require(p))); err != nil {
				t.Fatalf("the guard %s on a: %v", p, err)
			}
			var want []string
			for _, id := range []string{"a", "b", "c", "d"} {
				if p.Holds(docs[id]) {
					want = append(want, id)
				}
			}
			for _, q := range []query.Query[s18Doc]{query.Where(p), query.Where(p).OrderBy(s18X), query.Where(p).OrderBy(s18N)} {
				got := findIDs(t, m, q)
				want := slices.Clone(want)
				switch {
				case strings.HasSuffix(q.String(), "OrderBy(in.x)"): // an absent value orders as ""
					text := func(id string) string {
						if docs[id].In == nil {
							return ""
						}
						x, _ := docs[id].In.X.MarshalText()
						return string(x)
					}
					slices.SortStableFunc(want, func(a, b string) int { return strings.Compare(text(a), text(b)) })
				case !strings.HasSuffix(q.String(), "OrderBy(n)"):
					slices.Sort(got)
				}
				n, err := m.Count(ctx, q)
				pg, perr := m.Page(ctx, q.Limit(1), "")
				if !slices.Equal(got, want) || n != len(want) || err != nil || perr != nil || len(pg.Items) != 1 || pg.Items[0].ID != want[0] {
					t.Errorf("%s: found %q, Count %d (%v), first page %v (%v); want %q", q, got, n, err, pg.Items, perr, want)
				}
			}
		}
	})
}
