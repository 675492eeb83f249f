package rapyer

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// readItem is the 8-field model of the peer table's Get row.
type readItem struct {
	Name    string
	Email   string
	City    string
	Age     int
	Score   float64
	Active  bool
	Visits  int64
	Balance int64
}

// itemReply is the HGETALL reply of a saved readItem (RESP2), with its
// field names and values in turn.
func itemReply() ([]byte, []string) {
	pairs := []string{"__v", "3", "name", "Ada Lovelace", "email", "ada@example.com", "city", "London",
		"age", "36", "score", "97.5", "active", "true", "visits", "1", "balance", "100"}
	return respHash(pairs, false), pairs
}

// BenchmarkDecodeRoot is the client's work on an HGETALL reply of the
// 8-field model, without the network: the map go-redis's HGETALL builds
// (a string per name and value) and codec.Decode of it, against the raw
// reply read in place.
//
//	go test -run '^$' -bench BenchmarkDecodeRoot -benchmem ./rapyer/
func BenchmarkDecodeRoot(b *testing.B) {
	m := MustNew[readItem](redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Options{Prefix: "bench_decode_root"})
	raw, pairs := itemReply()
	bytes := make([][]byte, len(pairs))
	for i, p := range pairs {
		bytes[i] = []byte(p)
	}
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := make(map[string]string, len(bytes)/2)
			for i := 0; i < len(bytes); i += 2 {
				h[string(bytes[i])] = string(bytes[i+1])
			}
			if _, _, ok, err := m.decode("k", codec.Data{Root: h}); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf := append([]byte(nil), raw...) // what RawCmd reads: a new buffer
			if _, _, ok, err := m.decodeRaw("k", buf, nil); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// readAll has a field of every scalar kind, a nested struct, pointers to
// scalars and to structs (with a pointer inside), and no collections.
type readAll struct {
	Name    string
	Flag    bool
	I       int
	I8      int8
	U16     uint16
	U64     uint64
	F32     float32
	F64     float64
	Blob    []byte
	When    time.Time
	Wait    time.Duration
	IP      netip.Addr
	PtrInt  *int
	PtrStr  *string
	PtrTime *time.Time
	Home    readPlace
	Work    *readPlace
	Renamed string `redis:"nick"`
}

type readPlace struct {
	City string
	Geo  *struct{ Lat, Lng float64 }
}

// readCols is readAll with collections beside it.
type readCols struct {
	All    readAll
	Tags   []string
	Counts map[string]int
}

// TestDecodeRawAgreesWithDecode: the raw reply of a root hash read in place
// (decodeRaw), as RESP2 and as RESP3, gives what codec.Decode of the map
// gives (value, version, existence, error text), on 300 seeded hashes each
// of models of every scalar kind: saved values, then their fields in any
// order, with stray fields, fields or the version removed, and values
// corrupted.
func TestDecodeRawAgreesWithDecode(t *testing.T) {
	testDecodeRaw[readAll](t)
	testDecodeRaw[readCols](t)
	testDecodeRaw[wide](t)
}

func testDecodeRaw[T any](t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	m := MustNew[T](rdb, Options{})
	r := rand.New(rand.NewPCG(uint64(testenv.Seed(t)), 2))
	ctx := t.Context()
	for i := range 300 {
		v := testenv.Random(r, reflect.TypeFor[T]()).Interface().(T)
		id := strconv.Itoa(i)
		if err := m.Save(ctx, id, v); err != nil {
			continue // a value no Save writes (a year past 9999, ...)
		}
		root, _ := m.Key(id)
		h, err := rdb.HGetAll(ctx, root).Result()
		if err != nil {
			t.Fatal(err)
		}
		pairs := mutate(r, h, m.root)
		want, wver, wok, werr := m.decode(root, codec.Data{Root: h})
		for _, resp3 := range []bool{false, true} {
			got, ver, ok, err := m.decodeRaw(root, respHash(pairs, resp3), nil)
			if fmt.Sprint(err) != fmt.Sprint(werr) || ok != wok || ver != wver {
				t.Fatalf("%T %d resp3=%v %q: (%q %v %v), want (%q %v %v)", v, i, resp3, pairs, ver, ok, err, wver, wok, werr)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateNaNs(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); werr == nil && diff != "" {
				t.Fatalf("%T %d resp3=%v: %s", v, i, resp3, diff)
			}
		}
	}
}

// mutate changes the hash h at random (stray fields, fields removed,
// values corrupted) and returns its fields in turn, in the slots' order
// (as a Save writes them) or shuffled.
func mutate(r *rand.Rand, h map[string]string, root *codec.Root) []string {
	names := slices.Sorted(maps.Keys(h))
	if r.IntN(4) == 0 {
		h[[]string{"zz_stray", "__x", "Name", "home"}[r.IntN(4)]] = "stray"
	}
	for range r.IntN(3) {
		name := names[r.IntN(len(names))]
		switch r.IntN(4) {
		case 0:
			delete(h, name)
		default:
			h[name] = []string{"abc", "", "1e999", "-", "\r\n", "99999999999999999999999", "tru", "2x"}[r.IntN(8)]
		}
	}
	names = slices.Collect(maps.Keys(h))
	if r.IntN(2) == 0 {
		slices.SortFunc(names, func(a, b string) int { return slices.Index(root.Names(), a) - slices.Index(root.Names(), b) })
	} else {
		r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	}
	pairs := make([]string, 0, 2*len(names))
	for _, n := range names {
		pairs = append(pairs, n, h[n])
	}
	return pairs
}

// respHash is the HGETALL reply of the fields pairs (names and values in
// turn): a RESP2 array or a RESP3 map.
func respHash(pairs []string, resp3 bool) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(pairs))
	if resp3 {
		b = fmt.Appendf(nil, "%%%d\r\n", len(pairs)/2)
	}
	for _, p := range pairs {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(p), p)
	}
	return b
}

// wide keeps more fields in its root hash than codec.Fields holds.
type wide struct {
	A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P int
	Q, R, S, T, U, V, W, X, Y, Z                   string
	Inner                                          struct{ A, B, C, D, E, F, G, H bool }
}
