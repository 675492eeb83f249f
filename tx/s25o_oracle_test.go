package tx_test

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// S25oBox is the model of the edge-value audit: a field of every kind the
// catalogue's ops take.
type S25oBox struct {
	N     int64
	Small int8
	U     uint64
	F     float64
	Text  string
	Raw   []byte
	List  []string
	Tags  map[string]struct{}
	Attrs map[string]string
	Score map[string]int64
}

var (
	s25oN     = lens.Of(func(b *S25oBox) *int64 { return &b.N })
	s25oSmall = lens.Of(func(b *S25oBox) *int8 { return &b.Small })
	s25oU     = lens.Of(func(b *S25oBox) *uint64 { return &b.U })
	s25oF     = lens.Of(func(b *S25oBox) *float64 { return &b.F })
	s25oText  = lens.Of(func(b *S25oBox) *string { return &b.Text })
	s25oRaw   = lens.Of(func(b *S25oBox) *[]byte { return &b.Raw })
	s25oList  = lens.Of(func(b *S25oBox) *[]string { return &b.List })
	s25oTags  = lens.Of(func(b *S25oBox) *map[string]struct{} { return &b.Tags })
	s25oAttrs = lens.Of(func(b *S25oBox) *map[string]string { return &b.Attrs })
	s25oScore = lens.Of(func(b *S25oBox) *map[string]int64 { return &b.Score })
)

// The edge values the ops are drawn with.
var (
	s25oInts = []int64{0, 1, -1, 7, -7, 1<<53 - 1, 1 << 53, 1<<53 + 1, -(1<<53 - 1), -(1 << 53), -(1<<53 + 1),
		1 << 62, math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1}
	s25oInt8s  = []int8{0, 1, -1, 126, 127, -127, -128, 100}
	s25oUints  = []uint64{0, 1, 1<<53 + 1, math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64}
	s25oFloats = []float64{0, math.Copysign(0, -1), 1.5, -2.25, 0.1, 1e308, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, 1<<53 + 1, math.NaN(), math.Inf(1), math.Inf(-1)}
	s25oStrs = []string{"", "a", "zz", "\x00", "a\x00b", "\xff\xfe\xfd", "é", "\xc3"}
	s25oIdx  = []int{0, 1, 2, -1, -2, 3, 5, -5, 100, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	// s25oBig is a 1 MiB string: drawn now and then.
	s25oBig = strings.Repeat("Z", 1<<20)
)

func s25oPick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// s25oStr is an edge string, now and then 1 MiB of it.
func s25oStr(r *rand.Rand) string {
	if r.IntN(40) == 0 {
		return s25oBig
	}
	return s25oPick(r, s25oStrs)
}

// s25oFinite is a finite edge float (an operand: NaN and Inf are refused).
func s25oFinite(r *rand.Rand) float64 {
	for {
		if f := s25oPick(r, s25oFloats); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
}

// s25oRandomBox is a random stored value of the model.
func s25oRandomBox(r *rand.Rand) S25oBox {
	b := S25oBox{N: s25oPick(r, s25oInts), Small: s25oPick(r, s25oInt8s), U: s25oPick(r, s25oUints),
		F: s25oPick(r, s25oFloats), Text: s25oStr(r)}
	if r.IntN(2) == 0 {
		b.Raw = []byte(s25oStr(r))
	}
	for range r.IntN(5) {
		b.List = append(b.List, s25oPick(r, s25oStrs))
	}
	if n := r.IntN(4); n > 0 {
		b.Tags = map[string]struct{}{}
		for range n {
			b.Tags[s25oPick(r, s25oStrs)] = struct{}{}
		}
	}
	if n := r.IntN(4); n > 0 {
		b.Attrs = map[string]string{}
		for range n {
			b.Attrs[s25oPick(r, s25oStrs)] = s25oPick(r, s25oStrs)
		}
	}
	if n := r.IntN(4); n > 0 {
		b.Score = map[string]int64{}
		for range n {
			b.Score[s25oPick(r, s25oStrs)] = s25oPick(r, s25oInts)
		}
	}
	return b
}

func s25oClone(b S25oBox) S25oBox {
	b.Raw = slices.Clone(b.Raw)
	b.List = slices.Clone(b.List)
	b.Tags = maps.Clone(b.Tags)
	b.Attrs = maps.Clone(b.Attrs)
	b.Score = maps.Clone(b.Score)
	return b
}

// s25oDiff is "" when a and b hold the same value (nil and empty alike,
// NaN equal to NaN, -0 equal to 0), else what differs.
func s25oDiff(a, b S25oBox) string {
	var d []string
	feq := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	if a.N != b.N || a.Small != b.Small || a.U != b.U || !feq(a.F, b.F) {
		d = append(d, fmt.Sprintf("scalars %d %d %d %v != %d %d %d %v", a.N, a.Small, a.U, a.F, b.N, b.Small, b.U, b.F))
	}
	if a.Text != b.Text || string(a.Raw) != string(b.Raw) {
		d = append(d, fmt.Sprintf("text %q %q != %q %q", s25oShort(a.Text), s25oShort(string(a.Raw)), s25oShort(b.Text), s25oShort(string(b.Raw))))
	}
	if !slices.Equal(a.List, b.List) {
		d = append(d, fmt.Sprintf("list %q != %q", s25oShortAll(a.List), s25oShortAll(b.List)))
	}
	if len(a.Tags) != len(b.Tags) || !maps.EqualFunc(a.Tags, b.Tags, func(struct{}, struct{}) bool { return true }) {
		d = append(d, fmt.Sprintf("tags %q != %q", s25oShortAll(slices.Sorted(maps.Keys(a.Tags))), s25oShortAll(slices.Sorted(maps.Keys(b.Tags)))))
	}
	if len(a.Attrs) != len(b.Attrs) || !maps.Equal(a.Attrs, b.Attrs) {
		d = append(d, fmt.Sprintf("attrs %q != %q", a.Attrs, b.Attrs))
	}
	if len(a.Score) != len(b.Score) || !maps.Equal(a.Score, b.Score) {
		d = append(d, fmt.Sprintf("score %v != %v", a.Score, b.Score))
	}
	return strings.Join(d, "; ")
}

func s25oShort(s string) string {
	if len(s) > 20 {
		return fmt.Sprintf("%s...(%d bytes)", s[:10], len(s))
	}
	return s
}

func s25oShortAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s25oShort(s)
	}
	return out
}

// s25oRun is the oracle's view of one batch being applied.
type s25oRun struct {
	start S25oBox  // the model as the batch found it (after a creation): what guards read
	cur   *S25oBox // the model as the ops before left it
	bytes int64    // the text budget spent so far
	// murky: a Remove or RemoveAll of the list came before, so the
	// server's check phase does not know its length: an op that takes an
	// index of it fails with ErrInvalid (ops.Remove's doc)
	murky bool
}

// s25oStep is one drawn op with its oracle.
type s25oStep struct {
	op ops.Op
	// pre is the error the op fails the batch with before anything is
	// sent (it does not compile), or nil.
	pre error
	// apply applies the op to the oracle's model; it returns the
	// sentinel the batch fails with, or nil.
	apply func(x *s25oRun) error
	// check compares the op's typed result with what apply computed.
	check func(res *tx.Result) error
	// create: CreateIfMissing(value); exists: the Exists guard; del: Delete.
	create *S25oBox
	exists bool
	del    bool
	// read: the op writes nothing (a guard, a read, an empty variadic
	// op, a TTL): a batch of such ops leaves the version as it was and
	// creates no model
	read bool
}

// s25oYield checks a Yield's result against want (set by apply).
func s25oYield[A comparable](y *ops.Yield[A], want *A) func(res *tx.Result) error {
	return func(res *tx.Result) error {
		got, err := y.Result(res)
		if err != nil || got != *want {
			return fmt.Errorf("%s yielded %v, %v; want %v", y, got, err, *want)
		}
		return nil
	}
}

// s25oYieldF is s25oYield of a float, NaN equal to NaN.
func s25oYieldF(y *ops.Yield[float64], want *float64) func(res *tx.Result) error {
	return func(res *tx.Result) error {
		got, err := y.Result(res)
		if err != nil || !(got == *want || math.IsNaN(got) && math.IsNaN(*want)) {
			return fmt.Errorf("%s yielded %v, %v; want %v", y, got, err, *want)
		}
		return nil
	}
}

// s25oMaybe checks a Maybe's result against want and ok.
func s25oMaybe[A comparable](m *ops.Maybe[A], want *A, ok *bool) func(res *tx.Result) error {
	return func(res *tx.Result) error {
		got, gok, err := m.Result(res)
		if err != nil || gok != *ok || got != *want {
			return fmt.Errorf("%s yielded %q, %v, %v; want %q, %v", m, s25oShort(fmt.Sprint(got)), gok, err, s25oShort(fmt.Sprint(*want)), *ok)
		}
		return nil
	}
}

// s25oIntOp is an integer op's oracle: the new value, or the error.
func s25oAdd(a, b, lo, hi *big.Int) (*big.Int, error) {
	r := new(big.Int).Add(a, b)
	if r.Cmp(lo) < 0 || r.Cmp(hi) > 0 {
		return nil, rapyer.ErrOverflow
	}
	return r, nil
}

var (
	s25oI64Lo = big.NewInt(math.MinInt64)
	s25oI64Hi = big.NewInt(math.MaxInt64)
	s25oExact = big.NewInt(1 << 53)
)

// s25oCounter draws an op on N, Small or U.
func s25oCounter(r *rand.Rand) s25oStep {
	switch r.IntN(6) {
	case 0, 1:
		by := s25oPick(r, s25oInts)
		neg := r.IntN(2) == 0
		var y *ops.Yield[int64]
		if neg {
			y = ops.Decr(s25oN, by)
		} else {
			y = ops.Incr(s25oN, by)
		}
		want := new(int64)
		st := s25oStep{op: y, check: s25oYield(y, want)}
		if neg && by == math.MinInt64 {
			st.pre = rapyer.ErrOverflow
		}
		st.apply = func(x *s25oRun) error {
			b := big.NewInt(by)
			if neg {
				b.Neg(b)
			}
			v, err := s25oAdd(big.NewInt(x.cur.N), b, s25oI64Lo, s25oI64Hi)
			if err != nil {
				return err
			}
			x.cur.N = v.Int64()
			*want = x.cur.N
			return nil
		}
		return st
	case 2:
		by := s25oPick(r, s25oInt8s)
		neg := r.IntN(2) == 0
		var y *ops.Yield[int8]
		if neg {
			y = ops.Decr(s25oSmall, by)
		} else {
			y = ops.Incr(s25oSmall, by)
		}
		want := new(int8)
		return s25oStep{op: y, check: s25oYield(y, want), apply: func(x *s25oRun) error {
			b := int64(by)
			if neg {
				b = -b
			}
			v := int64(x.cur.Small) + b
			if v < math.MinInt8 || v > math.MaxInt8 {
				return rapyer.ErrOverflow
			}
			x.cur.Small = int8(v)
			*want = x.cur.Small
			return nil
		}}
	case 3:
		return s25oUnsigned(r)
	case 4:
		return s25oMaxMin(r)
	}
	return s25oExactArith(r)
}

// s25oUnsigned draws Incr or Decr of the uint64 field: HINCRBY works on
// int64, so its bound is 2^63-1, a step past it is refused before sending,
// and a stored value past it fails with ErrOverflow.
func s25oUnsigned(r *rand.Rand) s25oStep {
	by := s25oPick(r, s25oUints)
	neg := r.IntN(2) == 0
	var y *ops.Yield[uint64]
	if neg {
		y = ops.Decr(s25oU, by)
	} else {
		y = ops.Incr(s25oU, by)
	}
	want := new(uint64)
	st := s25oStep{op: y, check: s25oYield(y, want)}
	if by > math.MaxInt64 {
		st.pre = rapyer.ErrOverflow
	}
	st.apply = func(x *s25oRun) error {
		if x.cur.U > math.MaxInt64 {
			return rapyer.ErrOverflow
		}
		b := new(big.Int).SetUint64(by)
		if neg {
			b.Neg(b)
		}
		v, err := s25oAdd(new(big.Int).SetUint64(x.cur.U), b, big.NewInt(0), s25oI64Hi)
		if err != nil {
			return err
		}
		x.cur.U = v.Uint64()
		*want = x.cur.U
		return nil
	}
	return st
}

// s25oMaxMin draws Max or Min of N (exact at every size).
func s25oMaxMin(r *rand.Rand) s25oStep {
	v := s25oPick(r, s25oInts)
	isMax := r.IntN(2) == 0
	y := ops.Min(s25oN, v)
	if isMax {
		y = ops.Max(s25oN, v)
	}
	want := new(int64)
	return s25oStep{op: y, check: s25oYield(y, want), apply: func(x *s25oRun) error {
		if isMax {
			x.cur.N = max(x.cur.N, v)
		} else {
			x.cur.N = min(x.cur.N, v)
		}
		*want = x.cur.N
		return nil
	}}
}

// s25oExactArith draws Mul, FloorDiv or Mod of N: exact within +-2^53,
// ErrOverflow past it (an operand or the result), ErrInvalid for a zero
// divisor.
func s25oExactArith(r *rand.Rand) s25oStep {
	v := s25oPick(r, append(s25oInts, 2, 3, -3))
	fn := r.IntN(3)
	y := []func(lens.Field[S25oBox, int64], int64) *ops.Yield[int64]{ops.Mul[S25oBox, int64], ops.FloorDiv[S25oBox, int64], ops.Mod[S25oBox, int64]}[fn](s25oN, v)
	want := new(int64)
	return s25oStep{op: y, check: s25oYield(y, want), apply: func(x *s25oRun) error {
		a, b := big.NewInt(x.cur.N), big.NewInt(v)
		out := func(z *big.Int) bool { return new(big.Int).Abs(z).Cmp(s25oExact) > 0 }
		if out(a) || out(b) {
			return rapyer.ErrOverflow
		}
		res := new(big.Int)
		switch {
		case fn == 0:
			res.Mul(a, b)
		case b.Sign() == 0:
			return rapyer.ErrInvalid
		default:
			q, m := new(big.Int).DivMod(a, b, new(big.Int)) // Euclidean: m >= 0
			if m.Sign() != 0 && b.Sign() < 0 {
				q.Add(q, big.NewInt(1))
				m.Add(m, b)
			}
			if fn == 1 {
				res = q
			} else {
				res = m
			}
		}
		if out(res) {
			return rapyer.ErrOverflow
		}
		x.cur.N = res.Int64()
		*want = x.cur.N
		return nil
	}}
}

// s25oFloat draws Incr, Decr, Mul, Div, Max or Min of F.
func s25oFloat(r *rand.Rand) s25oStep {
	v := s25oPick(r, s25oFloats)
	fn := r.IntN(6)
	mk := []func(lens.Field[S25oBox, float64], float64) *ops.Yield[float64]{ops.Incr[S25oBox, float64], ops.Decr[S25oBox, float64],
		ops.Mul[S25oBox, float64], ops.Div[S25oBox, float64], ops.Max[S25oBox, float64], ops.Min[S25oBox, float64]}
	y := mk[fn](s25oF, v)
	want := new(float64)
	st := s25oStep{op: y, check: s25oYieldF(y, want)}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		st.pre = rapyer.ErrInvalid
	}
	st.apply = func(x *s25oRun) error {
		a := x.cur.F
		var res float64
		switch fn {
		case 0:
			res = a + v
		case 1:
			res = a - v
		case 2:
			res = a * v
		case 3:
			if v == 0 {
				return rapyer.ErrInvalid
			}
			res = a / v
		case 4:
			res = math.Max(a, v)
		case 5:
			res = math.Min(a, v)
		}
		if math.IsNaN(res) || math.IsInf(res, 0) {
			return rapyer.ErrOverflow
		}
		x.cur.F = res
		*want = res
		return nil
	}
	return st
}

// s25oText draws Set, AppendText or Repeat of Text or Raw.
func s25oTextOp(r *rand.Rand) s25oStep {
	s := s25oStr(r)
	onRaw := r.IntN(3) == 0
	get := func(b *S25oBox) *string { return &b.Text }
	switch r.IntN(4) {
	case 0:
		if onRaw {
			return s25oStep{op: ops.Set(s25oRaw, []byte(s)), apply: func(x *s25oRun) error { x.cur.Raw = []byte(s); return nil }}
		}
		return s25oStep{op: ops.Set(s25oText, s), apply: func(x *s25oRun) error { x.cur.Text = s; return nil }}
	case 1, 2:
		if onRaw {
			y := ops.AppendText(s25oRaw, []byte(s))
			want := new(string)
			return s25oStep{op: y, check: func(res *tx.Result) error {
				got, err := y.Result(res)
				if err != nil || string(got) != *want {
					return fmt.Errorf("%s yielded %q, %v", y, s25oShort(string(got)), err)
				}
				return nil
			}, apply: func(x *s25oRun) error {
				if err := x.spend(int64(len(x.cur.Raw) + len(s))); err != nil {
					return err
				}
				x.cur.Raw = append(x.cur.Raw, s...)
				*want = string(x.cur.Raw)
				return nil
			}}
		}
		y := ops.AppendText(s25oText, s)
		want := new(string)
		return s25oStep{op: y, check: s25oYield(y, want), apply: func(x *s25oRun) error {
			if err := x.spend(int64(len(*get(x.cur)) + len(s))); err != nil {
				return err
			}
			x.cur.Text += s
			*want = x.cur.Text
			return nil
		}}
	}
	n := r.IntN(5) - 1
	y := ops.Repeat(s25oText, n)
	want := new(string)
	st := s25oStep{op: y, check: s25oYield(y, want)}
	if n < 0 {
		st.pre = rapyer.ErrInvalid
	}
	st.apply = func(x *s25oRun) error {
		if len(x.cur.Text) > 0 && n > 0 {
			if err := x.spend(int64(len(x.cur.Text) * n)); err != nil {
				return err
			}
		}
		x.cur.Text = strings.Repeat(x.cur.Text, n)
		*want = x.cur.Text
		return nil
	}
	return st
}

// spend counts text against the default byte budget.
func (x *s25oRun) spend(n int64) error {
	if x.bytes+n > tx.DefaultBytes {
		return rapyer.ErrTooLarge
	}
	x.bytes += n
	return nil
}

// s25oPyClamp is Python's clamping of a slice bound or an insert index.
func s25oPyClamp(i, n int) int {
	if i < 0 {
		i += n
		if i < 0 {
			return 0
		}
	}
	return min(i, n)
}

// s25oPyIndex is Python's index into a list of n, ok false outside it.
func s25oPyIndex(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// s25oListOp draws an op of the list.
func s25oListOp(r *rand.Rand) s25oStep {
	switch r.IntN(13) {
	case 0, 1:
		vs := make([]string, r.IntN(4))
		for i := range vs {
			vs[i] = s25oStr(r)
		}
		if r.IntN(2) == 0 {
			return s25oStep{op: ops.Append(s25oList, vs...), read: len(vs) == 0, apply: func(x *s25oRun) error { x.cur.List = append(x.cur.List, vs...); return nil }}
		}
		return s25oStep{op: ops.Prepend(s25oList, vs...), read: len(vs) == 0, apply: func(x *s25oRun) error {
			x.cur.List = append(slices.Clone(vs), x.cur.List...)
			return nil
		}}
	case 2, 3:
		last := r.IntN(2) == 0
		m := ops.PopFirst(s25oList)
		if last {
			m = ops.PopLast(s25oList)
		}
		want, ok := new(string), new(bool)
		return s25oStep{op: m, check: s25oMaybe(m, want, ok), apply: func(x *s25oRun) error {
			l := x.cur.List
			if *ok = len(l) > 0; *ok {
				if last {
					*want, x.cur.List = l[len(l)-1], l[:len(l)-1]
				} else {
					*want, x.cur.List = l[0], l[1:]
				}
			}
			return nil
		}}
	case 4:
		i := s25oPick(r, s25oIdx)
		m := ops.PopAt(s25oList, i)
		want, ok := new(string), new(bool)
		return s25oStep{op: m, check: s25oMaybe(m, want, ok), apply: func(x *s25oRun) error {
			if x.murky {
				return rapyer.ErrInvalid
			}
			j, in := s25oPyIndex(i, len(x.cur.List))
			if *ok = in; in {
				*want = x.cur.List[j]
				x.cur.List = slices.Delete(slices.Clone(x.cur.List), j, j+1)
			}
			return nil
		}}
	case 5:
		i, v := s25oPick(r, s25oIdx), s25oStr(r)
		return s25oStep{op: ops.SetAt(s25oList, i, v), apply: func(x *s25oRun) error {
			if x.murky {
				return rapyer.ErrInvalid
			}
			j, in := s25oPyIndex(i, len(x.cur.List))
			if !in {
				return rapyer.ErrOutOfRange
			}
			x.cur.List = slices.Clone(x.cur.List)
			x.cur.List[j] = v
			return nil
		}}
	case 6:
		i, v := s25oPick(r, s25oIdx), s25oStr(r)
		return s25oStep{op: ops.InsertAt(s25oList, i, v), apply: func(x *s25oRun) error {
			if x.murky {
				return rapyer.ErrInvalid
			}
			j := s25oPyClamp(i, len(x.cur.List))
			x.cur.List = slices.Insert(slices.Clone(x.cur.List), j, v)
			return nil
		}}
	case 7, 8:
		s, e := s25oPick(r, s25oIdx), s25oPick(r, append(s25oIdx, ops.End))
		trim := r.IntN(2) == 0
		slice := func(n int) (int, int) {
			a, b := s25oPyClamp(s, n), n
			if e != ops.End {
				b = s25oPyClamp(e, n)
			}
			return a, max(a, b)
		}
		if trim {
			return s25oStep{op: ops.Trim(s25oList, s, e), apply: func(x *s25oRun) error {
				if x.murky {
					return rapyer.ErrInvalid
				}
				a, b := slice(len(x.cur.List))
				x.cur.List = slices.Clone(x.cur.List[a:b])
				return nil
			}}
		}
		y := ops.RemoveRange(s25oList, s, e)
		want := new(int)
		return s25oStep{op: y, check: s25oYield(y, want), apply: func(x *s25oRun) error {
			if x.murky {
				return rapyer.ErrInvalid
			}
			a, b := slice(len(x.cur.List))
			*want = b - a
			x.cur.List = slices.Delete(slices.Clone(x.cur.List), a, b)
			return nil
		}}
	case 9, 10:
		v := s25oPick(r, s25oStrs)
		all := r.IntN(2) == 0
		y := ops.Remove(s25oList, v)
		if all {
			y = ops.RemoveAll(s25oList, v)
		}
		want := new(int)
		return s25oStep{op: y, check: s25oYield(y, want), apply: func(x *s25oRun) error {
			var keep []string
			*want, x.murky = 0, true
			for _, e := range x.cur.List {
				if e == v && (all || *want == 0) {
					*want++
					continue
				}
				keep = append(keep, e)
			}
			x.cur.List = keep
			return nil
		}}
	case 11:
		y := ops.Len(s25oList)
		want := new(int)
		return s25oStep{op: y, read: true, check: s25oYield(y, want), apply: func(x *s25oRun) error { *want = len(x.cur.List); return nil }}
	}
	return s25oStep{op: ops.Clear(s25oList), apply: func(x *s25oRun) error { x.cur.List, x.murky = nil, false; return nil }}
}

// s25oSetOp draws an op of the set.
func s25oSetOp(r *rand.Rand) s25oStep {
	ms := make([]string, r.IntN(4))
	for i := range ms {
		ms[i] = s25oPick(r, s25oStrs)
	}
	if len(ms) > 1 && r.IntN(2) == 0 {
		ms[1] = ms[0] // a duplicate
	}
	switch r.IntN(5) {
	case 0, 1:
		y := ops.Add(s25oTags, ms...)
		want := new(int)
		return s25oStep{op: y, read: len(ms) == 0, check: s25oYield(y, want), apply: func(x *s25oRun) error {
			*want = 0
			if x.cur.Tags == nil {
				x.cur.Tags = map[string]struct{}{}
			}
			for _, m := range ms {
				if _, ok := x.cur.Tags[m]; !ok {
					*want++
					x.cur.Tags[m] = struct{}{}
				}
			}
			return nil
		}}
	case 2:
		y := ops.Discard(s25oTags, ms...)
		want := new(int)
		return s25oStep{op: y, read: len(ms) == 0, check: s25oYield(y, want), apply: func(x *s25oRun) error {
			*want = 0
			for _, m := range ms {
				if _, ok := x.cur.Tags[m]; ok {
					*want++
					delete(x.cur.Tags, m)
				}
			}
			return nil
		}}
	case 3:
		y := ops.Size(s25oTags)
		want := new(int)
		return s25oStep{op: y, read: true, check: s25oYield(y, want), apply: func(x *s25oRun) error { *want = len(x.cur.Tags); return nil }}
	}
	return s25oStep{op: ops.ClearItems(s25oTags), apply: func(x *s25oRun) error { x.cur.Tags = nil; return nil }}
}

// s25oMapOp draws an op of the maps.
func s25oMapOp(r *rand.Rand) s25oStep {
	k, v := s25oPick(r, s25oStrs), s25oStr(r)
	switch r.IntN(9) {
	case 0:
		return s25oStep{op: ops.SetItem(s25oAttrs, k, v), apply: func(x *s25oRun) error {
			if x.cur.Attrs == nil {
				x.cur.Attrs = map[string]string{}
			}
			x.cur.Attrs[k] = v
			return nil
		}}
	case 1:
		items := map[string]string{}
		for range r.IntN(3) {
			items[s25oPick(r, s25oStrs)] = s25oPick(r, s25oStrs)
		}
		return s25oStep{op: ops.SetItems(s25oAttrs, items), read: len(items) == 0, apply: func(x *s25oRun) error {
			if x.cur.Attrs == nil {
				x.cur.Attrs = map[string]string{}
			}
			maps.Copy(x.cur.Attrs, items)
			return nil
		}}
	case 2:
		ks := []string{k}
		if r.IntN(2) == 0 {
			ks = append(ks, k, s25oPick(r, s25oStrs))
		}
		y := ops.DeleteItems(s25oAttrs, ks...)
		want := new(int)
		return s25oStep{op: y, check: s25oYield(y, want), apply: func(x *s25oRun) error {
			*want = 0
			for _, k := range ks {
				if _, ok := x.cur.Attrs[k]; ok {
					*want++
					delete(x.cur.Attrs, k)
				}
			}
			return nil
		}}
	case 3, 4:
		pop := r.IntN(2) == 0
		m := ops.GetItem(s25oAttrs, k)
		if pop {
			m = ops.PopItem(s25oAttrs, k, "default")
		}
		want, ok := new(string), new(bool)
		return s25oStep{op: m, read: !pop, check: s25oMaybe(m, want, ok), apply: func(x *s25oRun) error {
			*want, *ok = x.cur.Attrs[k]
			if pop {
				delete(x.cur.Attrs, k)
				if !*ok {
					*want = "default"
				}
			}
			return nil
		}}
	case 5:
		y := ops.Size(s25oAttrs)
		want := new(int)
		return s25oStep{op: y, read: true, check: s25oYield(y, want), apply: func(x *s25oRun) error { *want = len(x.cur.Attrs); return nil }}
	case 6:
		return s25oStep{op: ops.ClearItems(s25oAttrs), apply: func(x *s25oRun) error { x.cur.Attrs = nil; return nil }}
	case 7:
		n := s25oPick(r, s25oInts)
		return s25oStep{op: ops.SetItem(s25oScore, k, n), apply: func(x *s25oRun) error {
			if x.cur.Score == nil {
				x.cur.Score = map[string]int64{}
			}
			x.cur.Score[k] = n
			return nil
		}}
	}
	by := s25oPick(r, s25oInts)
	y := ops.IncrItem(s25oScore, k, by)
	want := new(int64)
	return s25oStep{op: y, check: s25oYield(y, want), apply: func(x *s25oRun) error {
		v, err := s25oAdd(big.NewInt(x.cur.Score[k]), big.NewInt(by), s25oI64Lo, s25oI64Hi)
		if err != nil {
			return err
		}
		if x.cur.Score == nil {
			x.cur.Score = map[string]int64{}
		}
		x.cur.Score[k] = v.Int64()
		*want = x.cur.Score[k]
		return nil
	}}
}

// s25oPred is a random predicate and its Go meaning.
func s25oPred(r *rand.Rand, depth int) (is.Pred[S25oBox], func(S25oBox) bool) {
	switch k := r.IntN(12); {
	case k == 0 && depth < 2:
		p, f := s25oPred(r, depth+1)
		return is.Not(p), func(b S25oBox) bool { return !f(b) }
	case k == 1 && depth < 2:
		p, f := s25oPred(r, depth+1)
		q, g := s25oPred(r, depth+1)
		return is.And(p, q), func(b S25oBox) bool { return f(b) && g(b) }
	case k == 2 && depth < 2:
		p, f := s25oPred(r, depth+1)
		q, g := s25oPred(r, depth+1)
		return is.Or(p, q), func(b S25oBox) bool { return f(b) || g(b) }
	case k == 3:
		v := s25oPick(r, s25oInts)
		return is.AtLeast(s25oN, v), func(b S25oBox) bool { return b.N >= v }
	case k == 4:
		v := s25oPick(r, s25oInts)
		return is.Below(s25oN, v), func(b S25oBox) bool { return b.N < v }
	case k == 5:
		v := s25oPick(r, s25oStrs)
		return is.Equal(s25oText, v), func(b S25oBox) bool { return b.Text == v }
	case k == 6:
		v := s25oPick(r, s25oStrs)
		return is.AtLeast(s25oText, v), func(b S25oBox) bool { return b.Text >= v }
	case k == 7:
		v := s25oPick(r, s25oInt8s)
		return is.AtMost(s25oSmall, v), func(b S25oBox) bool { return b.Small <= v }
	case k == 8:
		v := s25oPick(r, s25oStrs)
		return is.Member(s25oTags, v), func(b S25oBox) bool { _, ok := b.Tags[v]; return ok }
	case k == 9:
		v := s25oPick(r, s25oStrs)
		return is.Key(s25oAttrs, v), func(b S25oBox) bool { _, ok := b.Attrs[v]; return ok }
	case k == 10:
		v := s25oPick(r, s25oStrs)
		return is.Element(s25oList, v), func(b S25oBox) bool { return slices.Contains(b.List, v) }
	}
	v := r.IntN(4)
	return is.AtMost(is.Len(s25oList), v), func(b S25oBox) bool { return len(b.List) <= v }
}

// s25oGuard draws Require or Check of a predicate, or Exists.
func s25oGuard(r *rand.Rand) s25oStep {
	p, f := s25oPred(r, 0)
	switch r.IntN(4) {
	case 0, 1:
		return s25oStep{op: ops.Require(p), read: true, apply: func(x *s25oRun) error {
			if !f(x.start) {
				return rapyer.ErrPrecondition
			}
			return nil
		}}
	case 2:
		y := ops.Check(p)
		want := new(bool)
		return s25oStep{op: y, read: true, check: s25oYield(y, want), apply: func(x *s25oRun) error { *want = f(*x.cur); return nil }}
	}
	return s25oStep{op: ops.Exists[S25oBox](), exists: true, read: true, apply: func(*s25oRun) error { return nil }}
}

// s25oModelOp draws Expire, Persist or VersionIs (which never holds: a
// version is the server's clock).
func s25oModelOp(r *rand.Rand) s25oStep {
	switch r.IntN(4) {
	case 0:
		d := s25oPick(r, []time.Duration{0, -time.Second, time.Microsecond, time.Hour})
		st := s25oStep{op: ops.Expire[S25oBox](d), read: true, apply: func(*s25oRun) error { return nil }}
		if d < time.Millisecond {
			st.pre = rapyer.ErrInvalid
		}
		return st
	case 1:
		return s25oStep{op: ops.Persist[S25oBox](), read: true, apply: func(*s25oRun) error { return nil }}
	case 2:
		return s25oStep{op: ops.VersionIs[S25oBox](12345), read: true, apply: func(*s25oRun) error { return rapyer.ErrPrecondition }}
	}
	v := s25oPick(r, s25oInts)
	return s25oStep{op: ops.Set(s25oN, v), apply: func(x *s25oRun) error { x.cur.N = v; return nil }}
}

// s25oCreate draws CreateIfMissing: scalars of edge values, and now and
// then a collection, which it refuses.
func s25oCreate(r *rand.Rand) s25oStep {
	v := s25oRandomBox(r)
	v.List, v.Tags, v.Attrs, v.Score = nil, nil, nil, nil
	st := s25oStep{op: ops.CreateIfMissing(v), create: &v, apply: func(*s25oRun) error { return nil }}
	if r.IntN(6) == 0 {
		v.List = []string{"x"}
		st.op = ops.CreateIfMissing(v)
		st.pre = rapyer.ErrInvalid
	}
	return st
}

// s25oDraw draws one op.
func s25oDraw(r *rand.Rand) s25oStep {
	var st s25oStep
	switch r.IntN(20) {
	case 0, 1, 2:
		st = s25oCounter(r)
	case 3:
		st = s25oFloat(r)
	case 4, 5:
		st = s25oTextOp(r)
	case 6, 7, 8, 9:
		st = s25oListOp(r)
	case 10, 11:
		st = s25oSetOp(r)
	case 12, 13, 14:
		st = s25oMapOp(r)
	case 15, 16, 17:
		st = s25oGuard(r)
	case 18:
		st = s25oModelOp(r)
	default:
		st = s25oCreate(r)
	}
	return st
}

// s25oExpect is what the oracle expects of a batch: an error (one of
// errs), or the stored model (exists, value) and every step's result.
type s25oExpect struct {
	err     error
	skipped bool
	exists  bool
	value   S25oBox
	// writes: an op of the batch writes (else the version stays)
	writes bool
}

// s25oPredict runs the oracle on a batch of steps with mode, on the model
// as stored (exists, v).
func s25oPredict(steps []s25oStep, mode tx.Missing, exists bool, v S25oBox) s25oExpect {
	for _, st := range steps {
		if st.pre != nil {
			return s25oExpect{err: st.pre}
		}
	}
	var create *S25oBox
	guarded, del, writes := false, false, false
	for _, st := range steps {
		writes = writes || !st.read
		if st.create != nil && create == nil {
			create = st.create
		}
		guarded = guarded || st.exists
		del = del || st.del
	}
	switch {
	case mode == tx.MustBeNew && guarded:
		return s25oExpect{err: rapyer.ErrInvalid} // Exists and MustBeNew: refused before sending
	case exists && mode == tx.MustBeNew:
		return s25oExpect{err: rapyer.ErrExists}
	case !exists && mode == tx.SkipIfMissing:
		return s25oExpect{skipped: true}
	case !exists && mode == tx.FailIfMissing && (create == nil || guarded):
		return s25oExpect{err: rapyer.ErrNotFound}
	case !exists && create != nil:
		v = s25oClone(*create)
	case !exists:
		v = S25oBox{}
	}
	x := &s25oRun{start: s25oClone(v)}
	cur := s25oClone(v)
	x.cur = &cur
	for _, st := range steps {
		if err := st.apply(x); err != nil {
			return s25oExpect{err: err}
		}
	}
	return s25oExpect{exists: !del && (exists || writes), value: cur, writes: writes}
}

// s25oSentinels are every error a batch may fail with, for the typed check.
var s25oSentinels = []error{rapyer.ErrNotFound, rapyer.ErrPrecondition, rapyer.ErrWrongType, rapyer.ErrCorrupt,
	rapyer.ErrInvalid, rapyer.ErrOverflow, rapyer.ErrEmpty, rapyer.ErrOutOfRange, rapyer.ErrExists, rapyer.ErrTooLarge,
	rapyer.ErrUnknownOutcome, rapyer.ErrRefused, rapyer.ErrNoPermission, rapyer.ErrCrossSlot, rapyer.ErrNotSent, rapyer.ErrPartlyApplied}

func s25oTyped(err error) bool {
	return slices.ContainsFunc(s25oSentinels, func(s error) bool { return errors.Is(err, s) })
}
