package codec_test

import (
	"maps"
	"slices"
	"strconv"
	"testing"
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
