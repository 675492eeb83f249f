package lua_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// encode asks the server's IX.enc (the ixenc entry) for the encodings of
// texts of kind.
func encode(t *testing.T, b *testenv.Backend, kind string, texts []string) []string {
	t.Helper()
	args := []any{kind}
	for _, s := range texts {
		args = append(args, s)
	}
	// a key, so that a cluster client knows where to send it
	raw, err := lua.IxEnc.Run(context.Background(), b.Client, script.Command([]string{b.Prefix + "enc"}, args...)).Slice()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(texts))
	for i, x := range raw {
		s, ok := x.(string)
		if !ok {
			t.Fatalf("%s %q: no encoding", kind, texts[i])
		}
		out[i] = s
	}
	return out
}

// ordered holds the encodings of kind to the order of the values: for
// every pair, enc(a) < enc(b) exactly when less(a, b), enc(a) == enc(b)
// exactly when neither; and no encoding is a prefix of another's (each
// ends where its value ends).
func ordered(t *testing.T, b *testenv.Backend, kind string, texts []string, less func(i, j int) bool) {
	t.Helper()
	enc := encode(t, b, kind, texts)
	for i := range texts {
		for j := range texts {
			want := 0
			if less(i, j) {
				want = -1
			} else if less(j, i) {
				want = 1
			}
			if got := strings.Compare(enc[i], enc[j]); got != want {
				t.Fatalf("%s: %q vs %q: encodings compare %d, values %d (%q, %q)", kind, texts[i], texts[j], got, want, enc[i], enc[j])
			}
			if i != j && enc[i] != enc[j] && strings.HasPrefix(enc[j], enc[i]) {
				t.Fatalf("%s: the encoding of %q is a prefix of that of %q", kind, texts[i], texts[j])
			}
		}
	}
}

// TestIndexEncodingOrders: for seeded random values of every kind (and
// their edges), sorting by the server's encoding sorts the Go values.
func TestIndexEncodingOrders(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		r := rand.New(rand.NewPCG(seed, 14))
		ints := []int64{0, 1, -1, 9, 10, -9, -10, math.MaxInt64, math.MinInt64, 99, -99, 100}
		for range 60 {
			ints = append(ints, r.Int64()>>r.IntN(63)*int64(1-2*r.IntN(2)))
		}
		var it []string
		for _, v := range ints {
			it = append(it, strconv.FormatInt(v, 10))
		}
		it = append(it, "18446744073709551615", "9223372036854775808")
		ordered(t, b, "i", it, func(i, j int) bool { return bigLess(it[i], it[j]) })

		fs := []float64{0, 1, -1, 0.5, -0.5, math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64,
			math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 1e-300, 1e300, 2, 3, 1.0000000000000002}
		for range 60 {
			fs = append(fs, math.Float64frombits(r.Uint64()))
		}
		var ft []string
		var fv []float64
		for _, f := range fs {
			if math.IsNaN(f) {
				continue
			}
			ft = append(ft, schema.FormatFloat(f, 64))
			fv = append(fv, f)
		}
		ordered(t, b, "f", ft, func(i, j int) bool { return fv[i] < fv[j] })
		if e := encode(t, b, "f", []string{"-0", "0"}); e[0] != e[1] {
			t.Fatalf("-0 and 0 encode apart: %q %q", e[0], e[1])
		}

		st := []string{"", "a", "a\x00", "a\x00\x00", "a\x01", "ab", "b", "\x00", "\xff", "a\xff", "\x00\xff", "z\x00a"}
		for range 60 {
			n := r.IntN(6)
			p := make([]byte, n)
			for k := range p {
				p[k] = []byte{0, 1, 'a', 'b', 0xfe, 0xff}[r.IntN(6)]
			}
			st = append(st, string(p))
		}
		ordered(t, b, "s", st, func(i, j int) bool { return st[i] < st[j] })
		ordered(t, b, "b", []string{"false", "true"}, func(i, j int) bool { return i < j })

		var tv []time.Time
		for range 40 {
			tv = append(tv, time.Unix(r.Int64N(315_000_000_000)-62_000_000_000, r.Int64N(1e9)).In(time.FixedZone("", (r.IntN(48)-24)*1800)))
		}
		tv = append(tv, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC))
		var tt []string
		for _, x := range tv {
			tt = append(tt, x.Format(time.RFC3339Nano))
		}
		ordered(t, b, "t", tt, func(i, j int) bool { return tv[i].Before(tv[j]) })
		// NaN, and texts of no kind, have no encoding
		raw, err := lua.IxEnc.Run(context.Background(), b.Client, script.Command([]string{b.Prefix + "enc"}, "f", "nan", "x")).Slice()
		if err != nil || len(raw) != 2 || raw[0] != nil || raw[1] != nil {
			t.Fatalf("NaN and x encode as %q (%v)", raw, err)
		}
	})
}

// bigLess compares canonical integer texts of up to 20 digits.
func bigLess(a, b string) bool {
	na, nb := strings.HasPrefix(a, "-"), strings.HasPrefix(b, "-")
	if na != nb {
		return na
	}
	da, db := strings.TrimPrefix(a, "-"), strings.TrimPrefix(b, "-")
	c := len(da) - len(db)
	if c == 0 {
		c = bytes.Compare([]byte(da), []byte(db))
	}
	if na {
		return c > 0
	}
	return c < 0
}
