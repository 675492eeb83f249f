package codec_test

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// profile is bench/scenarios_test.go's Profile: five scalars, a list of 20
// elements and a map of 20 items.
type profile struct {
	Name   string
	Email  string
	Age    int
	Score  float64
	Active bool
	Tags   []string
	Scores map[string]int
}

func newProfile() profile {
	p := profile{Name: "Ada Lovelace", Email: "ada@example.com", Age: 36, Score: 97.5, Active: true,
		Scores: make(map[string]int, 20)}
	for i := range 20 {
		p.Tags = append(p.Tags, "tag-"+strconv.Itoa(i))
		p.Scores["game-"+strconv.Itoa(i)] = 1000 + i
	}
	return p
}

func profileTarget(tb testing.TB) prog.Target {
	m, err := schema.For[profile]()
	if err != nil {
		tb.Fatal(err)
	}
	return prog.Target{Root: "profile:{ada}", Model: m}
}

// builder is what every call of the library starts from: a builder with the
// model declared. Its cost is part of every benchmark below.
func builder(t prog.Target) *prog.Builder {
	b := prog.NewBuilderFor(1)
	b.Declare(t, prog.Need)
	return b
}

// BenchmarkEmitModel is the codec's part of Save: the whole model as
// instructions.
func BenchmarkEmitModel(b *testing.B) {
	t := profileTarget(b)
	v := newProfile()
	b.ReportAllocs()
	for b.Loop() {
		if err := codec.EmitModel(builder(t), t, unsafe.Pointer(&v)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEmitNode is the codec's part of setting one collection field
// (ops.Set on the 20-element list).
func BenchmarkEmitNode(b *testing.B) {
	t := profileTarget(b)
	n, _ := t.Model.Lookup("tags")
	v := newProfile().Tags
	b.ReportAllocs()
	for b.Loop() {
		if err := codec.EmitNode(builder(t), t, n, unsafe.Pointer(&v)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode is the codec's part of Get: the model from what Redis
// returned.
func BenchmarkDecode(b *testing.B) {
	t := profileTarget(b)
	v := newProfile()
	d := codec.Data{
		Root: map[string]string{schema.Reserved + "v": "1", "name": v.Name, "email": v.Email,
			"age": strconv.Itoa(v.Age), "score": "97.5", "active": "true"},
		Collections: map[string]any{"tags": slices.Clone(v.Tags), "scores": map[string]string{}},
	}
	for k, s := range v.Scores {
		d.Collections["scores"].(map[string]string)[k] = strconv.Itoa(s)
	}
	b.ReportAllocs()
	for b.Loop() {
		var p profile
		if err := codec.Decode(t.Model, d, unsafe.Pointer(&p)); err != nil {
			b.Fatal(err)
		}
		if len(p.Tags) != 20 || len(p.Scores) != 20 {
			b.Fatalf("decoded %+v", p)
		}
	}
}

// BenchmarkEmitDiff is the codec's part of a model lock's save: a scalar
// changed, an element appended to the list, an item of the map changed.
func BenchmarkEmitDiff(b *testing.B) {
	t := profileTarget(b)
	before := newProfile()
	after := before
	after.Age++
	after.Tags = append(slices.Clone(before.Tags), "new")
	after.Scores = maps.Clone(before.Scores)
	after.Scores["game-3"]++
	b.ReportAllocs()
	for b.Loop() {
		err := codec.EmitDiff(builder(t), t, unsafe.Pointer(&before), unsafe.Pointer(&after))
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuilder is the part of every benchmark above that is not the
// codec's: a new builder with the model declared.
func BenchmarkBuilder(b *testing.B) {
	t := profileTarget(b)
	b.ReportAllocs()
	for b.Loop() {
		builder(t)
	}
}

// richEverything is a value of the fuzz tests' model with a field of every
// kind, compiled and not (a MarshalText type, JSON list elements).
func richEverything() everything {
	n := 7
	when := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("", 5*3600+1800))
	return everything{
		Name: "alice", Flag: true, I: -42, I8: -128, U64: 1<<64 - 1, F32: 1.5, F64: 0.1,
		Blob: []byte{0, 1, 255}, When: when, Wait: 90 * time.Second, IP: netip.MustParseAddr("::1"),
		Lvl: 7, PtrInt: &n, PtrTime: &when, Home: address{City: "Paris", Zip: 65001, Geo: &geo{1.5, -2}},
		Work: &address{City: "Lyon"}, Tags: []string{"a", "", "b c"}, Scores: []int64{-1, 0, 1 << 62},
		Items:  []item{{SKU: "x", Qty: 2, Price: 9.99, At: when}},
		Blobs:  [][]byte{{1}, {}},
		Labels: map[string]string{"k": "v", "": "empty"}, Counts: map[int]float64{-3: 2.5},
		Members: map[string]struct{}{"m": {}}, IDs: map[uint32]struct{}{4294967295: {}}, Nick: "al",
	}
}

// BenchmarkEveryKind runs the four paths on the model with every kind.
func BenchmarkEveryKind(b *testing.B) {
	m, err := schema.For[everything]()
	if err != nil {
		b.Fatal(err)
	}
	t := prog.Target{Root: "m:{x}", Model: m}
	v := richEverything()
	b.Run("EmitModel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := codec.EmitModel(builder(t), t, unsafe.Pointer(&v)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		d := encode(b, m, unsafe.Pointer(&v))
		b.ReportAllocs()
		for b.Loop() {
			var w everything
			if err := codec.Decode(m, d, unsafe.Pointer(&w)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EmitDiff", func(b *testing.B) {
		after := v
		after.I++
		after.Home.City = "Nice"
		after.Tags = append(slices.Clone(v.Tags), "d")
		after.Counts = map[int]float64{-3: 2.5, 4: 1}
		b.ReportAllocs()
		for b.Loop() {
			if err := codec.EmitDiff(builder(t), t, unsafe.Pointer(&v), unsafe.Pointer(&after)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
