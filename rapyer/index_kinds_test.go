package rapyer_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// kTxt is a text-marshalled scalar.
type kTxt struct{ s string }

func (k kTxt) MarshalText() ([]byte, error) { return []byte("t:" + k.s), nil }
func (k *kTxt) UnmarshalText(b []byte) error {
	k.s = strings.TrimPrefix(string(b), "t:")
	return nil
}

// kAll has a field of every scalar kind an index takes.
type kAll struct {
	I8  int8
	I16 int16
	I32 int32
	I64 int64
	I   int
	U   uint
	U8  uint8
	U16 uint16
	U32 uint32
	U64 uint64
	F32 float32
	F64 float64
	T   time.Time
	D   time.Duration
	B   bool
	X   kTxt
	S   string
}

var (
	kI8  = lens.Of(func(v *kAll) *int8 { return &v.I8 })
	kI16 = lens.Of(func(v *kAll) *int16 { return &v.I16 })
	kI32 = lens.Of(func(v *kAll) *int32 { return &v.I32 })
	kI64 = lens.Of(func(v *kAll) *int64 { return &v.I64 })
	kI   = lens.Of(func(v *kAll) *int { return &v.I })
	kU   = lens.Of(func(v *kAll) *uint { return &v.U })
	kU8  = lens.Of(func(v *kAll) *uint8 { return &v.U8 })
	kU16 = lens.Of(func(v *kAll) *uint16 { return &v.U16 })
	kU32 = lens.Of(func(v *kAll) *uint32 { return &v.U32 })
	kU64 = lens.Of(func(v *kAll) *uint64 { return &v.U64 })
	kF32 = lens.Of(func(v *kAll) *float32 { return &v.F32 })
	kF64 = lens.Of(func(v *kAll) *float64 { return &v.F64 })
	kT   = lens.Of(func(v *kAll) *time.Time { return &v.T })
	kD   = lens.Of(func(v *kAll) *time.Duration { return &v.D })
	kB   = lens.Of(func(v *kAll) *bool { return &v.B })
	kX   = lens.Of(func(v *kAll) *kTxt { return &v.X })
	kS   = lens.Of(func(v *kAll) *string { return &v.S })
)

var kIndexes = []index.Spec{index.On(kI8), index.On(kI16), index.On(kI32), index.On(kI64), index.On(kI), index.On(kU),
	index.On(kU8), index.On(kU16), index.On(kU32), index.On(kU64), index.On(kF32), index.On(kF64), index.On(kT), index.On(kD),
	index.On(kB), index.On(kX), index.Prefix(kS)}

// kEdges are values at the edges of every kind, one list per field; the
// models take them round-robin, so every value is stored.
var (
	kZ        = time.FixedZone("plus14", 14*3600)
	kW        = time.FixedZone("minus12", -12*3600-30*60)
	kI8s      = []int8{math.MinInt8, math.MinInt8 + 1, -1, 0, 1, math.MaxInt8 - 1, math.MaxInt8}
	kI16s     = []int16{math.MinInt16, -10, -9, 0, 9, 10, math.MaxInt16}
	kI32s     = []int32{math.MinInt32, -100, 99, 100, math.MaxInt32}
	kI64s     = []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64}
	kIs       = []int{math.MinInt, -1000, -999, 999, 1000, math.MaxInt}
	kUs       = []uint{0, 1, math.MaxUint - 1, math.MaxUint, 1 << 63, 1<<63 - 1}
	kU8s      = []uint8{0, 1, 254, 255}
	kU16s     = []uint16{0, 9, 10, 65535}
	kU32s     = []uint32{0, 1 << 31, math.MaxUint32}
	kU64s     = []uint64{0, 1, 1<<53 + 1, 1 << 53, 1<<63 - 1, 1 << 63, 1<<63 + 1, math.MaxUint64 - 1, math.MaxUint64}
	kF32s     = []float32{float32(math.Inf(-1)), -math.MaxFloat32, -0.1, float32(math.Copysign(0, -1)), 0, 0.1, 0.2, 16777216, 16777217, math.SmallestNonzeroFloat32, math.MaxFloat32, float32(math.Inf(1))}
	kF64s     = []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, 0.1, 0.30000000000000004, 0.3, 1, 1 << 53, 1<<53 + 2, math.MaxFloat64, math.Inf(1)}
	kTs       = []time.Time{{}, time.Unix(0, 0), time.Unix(0, 1).In(kZ), time.Unix(0, 1).In(kW), time.Unix(-1, 999999999), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, kZ), time.Date(2023, 12, 31, 10, 0, 0, 0, time.UTC), time.Date(1600, 6, 1, 0, 0, 0, 0, kW)}
	kDs       = []time.Duration{math.MinInt64, -time.Nanosecond, 0, time.Nanosecond, time.Hour, math.MaxInt64}
	kBs       = []bool{false, true}
	kXs       = []kTxt{{""}, {"a"}, {"a\x00"}, {"b"}, {"\xff"}}
	kSs       = []string{"", "a", "a\x00", "a\x00\x00", "a\x00\x01", "a\x01", "a\xff", "ab", "b", "\xff\xff", "é", "a:b", "{x}", strings.Repeat("z", 1024)}
	kAllCount = 31
)

func at[E any](xs []E, i int) E { return xs[i%len(xs)] }

func kModel(i int) kAll {
	return kAll{I8: at(kI8s, i), I16: at(kI16s, i), I32: at(kI32s, i), I64: at(kI64s, i), I: at(kIs, i), U: at(kUs, i),
		U8: at(kU8s, i), U16: at(kU16s, i), U32: at(kU32s, i), U64: at(kU64s, i), F32: at(kF32s, i), F64: at(kF64s, i),
		T: at(kTs, i), D: at(kDs, i), B: at(kBs, i), X: at(kXs, i), S: at(kSs, i)}
}

// kCheck compares, for every pivot and every word, the ids a query finds
// with those the predicate's own Go evaluation gives over the stored models,
// and an OrderBy of the field (asc and desc, ties by id) with a sort.
func kCheck[A cmp.Ordered](t *testing.T, ctx context.Context, m *rapyer.Model[kAll], stored map[string]kAll, f lens.Field[kAll, A], name string, pivots []A, ordered bool) {
	t.Helper()
	preds := func(v A) []is.Pred[kAll] {
		ps := []is.Pred[kAll]{is.Equal(f, v), is.In(f, v, pivots[0])}
		if ordered {
			ps = append(ps, is.Below(f, v), is.AtMost(f, v), is.Above(f, v), is.AtLeast(f, v),
				is.And(is.AtLeast(f, pivots[0]), is.Below(f, v)))
		}
		return ps
	}
	for _, v := range pivots {
		for _, p := range preds(v) {
			if err := p.Err(); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			want := kFinds(t, ctx, m, stored, name+" "+p.String(), p, p.Holds)
			n, err := m.Count(ctx, query.Where(p))
			if err != nil || n != len(want) {
				t.Errorf("%s Count(%s) = %d, %v; want %d", name, p, n, err, len(want))
			}
		}
	}
	for _, desc := range []bool{false, true} {
		q := query.All[kAll]().OrderBy(f)
		if desc {
			q = q.Desc()
		}
		var want []string
		for id := range stored {
			want = append(want, id)
		}
		slices.SortFunc(want, func(a, b string) int {
			c := cmp.Compare(f.Get(stored[a]), f.Get(stored[b]))
			if c == 0 {
				c = strings.Compare(a, b)
			}
			if desc {
				c = -c
			}
			return c
		})
		var got []string
		for id, err := range m.FindIDs(ctx, q) {
			if err != nil {
				t.Fatalf("%s order: %v", name, err)
			}
			got = append(got, id)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s OrderBy desc=%v:\n got %q\nwant %q", name, desc, got, want)
		}
	}
}

// kFinds checks that the ids p finds are those of the stored models for
// which holds (p's own evaluation, or the test's) is true, and returns them.
func kFinds(t *testing.T, ctx context.Context, m *rapyer.Model[kAll], stored map[string]kAll, what string, p is.Pred[kAll], holds func(kAll) bool) []string {
	t.Helper()
	var want, got []string
	for id, s := range stored {
		if holds(s) {
			want = append(want, id)
		}
	}
	for id, err := range m.FindIDs(ctx, query.Where(p)) {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got = append(got, id)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: found %q, a scan gives %q", what, got, want)
	}
	return want
}

// TestEveryIndexedKindAnswersAtItsEdges: a query on a field of every kind
// an index takes, at the edges of its values (the ints' and uints' limits,
// uint64 past 2^53 and 2^63, -0, the infinities, float32 values whose
// float64 reading differs, times in zones, the zero time, year 9999, NUL
// and 0xff bytes, 1024-byte strings), finds what the predicate's own
// evaluation of the stored models gives, and orders as the values do.
func TestEveryIndexedKindAnswersAtItsEdges(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[kAll](b.Client, rapyer.Options{Prefix: b.Prefix + "kind", Indexes: kIndexes, Groups: 3})
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]kAll{}
		for i := range kAllCount {
			id := fmt.Sprintf("k%02d", i)
			v := kModel(i)
			if err := m.Save(ctx, id, v); err != nil {
				t.Fatalf("save %s: %v", id, err)
			}
			got, err := m.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			stored[id] = got
		}
		kCheck(t, ctx, m, stored, kI8, "I8", kI8s, true)
		kCheck(t, ctx, m, stored, kI16, "I16", kI16s, true)
		kCheck(t, ctx, m, stored, kI32, "I32", kI32s, true)
		kCheck(t, ctx, m, stored, kI64, "I64", kI64s, true)
		kCheck(t, ctx, m, stored, kI, "I", kIs, true)
		kCheck(t, ctx, m, stored, kU, "U", kUs, true)
		kCheck(t, ctx, m, stored, kU8, "U8", kU8s, true)
		kCheck(t, ctx, m, stored, kU16, "U16", kU16s, true)
		kCheck(t, ctx, m, stored, kU32, "U32", kU32s, true)
		kCheck(t, ctx, m, stored, kU64, "U64", kU64s, true)
		kCheck(t, ctx, m, stored, kF32, "F32", kF32s, true)
		kCheck(t, ctx, m, stored, kF64, "F64", kF64s, true)
		kCheck(t, ctx, m, stored, kD, "D", kDs, true)
		kCheck(t, ctx, m, stored, kS, "S", kSs, true)
		for _, v := range kTs {
			for _, p := range []is.Pred[kAll]{is.Equal(kT, v), is.Below(kT, v), is.AtMost(kT, v), is.Above(kT, v), is.AtLeast(kT, v)} {
				kFinds(t, ctx, m, stored, "T "+p.String(), p, p.Holds)
			}
		}
		for _, v := range kBs {
			kFinds(t, ctx, m, stored, fmt.Sprint("B ", v), is.Equal(kB, v), func(s kAll) bool { return s.B == v })
		}
		for _, v := range kXs {
			kFinds(t, ctx, m, stored, fmt.Sprint("X ", v), is.Equal(kX, v), func(s kAll) bool { return s.X == v })
		}
		for _, pre := range []string{"", "a", "a\x00", "a\x00\x00", "\xff", "a\xff", "zzz"} {
			kFinds(t, ctx, m, stored, fmt.Sprintf("HasPrefix %q", pre), is.HasPrefix(kS, pre), func(s kAll) bool { return strings.HasPrefix(s.S, pre) })
		}
	})
}
