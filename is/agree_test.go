package is_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Doc has a field of every kind a predicate reads.
type Doc struct {
	N   int
	U   uint16
	F   float64
	S   string
	B   bool
	D   time.Duration
	T   time.Time
	L   []string
	Set map[string]struct{}
	M   map[string]int
}

var (
	dN   = lens.Of(func(d *Doc) *int { return &d.N })
	dU   = lens.Of(func(d *Doc) *uint16 { return &d.U })
	dF   = lens.Of(func(d *Doc) *float64 { return &d.F })
	dS   = lens.Of(func(d *Doc) *string { return &d.S })
	dB   = lens.Of(func(d *Doc) *bool { return &d.B })
	dD   = lens.Of(func(d *Doc) *time.Duration { return &d.D })
	dT   = lens.Of(func(d *Doc) *time.Time { return &d.T })
	dL   = lens.Of(func(d *Doc) *[]string { return &d.L })
	dSet = lens.Of(func(d *Doc) *map[string]struct{} { return &d.Set })
	dM   = lens.Of(func(d *Doc) *map[string]int { return &d.M })
)

// Small domains, so that equal values and every order come up often.
var (
	ints   = []int{-3, -1, 0, 1, 2, 1 << 40}
	uints  = []uint16{0, 1, 7, 65535}
	floats = []float64{-1.5, 0, 0.1, 2, 1e21}
	texts  = []string{"", "a", "ab", "b", "é", "a b"}
	durs   = []time.Duration{-time.Second, 0, time.Nanosecond, time.Hour}
	cet    = time.FixedZone("CET", 3600)
	times  = []time.Time{{}, time.Date(2024, 2, 29, 6, 30, 0, 5, time.UTC), time.Date(2024, 2, 29, 7, 30, 0, 5, cet),
		time.Date(2024, 2, 29, 6, 30, 0, 6, time.UTC), time.Date(1999, 12, 31, 23, 59, 59, 0, cet)}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func some[T any](r *rand.Rand, xs []T) []T {
	var out []T
	for range r.IntN(4) {
		out = append(out, pick(r, xs))
	}
	return out
}

func randomDoc(r *rand.Rand) Doc {
	d := Doc{N: pick(r, ints), U: pick(r, uints), F: pick(r, floats), S: pick(r, texts), B: r.IntN(2) == 1,
		D: pick(r, durs), T: pick(r, times), L: some(r, texts)}
	if r.IntN(3) > 0 {
		d.Set = map[string]struct{}{}
		for _, e := range some(r, texts) {
			d.Set[e] = struct{}{}
		}
	}
	if r.IntN(3) > 0 {
		d.M = map[string]int{}
		for _, k := range some(r, texts) {
			d.M[k] = pick(r, ints)
		}
	}
	return d
}

// ordered makes one of the six comparisons of x with v.
func ordered[A is.Ordered](r *rand.Rand, x is.Operand[Doc, A], v A) is.Pred[Doc] {
	return []func(is.Operand[Doc, A], A) is.Pred[Doc]{is.Equal[Doc, A], is.NotEqual[Doc, A], is.Below[Doc, A],
		is.AtMost[Doc, A], is.Above[Doc, A], is.AtLeast[Doc, A]}[r.IntN(6)](x, v)
}

func randomLeaf(r *rand.Rand) is.Pred[Doc] {
	switch r.IntN(16) {
	case 0:
		return ordered(r, dN, pick(r, ints))
	case 1:
		return ordered(r, dU, pick(r, uints))
	case 2:
		return ordered(r, dF, pick(r, floats))
	case 3:
		return ordered(r, dS, pick(r, texts))
	case 4:
		return ordered(r, dD, pick(r, durs))
	case 5:
		return ordered(r, dT, pick(r, times))
	case 6:
		if r.IntN(2) == 0 {
			return is.Equal(dB, r.IntN(2) == 1)
		}
		return is.NotEqual(dB, r.IntN(2) == 1)
	case 7:
		return is.In(dS, append(some(r, texts), pick(r, texts))...) // In() of none is refused
	case 8:
		return ordered(r, is.Len(dL), r.IntN(4))
	case 9:
		return ordered(r, is.Size(dSet), r.IntN(4))
	case 10:
		return ordered(r, is.Size(dM), r.IntN(4))
	case 11:
		return is.Member(dSet, pick(r, texts))
	case 12:
		return is.Element(dL, pick(r, texts))
	case 13:
		return ordered(r, is.TextLen(dS), r.IntN(4))
	case 14:
		return is.HasPrefix(dS, pick(r, texts))
	}
	return is.Key(dM, pick(r, texts))
}

func randomPred(r *rand.Rand, depth int) is.Pred[Doc] {
	if depth == 0 || r.IntN(3) == 0 {
		return randomLeaf(r)
	}
	switch r.IntN(3) {
	case 0:
		return is.Not(randomPred(r, depth-1))
	case 1:
		ps := make([]is.Pred[Doc], 1+r.IntN(3)) // And() of none is refused
		for i := range ps {
			ps[i] = randomPred(r, depth-1)
		}
		return is.And(ps...)
	}
	ps := make([]is.Pred[Doc], 1+r.IntN(3)) // Or() of none is refused
	for i := range ps {
		ps[i] = randomPred(r, depth-1)
	}
	return is.Or(ps...)
}

// seed is IS_SEED when set, else a new one; failures print it.
func seed(t *testing.T) uint64 {
	if s, err := strconv.ParseUint(os.Getenv("IS_SEED"), 10, 64); err == nil {
		return s
	}
	return rand.Uint64()
}

// TestServerAgreesWithHolds: random predicates over random documents, each
// evaluated by the server (ops.Check, and ops.Require for a few) and in Go
// (Holds); the two must agree.
func TestServerAgreesWithHolds(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		s := seed(t)
		r := rand.New(rand.NewPCG(s, 0))
		ctx := context.Background()
		m, err := rapyer.New[Doc](b.Client, rapyer.Options{Prefix: b.Prefix + "agree"})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 60 {
			d := randomDoc(r)
			if err := m.Save(ctx, "d", d); err != nil {
				t.Fatal(err)
			}
			checks := make([]*ops.Yield[bool], 25)
			preds := make([]is.Pred[Doc], len(checks))
			var batch tx.Batch
			for i := range checks {
				preds[i] = randomPred(r, 3)
				checks[i] = ops.Check(preds[i])
				batch = batch.Then(checks[i])
			}
			res, err := m.Exec(ctx, "d", batch)
			if err != nil {
				t.Fatalf("seed %d (IS_SEED=%d), round %d: %v", s, s, round, err)
			}
			for i, c := range checks {
				got, err := c.Result(res)
				if err != nil || got != preds[i].Holds(d) {
					t.Fatalf("seed %d (IS_SEED=%d), round %d: %s on %+v: the server says %v (%v), Holds says %v",
						s, s, round, preds[i], d, got, err, preds[i].Holds(d))
				}
			}
			p := preds[0]
			_, err = m.Exec(ctx, "d", tx.Of(ops.Require(p), ops.Incr(dN, 0)))
			if want := p.Holds(d); (err == nil) != want || err != nil && !errors.Is(err, rapyer.ErrPrecondition) {
				t.Fatalf("seed %d (IS_SEED=%d), round %d: Require(%s) on %+v: %v; Holds says %v", s, s, round, p, d, err, want)
			}
		}
	})
}

// TestAbsentFieldsAreZero: a model saved before a field was stored (the
// field's hash entry and collection keys missing) reads as zero and empty,
// on the server as in Go.
func TestAbsentFieldsAreZero(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[Doc](b.Client, rapyer.Options{Prefix: b.Prefix + "absent"})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ctx, "d", Doc{}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []is.Pred[Doc]{
			is.Equal(dN, 0), is.Equal(dS, ""), is.Equal(dT, time.Time{}), is.Equal(is.Len(dL), 0),
			is.Equal(is.Size(dSet), 0), is.Equal(is.TextLen(dS), 0), is.Not(is.Member(dSet, "")), is.Not(is.Key(dM, "")), is.Not(is.Element(dL, "")),
		} {
			if !p.Holds(Doc{}) {
				t.Fatalf("%s does not hold for the zero Doc", p)
			}
			if _, err := m.Exec(ctx, "d", tx.Of(ops.Require(p))); err != nil {
				t.Fatalf("Require(%s) on a zero Doc: %v", p, err)
			}
		}
	})
}

// TestGuardReportsTheFirstLeaf: a failed guard names the op, and what the
// server saw is the first leaf's.
func TestGuardReportsTheFirstLeaf(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[Doc](b.Client, rapyer.Options{Prefix: b.Prefix + "report"})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ctx, "d", Doc{N: 5, L: []string{"a", "b"}}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			p    is.Pred[Doc]
			want string
		}{
			{is.AtLeast(dN, 10), "Require(AtLeast(n, 10)): n is 5"},
			{is.Or(is.Above(is.Len(dL), 5), is.Equal(dN, 1)), "length is 2"},
			{is.Element(dL, "z"), "element is missing"},
			{is.Not(is.Element(dL, "a")), "element is present"},
			{is.Key(dM, "k"), "key is missing"},
		} {
			_, err := m.Exec(ctx, "d", tx.Of(ops.Incr(dN, 1), ops.Require(c.p)))
			if !errors.Is(err, rapyer.ErrPrecondition) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "Require(") {
				t.Errorf("Require(%s): %v; want ErrPrecondition saying %q", c.p, err, c.want)
			}
		}
		if d, err := m.Get(ctx, "d"); err != nil || d.N != 5 {
			t.Fatalf("after failed guards: %+v, %v; want n still 5", d, err)
		}
	})
}
