package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Level is a named integer type.
type Level int16

// Item is a struct element of a list, stored as JSON.
type Item struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

// Address is a nested struct, flattened into the root hash.
type Address struct {
	Street string
	City   string
	Geo    *Geo
}

// Geo is nested twice, behind a pointer.
type Geo struct {
	Lat, Lng float64
}

// Everything has one field of every supported kind.
type Everything struct {
	Name    string
	Flag    bool
	I       int
	I8      int8
	I16     int16
	I32     int32
	I64     int64
	U       uint
	U8      uint8
	U16     uint16
	U32     uint32
	U64     uint64
	F32     float32
	F64     float64
	Blob    []byte
	When    time.Time
	Wait    time.Duration
	IP      netip.Addr
	Lvl     Level
	PtrInt  *int
	PtrStr  *string
	PtrTime *time.Time
	Home    Address
	Work    *Address
	Tags    []string
	Scores  []int64
	Items   []Item
	Labels  map[string]string
	Counts  map[int]float64
	Members map[string]struct{}
	Ids     map[uint32]struct{}
	Renamed string   `redis:"nick"`
	Skipped chan int `redis:"-"`
	//lint:ignore U1000 an unexported field, which models must skip
	internal int
}

func floats(r *rand.Rand) float64 {
	edge := []float64{0, math.Copysign(0, -1), math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 0.1, 1e300, -1.5e-300}
	if r.IntN(3) == 0 {
		return edge[r.IntN(len(edge))]
	}
	return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
}

func text(r *rand.Rand) string {
	pool := []string{"", "a", "héllo", "with space", "new\nline", "\x00bin\xff", "{brace}", "tab\t", "日本語"}
	if r.IntN(2) == 0 {
		return pool[r.IntN(len(pool))]
	}
	b := make([]byte, r.IntN(20))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

func randomEverything(r *rand.Rand) Everything {
	i64s := []int64{math.MinInt64, math.MaxInt64, 0, -1, 1}
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+1800), time.FixedZone("", -7*3600)}
	e := Everything{
		Name: text(r), Flag: r.IntN(2) == 0,
		I: int(r.Int64()), I8: int8(r.IntN(256) - 128), I16: int16(r.IntN(65536) - 32768), I32: r.Int32() - r.Int32(),
		I64: i64s[r.IntN(len(i64s))], U: uint(r.Uint64()), U8: uint8(r.IntN(256)), U16: uint16(r.IntN(65536)),
		U32: r.Uint32(), U64: r.Uint64(), F32: float32(r.NormFloat64()), F64: floats(r),
		When: time.Unix(r.Int64N(1<<34)-(1<<33), r.Int64N(1e9)).In(zones[r.IntN(len(zones))]),
		Wait: time.Duration(r.Int64()), IP: netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), 0, 1}),
		Lvl: Level(r.IntN(1000)), Renamed: text(r),
	}
	if r.IntN(2) == 0 {
		e.I64 = r.Int64() - r.Int64()
	}
	if r.IntN(2) == 0 {
		e.U64 = math.MaxUint64
	}
	if r.IntN(3) > 0 {
		e.Blob = []byte(text(r))
	}
	if r.IntN(2) == 0 {
		n := r.IntN(100) - 50
		e.PtrInt = &n
	}
	if r.IntN(2) == 0 {
		s := text(r)
		e.PtrStr = &s
	}
	if r.IntN(2) == 0 {
		t := time.Date(2000+r.IntN(50), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, r.IntN(1e9), time.UTC)
		e.PtrTime = &t
	}
	e.Home = Address{Street: text(r), City: text(r)}
	if r.IntN(2) == 0 {
		e.Home.Geo = &Geo{Lat: r.Float64(), Lng: -r.Float64()}
	}
	if r.IntN(2) == 0 {
		e.Work = &Address{City: text(r)}
		if r.IntN(2) == 0 {
			e.Work.Geo = &Geo{}
		}
	}
	switch r.IntN(3) {
	case 0: // nil
	case 1:
		e.Tags = []string{}
	default:
		for range r.IntN(6) + 1 {
			e.Tags = append(e.Tags, text(r))
		}
	}
	for range r.IntN(4) {
		e.Scores = append(e.Scores, r.Int64()-r.Int64())
	}
	for range r.IntN(3) {
		e.Items = append(e.Items, Item{SKU: strings.ToValidUTF8(text(r), "?"), Qty: r.IntN(9), Price: float64(r.IntN(1000)) / 100})
	}
	if r.IntN(2) == 0 {
		e.Labels = map[string]string{}
		for range r.IntN(4) {
			e.Labels[text(r)] = text(r)
		}
	}
	for range r.IntN(3) {
		if e.Counts == nil {
			e.Counts = map[int]float64{}
		}
		e.Counts[r.IntN(100)-50] = r.NormFloat64()
	}
	for range r.IntN(3) {
		if e.Members == nil {
			e.Members = map[string]struct{}{}
		}
		e.Members[text(r)] = struct{}{}
	}
	for range r.IntN(3) {
		if e.Ids == nil {
			e.Ids = map[uint32]struct{}{}
		}
		e.Ids[r.Uint32()] = struct{}{}
	}
	return e
}

// roundTrip compares what was saved with what came back. What the layout
// cannot tell apart is declared equal here, and documented in docs/storage.md:
// empty and nil collections (Redis keeps no empty keys) and an empty versus a
// nil []byte; NaN equals NaN; times compare as instants (the zone offset is
// kept, a location name is not).
var roundTrip = cmp.Options{
	cmpopts.EquateEmpty(),
	cmpopts.EquateNaNs(),
	cmpopts.IgnoreUnexported(Everything{}),
	cmpopts.IgnoreFields(Everything{}, "Skipped"),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

func TestSaveGetRoundTripsEveryKind(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		seed := testenv.Seed(t)
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		m, err := rapyer.New[Everything](b.Client, rapyer.Options{Prefix: b.Prefix + "every"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			want := randomEverything(r)
			id := fmt.Sprintf("e%d", i%7) // saves over earlier values too
			if err := m.Save(ctx, id, want); err != nil {
				t.Fatalf("save %d: %v", i, err)
			}
			got, err := m.Get(ctx, id)
			if err != nil {
				t.Fatalf("get %d: %v", i, err)
			}
			if diff := cmp.Diff(want, got, roundTrip); diff != "" {
				t.Fatalf("value %d changed on the round trip (-saved +read):\n%s", i, diff)
			}
			if !want.When.Equal(got.When) {
				t.Fatalf("time %v came back as %v", want.When, got.When)
			}
			_, wo := want.When.Zone()
			_, go_ := got.When.Zone()
			if wo != go_ {
				t.Fatalf("zone offset %d came back as %d", wo, go_)
			}
		}
	})
}

func TestNilAndEmptyCollectionsComeBackNil(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Everything](b.Client, rapyer.Options{Prefix: b.Prefix + "every"})
		if err := m.Save(ctx, "x", Everything{Tags: []string{}, Labels: map[string]string{}, Blob: nil}); err != nil {
			t.Fatal(err)
		}
		got, err := m.Get(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		if got.Tags != nil || got.Labels != nil || got.Members != nil {
			t.Fatalf("empty collections should come back nil, got %#v %#v %#v", got.Tags, got.Labels, got.Members)
		}
		if got.Work != nil || got.PtrInt != nil {
			t.Fatalf("nil pointers should come back nil")
		}
	})
}

type Account struct {
	Owner   string
	Balance int
	History []string
	Limits  map[string]int
	Flags   map[string]struct{}
}

func TestGetIsOneRoundTripAndGetManyToo(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		var ids []string
		for i := range 100 {
			id := fmt.Sprintf("a%03d", i)
			ids = append(ids, id)
			if err := m.Save(ctx, id, Account{Owner: id, Balance: i, History: []string{"open"}, Limits: map[string]int{"day": i}}); err != nil {
				t.Fatal(err)
			}
		}
		counter := testenv.CountRoundTrips(b.Client)
		got, err := m.Get(ctx, "a042")
		if err != nil || got.Balance != 42 || got.Limits["day"] != 42 {
			t.Fatalf("get: %+v %v", got, err)
		}
		want := int64(1)
		if n := counter.Count(); n != want {
			t.Fatalf("Get took %d round trips (%v), want 1", n, counter.Commands())
		}
		// A first call may load the read script (a cluster reads each model
		// with a script); count the steady state.
		if _, _, err := m.GetMany(ctx, ids[:1]); err != nil {
			t.Fatal(err)
		}
		counter.Reset()
		found, missing, err := m.GetMany(ctx, append(slices.Clone(ids), "nobody"))
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 100 || !slices.Equal(missing, []string{"nobody"}) {
			t.Fatalf("found %d, missing %v", len(found), missing)
		}
		for i, e := range found {
			if e.ID != ids[i] || e.Value.Owner != ids[i] {
				t.Fatalf("order lost: %d is %s (%s)", i, e.ID, e.Value.Owner)
			}
		}
		// On a cluster the models span slots: the client sends one
		// transaction to each master, in parallel, so there is one round
		// trip per master, and never more than the number of masters.
		max := int64(1)
		if b.Kind == testenv.Cluster {
			max = int64(len(b.Addrs))
		}
		if n := counter.Count(); n < 1 || n > max {
			t.Fatalf("GetMany of 101 took %d round trips, want at most %d", n, max)
		}
	})
}

func TestGetNeverSeesHalfASave(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		version := func(c string, n int) Account {
			a := Account{Owner: c, Balance: n, Limits: map[string]int{c: n}, Flags: map[string]struct{}{c: {}}}
			for range 5 {
				a.History = append(a.History, c)
			}
			return a
		}
		if err := m.Save(ctx, "x", version("a", 1)); err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				if err := m.Save(ctx, "x", version([]string{"a", "b"}[i%2], i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		defer func() { stop.Store(true); wg.Wait() }()
		for i := range 400 {
			a, err := m.Get(ctx, "x")
			if err != nil {
				t.Fatal(err)
			}
			c := a.Owner
			ok := len(a.History) == 5 && a.Limits[c] == a.Balance && len(a.Limits) == 1 && len(a.Flags) == 1
			for _, h := range a.History {
				ok = ok && h == c
			}
			if _, in := a.Flags[c]; !ok || !in {
				t.Fatalf("read %d mixes two saves: %+v", i, a)
			}
		}
	})
}

func TestEveryKeyOfAModelIsInOneSlot(t *testing.T) {
	b := testenv.On(t, testenv.Cluster)
	ctx := context.Background()
	m := rapyer.MustNew[Everything](b.Client, rapyer.Options{Prefix: b.Prefix + "every"})
	r := rand.New(rand.NewPCG(1, 2))
	for _, id := range []string{"alice", "bob", "x:y", "日本", "with space"} {
		if err := m.Save(ctx, id, randomEverything(r)); err != nil {
			t.Fatal(err)
		}
		ks, err := m.Keys(id)
		if err != nil {
			t.Fatal(err)
		}
		var slots []int64
		for _, k := range append(ks, ks[0]+":lock:withdraw") {
			s, err := b.Client.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			slots = append(slots, s)
		}
		if len(slices.Compact(slices.Clone(slots))) != 1 {
			t.Fatalf("keys of %q in slots %v", id, slots)
		}
	}
}

type WithChan struct {
	Name string
	C    chan int
}

func TestBadInputGetsTypedErrorsAndWritesNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		for _, id := range []string{"", "a{b", "b}", "{x}", "ctl\x01", string([]byte{0xff, 0xfe})} {
			if err := m.Save(ctx, id, Account{}); !errors.Is(err, rapyer.ErrInvalidID) {
				t.Errorf("save with id %q: %v, want ErrInvalidID", id, err)
			}
			if _, err := m.Get(ctx, id); !errors.Is(err, rapyer.ErrInvalidID) {
				t.Errorf("get with id %q: %v, want ErrInvalidID", id, err)
			}
		}
		if _, err := rapyer.New[Account](nil, rapyer.Options{}); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("nil client: %v", err)
		}
		var nilClient *redis.Client
		if _, err := rapyer.New[Account](nilClient, rapyer.Options{}); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("typed nil client: %v", err)
		}
		if _, err := rapyer.New[WithChan](b.Client, rapyer.Options{}); !errors.Is(err, rapyer.ErrUnsupported) || !contains(err.Error(), "C") {
			t.Errorf("chan field: %v", err)
		}
		if _, err := rapyer.New[Account](b.Client, rapyer.Options{Prefix: "a{b"}); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("bad prefix: %v", err)
		}

		// A wrong Redis type at the root key.
		root, _ := m.Key("str")
		b.Client.Set(ctx, root, "not a hash", 0)
		if _, err := m.Get(ctx, "str"); !errors.Is(err, rapyer.ErrWrongType) {
			t.Errorf("get of a string key: %v", err)
		}
		if err := m.Save(ctx, "str", Account{Owner: "x", History: []string{"h"}}); !errors.Is(err, rapyer.ErrWrongType) {
			t.Errorf("save over a string key: %v", err)
		}
		if v, _ := b.Client.Get(ctx, root).Result(); v != "not a hash" {
			t.Errorf("the string key changed to %q", v)
		}
		if n, _ := b.Client.Exists(ctx, root+":history").Result(); n != 0 {
			t.Errorf("a failed save wrote the history list")
		}

		// A wrong type at a collection key.
		if err := m.Save(ctx, "col", Account{Owner: "x"}); err != nil {
			t.Fatal(err)
		}
		croot, _ := m.Key("col")
		b.Client.Set(ctx, croot+":history", "oops", 0)
		if _, err := m.Get(ctx, "col"); !errors.Is(err, rapyer.ErrWrongType) {
			t.Errorf("get with a string at the list key: %v", err)
		}
		if err := m.Save(ctx, "col", Account{Owner: "changed"}); !errors.Is(err, rapyer.ErrWrongType) {
			t.Errorf("save with a string at the list key: %v", err)
		}
		if got := b.Client.HGet(ctx, croot, "owner").Val(); got != "x" {
			t.Errorf("a failed save changed the owner to %q", got)
		}

		// Non-numeric text in an int field.
		if err := m.Save(ctx, "num", Account{Balance: 1}); err != nil {
			t.Fatal(err)
		}
		nroot, _ := m.Key("num")
		b.Client.HSet(ctx, nroot, "balance", "abc")
		if _, err := m.Get(ctx, "num"); !errors.Is(err, rapyer.ErrCorrupt) || !contains(err.Error(), "Balance") {
			t.Errorf("get of a non-numeric balance: %v", err)
		}
	})
}

type Cart struct {
	Items []Item
}

func TestInvalidJSONElementIsCorrupt(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Cart](b.Client, rapyer.Options{Prefix: b.Prefix + "cart"})
		if err := m.Save(ctx, "c", Cart{Items: []Item{{SKU: "a", Qty: 1}}}); err != nil {
			t.Fatal(err)
		}
		root, _ := m.Key("c")
		b.Client.RPush(ctx, root+":items", "{not json")
		if _, err := m.Get(ctx, "c"); !errors.Is(err, rapyer.ErrCorrupt) || !contains(err.Error(), "Items") {
			t.Errorf("get with a bad JSON element: %v", err)
		}
	})
}

func TestJSONElementsMustBeUTF8(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Cart](b.Client, rapyer.Options{Prefix: b.Prefix + "cart"})
		if err := m.Save(ctx, "c", Cart{Items: []Item{{SKU: "ok"}}}); err != nil {
			t.Fatal(err)
		}
		err := m.Save(ctx, "c", Cart{Items: []Item{{SKU: "bad\xff"}}})
		if !errors.Is(err, rapyer.ErrInvalid) {
			t.Fatalf("a non-UTF-8 string in a JSON element: %v", err)
		}
		got, err := m.Get(ctx, "c")
		if err != nil || len(got.Items) != 1 || got.Items[0].SKU != "ok" {
			t.Fatalf("a refused save changed the model: %+v %v", got, err)
		}
	})
}

func TestExistsDeleteInsertCreate(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		id, err := m.Insert(ctx, Account{Owner: "ins", History: []string{"a"}})
		if err != nil || id == "" {
			t.Fatalf("insert: %q %v", id, err)
		}
		if ok, err := m.Exists(ctx, id); !ok || err != nil {
			t.Fatalf("exists after insert: %v %v", ok, err)
		}
		if err := m.Create(ctx, id, Account{Owner: "again"}); !errors.Is(err, rapyer.ErrExists) {
			t.Fatalf("create over an existing model: %v", err)
		}
		if got, _ := m.Get(ctx, id); got.Owner != "ins" {
			t.Fatalf("a refused create changed the model: %+v", got)
		}
		if err := m.Create(ctx, "fresh", Account{Owner: "f"}); err != nil {
			t.Fatal(err)
		}
		existed, err := m.Delete(ctx, id)
		if !existed || err != nil {
			t.Fatalf("delete: %v %v", existed, err)
		}
		ks, _ := m.Keys(id)
		if n := b.Client.Exists(ctx, ks...).Val(); n != 0 {
			t.Fatalf("%d keys left after delete", n)
		}
		if existed, err := m.Delete(ctx, id); existed || err != nil {
			t.Fatalf("second delete: %v %v", existed, err)
		}
		if _, err := m.Get(ctx, id); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("get after delete: %v", err)
		}
		// An empty model still exists: the version field marks it.
		if err := m.Save(ctx, "empty", Account{}); err != nil {
			t.Fatal(err)
		}
		if ok, _ := m.Exists(ctx, "empty"); !ok {
			t.Fatal("an all-zero model does not exist")
		}
	})
}

func TestTTL(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", TTL: time.Hour})
		if err := m.Save(ctx, "t", Account{History: []string{"a"}, Limits: map[string]int{"x": 1}}); err != nil {
			t.Fatal(err)
		}
		ks, _ := m.Keys("t")
		for _, k := range ks[:3] {
			if d := b.Client.PTTL(ctx, k).Val(); d <= 0 || d > time.Hour {
				t.Fatalf("%s has TTL %v after a save with a default TTL", k, d)
			}
		}
		if d, err := m.TTL(ctx, "t"); err != nil || d <= 0 || d > time.Hour {
			t.Fatalf("TTL: %v %v", d, err)
		}
		if err := m.Persist(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		for _, k := range ks[:3] {
			if d := b.Client.PTTL(ctx, k).Val(); d != -1*time.Millisecond && d != -1 {
				t.Fatalf("%s has TTL %v after persist", k, d)
			}
		}
		if d, _ := m.TTL(ctx, "t"); d != rapyer.NoTTL {
			t.Fatalf("TTL after persist: %v", d)
		}
		if err := m.Expire(ctx, "t", 2*time.Hour); err != nil {
			t.Fatal(err)
		}
		if d, _ := m.TTL(ctx, "t"); d <= time.Hour {
			t.Fatalf("TTL after expire: %v", d)
		}
		if _, err := m.TTL(ctx, "none"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("TTL of a missing model: %v", err)
		}
		if err := m.Expire(ctx, "none", time.Hour); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("expire of a missing model: %v", err)
		}
	})
}

func TestIDsScansRootKeysOnly(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		want := []string{}
		for i := range 30 {
			id := fmt.Sprintf("id%02d", i)
			want = append(want, id)
			if err := m.Save(ctx, id, Account{History: []string{"x"}, Limits: map[string]int{"a": 1}}); err != nil {
				t.Fatal(err)
			}
		}
		root, _ := m.Key("id00")
		b.Client.Set(ctx, root+":lock:withdraw", "token", 0)
		other := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acctx"})
		if err := other.Save(ctx, "zzz", Account{}); err != nil {
			t.Fatal(err)
		}
		got := idsOf(t, ctx, m)
		if !slices.Equal(got, want) {
			t.Fatalf("IDs gave %v", got)
		}
	})
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// failure is one way to meet a sentinel: run returns the error, op is the
// op the message must name exactly once ("" when there is none).
type failure struct {
	name string
	want error
	op   string
	run  func() error
}

// TestErrorMessagesHaveOneFormat: a failure per sentinel, each read as
// "rapyer: <what>: <op>: <detail>": the sentinel's own text first, then the
// op (named once), then what was found.
func TestErrorMessagesHaveOneFormat(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, f := range failures(t, b) {
			err := f.run()
			if !errors.Is(err, f.want) {
				t.Errorf("%s: %v; want %v", f.name, err, f.want)
				continue
			}
			head := regexp.QuoteMeta(f.want.Error())
			if !regexp.MustCompile(`^` + head + `: \S.*$`).MatchString(err.Error()) {
				t.Errorf("%s: %q does not read %q: <op>: <detail>", f.name, err, f.want)
			}
			if strings.Count(err.Error(), "rapyer: ") != 1 {
				t.Errorf("%s: %q says rapyer: more than once", f.name, err)
			}
			if f.op == "" {
				continue
			}
			if n := strings.Count(err.Error(), f.op); n != 1 {
				t.Errorf("%s: %q names %s %d times; want once", f.name, err, f.op, n)
			}
			if !strings.HasPrefix(err.Error(), f.want.Error()+": "+f.op+": ") {
				t.Errorf("%s: %q; want the op %s right after %q", f.name, err, f.op, f.want)
			}
		}
	})
}

func failures(t *testing.T, b *testenv.Backend) []failure {
	ctx := context.Background()
	m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
	owner := lens.Of(func(a *Account) *string { return &a.Owner })
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	history := lens.Of(func(a *Account) *[]string { return &a.History })
	limits := lens.Of(func(a *Account) *map[string]int { return &a.Limits })
	if err := m.Save(ctx, "a", Account{Owner: "ann", Balance: 1, History: []string{"h"}}); err != nil {
		t.Fatal(err)
	}
	exec := func(o ...ops.Op) func() error {
		return func() error { _, err := m.Exec(ctx, "a", tx.Of(o...)); return err }
	}
	lockKey := b.Prefix + "{lk}"
	pop := ops.PopAnyItem(limits)
	fs := []failure{
		{"a guard", rapyer.ErrPrecondition, "Require(AtLeast(balance, 10))", exec(ops.Require(is.AtLeast(balance, 10)))},
		{"a missing model", rapyer.ErrNotFound, "", func() error { _, err := m.Exec(ctx, "nobody", tx.Of(ops.Incr(balance, 1))); return err }},
		{"a model made twice", rapyer.ErrExists, "", func() error { return m.Create(ctx, "a", Account{}) }},
		{"an overflow", rapyer.ErrOverflow, "Incr(balance, 9223372036854775807)", exec(ops.Incr(balance, math.MaxInt))},
		{"an index outside the list", rapyer.ErrOutOfRange, `SetAt(history, 5, "x")`, exec(ops.SetAt(history, 5, "x"))},
		{"a bad argument", rapyer.ErrInvalid, "Repeat(owner, -1)", exec(ops.Repeat(owner, -1))},
		{"a bad id", rapyer.ErrInvalidID, "", func() error { _, err := m.Get(ctx, "a{b"); return err }},
		{"an unstorable type", rapyer.ErrUnsupported, "", func() error { _, err := rapyer.New[WithChan](b.Client, rapyer.Options{}); return err }},
		{"over the budget", rapyer.ErrTooLarge, "Repeat(owner, 1000)", func() error {
			_, err := tx.Exec(ctx, b.Client, tx.On(m.Target("a"), ops.Repeat(owner, 1000)), tx.Options{Budget: tx.Budget{Bytes: 10}})
			return err
		}},
		{"a pop of an empty map", rapyer.ErrEmpty, pop.String(), func() error {
			res, err := m.Exec(ctx, "a", tx.Of(pop))
			if err != nil {
				return err
			}
			_, _, err = pop.Result(res)
			return err
		}},
		{"a wrong type", rapyer.ErrWrongType, "", func() error {
			root, _ := m.Key("str")
			b.Client.Set(ctx, root, "not a hash", 0)
			_, err := m.Get(ctx, "str")
			return err
		}},
		{"a corrupt number", rapyer.ErrCorrupt, "", func() error {
			root, _ := m.Key("num")
			b.Client.HSet(ctx, root, "balance", "abc", "__v", "1")
			_, err := m.Get(ctx, "num")
			return err
		}},
		{"a lock held elsewhere", rapyer.ErrNotAcquired, `Acquire("` + lockKey + `")`, func() error {
			l, err := lock.Acquire(ctx, b.Client, lockKey, lock.Options{})
			if err != nil {
				return err
			}
			defer func() { _ = l.Release(ctx) }()
			_, err = lock.Acquire(ctx, b.Client, lockKey, lock.Options{Wait: lock.NoWait})
			return err
		}},
		{"a lock released twice", rapyer.ErrNotHeld, "", func() error {
			l, err := lock.Acquire(ctx, b.Client, lockKey, lock.Options{})
			if err != nil {
				return err
			}
			_ = l.Release(ctx)
			return l.Release(ctx)
		}},
		{"a closed client", rapyer.ErrNotSent, "", func() error {
			c := b.NewClient(t, nil)
			_ = c.Close()
			_, err := tx.Exec(ctx, c, tx.On(m.Target("a"), ops.Incr(balance, 1)), tx.Options{})
			return err
		}},
		{"an update that keeps meeting writes", rapyer.ErrConflict, "", func() error {
			_, err := m.Update(ctx, "a", func(a Account) (tx.Batch, error) {
				if err := m.Save(ctx, "a", a); err != nil {
					return tx.Batch{}, err
				}
				return tx.Of(ops.Incr(balance, 1)), nil
			})
			return err
		}},
	}
	if b.Kind == testenv.Cluster {
		fs = append(fs, failure{"two slots", rapyer.ErrCrossSlot, "", func() error {
			_, err := tx.Exec(ctx, b.Client, tx.Join(tx.On(m.Target("a"), ops.Incr(balance, 1)), tx.On(m.Target("zz"), ops.Incr(balance, 1))), tx.Options{})
			return err
		}})
	}
	return fs
}
