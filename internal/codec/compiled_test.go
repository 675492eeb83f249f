package codec_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

type (
	named    string
	ratio    float32
	unit     struct{}
	tagList  []string
	labelMap map[string]string
)

// every has a field of every kind of node, and collections on either side
// of the line between compiled access and the reflect fallback.
type every struct {
	S      string
	B      bool
	I      int
	I8     int8
	U16    uint16
	U64    uint64
	F32    float32
	F64    float64
	Raw    []byte
	When   time.Time
	Wait   time.Duration
	Lvl    level
	Ratio  ratio
	Name   named
	Num    json.Number
	IP     netip.Addr
	PInt   *int
	PBool  *bool
	PF32   *float32
	PRaw   *[]byte
	PTime  *time.Time
	PLvl   *level
	PIP    *netip.Addr
	Nested struct{ X, Y int }
	PNest  *struct {
		Z    string
		Deep *geo
		L    []int16
	}

	Tags     []string
	Tagged   tagList
	Ints     []int
	U8s      []uint16
	Floats   []float64
	F32s     []float32
	Bools    []bool
	Levels   []level
	Waits    []time.Duration
	Times    []time.Time
	Blobs    [][]byte
	Items    []item
	PItems   []*item
	Matrix   [][]int
	IPs      []netip.Addr
	Labels   map[string]string
	Named    labelMap
	Counts   map[string]int
	ByID     map[int64]float64
	ByInt    map[int]uint8
	Stamps   map[string]time.Time
	Durs     map[string]time.Duration
	Bins     map[int][]byte
	Flags    map[string]bool
	ByLevel  map[level]string
	OfLevel  map[string]level
	OfItem   map[string]item
	ByIP     map[netip.Addr]string
	Members  map[string]struct{}
	Small    map[int8]struct{}
	IDs      map[uint64]struct{}
	Levels2  map[level]struct{}
	Units    map[string]unit
	Float32s map[float32]struct{}
}

// identical compares values exactly: floats by their bits (NaN is NaN, -0
// is not 0), times field by field, nil and empty apart, unexported fields
// too.
var identical = cmp.Options{
	cmp.Exporter(func(reflect.Type) bool { return true }),
	cmp.FilterValues(func(a, b any) bool {
		k := reflect.ValueOf(a).Kind()
		return k == reflect.Float32 || k == reflect.Float64
	}, cmp.Comparer(func(a, b any) bool {
		return math.Float64bits(reflect.ValueOf(a).Float()) == math.Float64bits(reflect.ValueOf(b).Float())
	})),
	cmp.Comparer(func(a, b time.Time) bool { return reflect.DeepEqual(a, b) }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	// NaN keys: a set may hold several.
	cmp.Comparer(func(a, b map[float32]struct{}) bool {
		bits := func(m map[float32]struct{}) []uint32 {
			var out []uint32
			for k := range m {
				out = append(out, math.Float32bits(k))
			}
			slices.Sort(out)
			return out
		}
		return (a == nil) == (b == nil) && slices.Equal(bits(a), bits(b))
	}),
}

// TestCompiledMatchesReflect compares the codec with the reflect-walking
// codec it replaced (reflectref_test.go), on seeded random values of models
// with every kind of field: the same instructions from EmitModel, EmitNode
// and EmitDiff, the same values from Decode (into values that were not
// zero, and from data with a corrupt entry), the same errors.
func TestCompiledMatchesReflect(t *testing.T) {
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(uint64(seed), 2))
	t.Run("every", func(t *testing.T) { compareCodecs[every](t, r, 400) })
	t.Run("everything", func(t *testing.T) { compareCodecs[everything](t, r, 200) })
	t.Run("profile", func(t *testing.T) { compareCodecs[profile](t, r, 100) })
}

func compareCodecs[T any](t *testing.T, r *rand.Rand, rounds int) {
	m, err := schema.For[T]()
	if err != nil {
		t.Fatal(err)
	}
	target := prog.Target{Root: "m:{x}", Model: m}
	var nodes []*schema.Node
	var walk func([]*schema.Node)
	walk = func(ns []*schema.Node) {
		for _, n := range ns {
			nodes = append(nodes, n)
			walk(n.Children)
		}
	}
	walk(m.Top)
	emitted, failed := 0, 0
	for i := range rounds {
		v := testenv.Random(r, m.Type).Interface().(T)

		// Save.
		got, gotErr := run(target, func(b *prog.Builder) error { return codec.EmitModel(b, target, unsafe.Pointer(&v)) })
		want, wantErr := run(target, func(b *prog.Builder) error {
			return codec.RefEmitModel(b, target, reflect.ValueOf(&v).Elem())
		})
		sameResult(t, m, fmt.Sprintf("round %d: EmitModel(%+v)", i, v), got, gotErr, want, wantErr)

		// Get, from what was saved, with now and then a corrupt entry.
		if wantErr == nil {
			emitted++
			d := dataOfInstrs(t, target, want)
			d.Root[schema.Reserved+"v"] = "1"
			what := corrupt(r, m, d)
			dirty := testenv.Random(r, m.Type).Interface().(T)
			x, y := dirty, dirty
			gotErr := codec.Decode(m, d, unsafe.Pointer(&x))
			wantErr := codec.RefDecode(m, d, reflect.ValueOf(&y).Elem())
			if errText(gotErr) != errText(wantErr) {
				t.Fatalf("round %d: Decode (%s) error %v, reflect gave %v", i, what, gotErr, wantErr)
			}
			if diff := cmp.Diff(y, x, identical); diff != "" {
				t.Fatalf("round %d: Decode (%s) differs (-reflect +compiled):\n%s", i, what, diff)
			}
			if wantErr != nil {
				failed++
			} else if r.IntN(2) == 0 {
				v = x // diff from what a lock loads
			}
		}

		// Lock save.
		after := mutate(r, reflect.ValueOf(v)).Interface().(T)
		got, gotErr = run(target, func(b *prog.Builder) error {
			return codec.EmitDiff(b, target, unsafe.Pointer(&v), unsafe.Pointer(&after))
		})
		want, wantErr = run(target, func(b *prog.Builder) error {
			return codec.RefEmitDiff(b, target, reflect.ValueOf(&v).Elem(), reflect.ValueOf(&after).Elem())
		})
		sameResult(t, m, fmt.Sprintf("round %d: EmitDiff(%+v, %+v)", i, v, after), got, gotErr, want, wantErr)

		// Field sets, of every node.
		n := nodes[r.IntN(len(nodes))]
		fv := testenv.Random(r, n.Type)
		p := reflect.New(n.Type)
		p.Elem().Set(fv)
		got, gotErr = run(target, func(b *prog.Builder) error { return codec.EmitNode(b, target, n, p.UnsafePointer()) })
		want, wantErr = run(target, func(b *prog.Builder) error { return codec.RefEmitNode(b, target, n, fv) })
		sameResult(t, m, fmt.Sprintf("round %d: EmitNode(%s, %+v)", i, n.Name, fv), got, gotErr, want, wantErr)
		if n.Kind.Collection() {
			gotArgs, gotErr := codec.Elements(n, p.UnsafePointer())
			wantArgs, wantErr := codec.RefElements(n, fv)
			if !sameErr(m, gotErr, wantErr) || (wantErr == nil && !sameArgs(n, gotArgs, wantArgs)) {
				t.Fatalf("round %d: Elements(%s, %+v) = %v, %v; reflect gave %v, %v", i, n.Name, fv, gotArgs, gotErr, wantArgs, wantErr)
			}
		}
	}
	// The random values must reach both sides of every path.
	if emitted < rounds/3 || failed == 0 && rounds > 100 {
		t.Errorf("%d of %d rounds saved, %d of those failed to decode: the generator misses a path", emitted, rounds, failed)
	}
}

// run gives the instructions f emits on a new builder, and its error.
func run(target prog.Target, f func(*prog.Builder) error) ([]prog.Instr, error) {
	b := prog.NewBuilder()
	b.Declare(target, prog.Need)
	err := f(b)
	return b.Instrs(), err
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// sameResult fails t unless both codecs gave the same error, and the same
// instructions once the order of map and set items (which Go's map
// iteration decides) is set aside.
func sameResult(t *testing.T, m *schema.Model, what string, got []prog.Instr, gotErr error, want []prog.Instr, wantErr error) {
	t.Helper()
	if !sameErr(m, gotErr, wantErr) {
		t.Fatalf("%s:\nerror %v\nreflect gave %v", what, gotErr, wantErr)
	}
	if wantErr != nil {
		return // what was emitted before an error is thrown away
	}
	if diff := cmp.Diff(render(want), render(got)); diff != "" {
		t.Fatalf("%s: instructions differ (-reflect +compiled):\n%s", what, diff)
	}
}

// sameErr compares errors by text, except that of two errors about one map
// or set field either item may be the first found.
func sameErr(m *schema.Model, a, b error) bool {
	if errText(a) == errText(b) {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	for _, n := range m.Collections {
		if n.Kind == schema.List {
			continue
		}
		about := func(e error) bool {
			f := ": field " + n.GoName
			return strings.Contains(e.Error(), f+"[") || strings.Contains(e.Error(), f+": ") || strings.Contains(e.Error(), f+" (")
		}
		if about(a) && about(b) {
			return true
		}
	}
	return false
}

func render(instrs []prog.Instr) []string {
	out := make([]string, len(instrs))
	for i, in := range instrs {
		args := slices.Clone(in.Args)
		switch in.Op {
		case "mset":
			pairs := make([]string, 0, len(args)/2)
			for j := 2; j+1 < len(args); j += 2 {
				pairs = append(pairs, fmt.Sprintf("%q=%q", args[j], args[j+1]))
			}
			slices.Sort(pairs)
			args = append(args[:2], pairs...)
		case "mdel", "sadd", "srem":
			slices.Sort(args[2:])
		}
		out[i] = in.Op + " " + fmt.Sprintf("%q", args)
	}
	return out
}

func sameArgs(n *schema.Node, a, b []string) bool {
	ins := func(args []string) []prog.Instr {
		b := prog.NewBuilder()
		codec.RefFill(b, n.Kind, "root", "key", args)
		return b.Instrs()
	}
	return slices.Equal(render(ins(a)), render(ins(b)))
}

// corrupt replaces, one time in two, one entry of d with text no codec but
// the string one reads, and says which.
func corrupt(r *rand.Rand, m *schema.Model, d codec.Data) string {
	const bad = "\xffjunk{"
	if r.IntN(2) == 0 {
		return "as saved"
	}
	if r.IntN(2) == 0 || len(m.Collections) == 0 {
		names := rootNames(m)
		name := names[1+r.IntN(len(names)-1)]
		d.Root[name] = bad
		return "root field " + name
	}
	n := m.Collections[r.IntN(len(m.Collections))]
	switch c := d.Collections[n.Name].(type) {
	case []string:
		if len(c) > 0 {
			c[r.IntN(len(c))] = bad
			return "an element of " + n.Name
		}
	case map[string]string:
		for k := range c {
			if r.IntN(2) == 0 {
				c[k] = bad
				return "a value of " + n.Name
			}
			delete(c, k)
			c[bad] = "1"
			return "a key of " + n.Name
		}
	}
	return "as saved"
}

// mutate returns a copy of the struct v with some fields kept, some
// replaced, lists grown at the end (in place when they have room, as
// append does) and maps with an item changed, added or removed, and
// nested structs mutated in turn.
func mutate(r *rand.Rand, v reflect.Value) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	out.Set(v)
	for i := range v.NumField() {
		if !v.Type().Field(i).IsExported() {
			continue
		}
		f := out.Field(i)
		switch r.IntN(4) {
		case 0: // kept
		case 1:
			f.Set(testenv.Random(r, f.Type()))
		default:
			switch f.Kind() {
			case reflect.Slice:
				if f.Type().Elem().Kind() == reflect.Uint8 {
					continue // a []byte scalar
				}
				extra := testenv.Random(r, f.Type())
				f.Set(reflect.AppendSlice(f, extra))
			case reflect.Map:
				if f.IsNil() {
					continue
				}
				c := reflect.MakeMap(f.Type())
				it := f.MapRange()
				for it.Next() {
					c.SetMapIndex(it.Key(), it.Value())
				}
				k := testenv.Random(r, f.Type().Key())
				if keys := c.MapKeys(); len(keys) > 0 && r.IntN(2) == 0 {
					k = keys[r.IntN(len(keys))]
				}
				if r.IntN(3) == 0 {
					c.SetMapIndex(k, reflect.Value{})
				} else {
					c.SetMapIndex(k, testenv.Random(r, f.Type().Elem()))
				}
				f.Set(c)
			case reflect.Struct:
				if !opaque(f.Type()) {
					f.Set(mutate(r, f))
				}
			case reflect.Pointer:
				if !f.IsNil() && f.Elem().Kind() == reflect.Struct && !opaque(f.Type().Elem()) {
					p := reflect.New(f.Type().Elem())
					p.Elem().Set(mutate(r, f.Elem()))
					f.Set(p)
				}
			}
		}
	}
	return out
}

// opaque reports whether mutate leaves the struct type t whole: a scalar
// (time.Time, netip.Addr).
func opaque(t reflect.Type) bool {
	return t == reflect.TypeFor[time.Time]() || t == reflect.TypeFor[netip.Addr]()
}

// TestEmitDiffSetsANilPointerStruct: a lock that sets a pointer-to-struct
// field that was nil saves the marker and the fields that are not zero.
// (The reflect codec panicked here.)
func TestEmitDiffSetsANilPointerStruct(t *testing.T) {
	m, err := schema.For[everything]()
	if err != nil {
		t.Fatal(err)
	}
	target := prog.Target{Root: "m:{x}", Model: m}
	var before everything
	after := before
	after.Work = &address{City: "Lyon", Geo: &geo{Lat: 1.5}}
	b := prog.NewBuilder()
	b.Declare(target, prog.Need)
	if err := codec.EmitDiff(b, target, unsafe.Pointer(&before), unsafe.Pointer(&after)); err != nil {
		t.Fatal(err)
	}
	want := []string{`hset ["m:{x}" "work" "1" "work.city" "Lyon" "work.geo" "1" "work.geo.lat" "1.5"]`}
	if diff := cmp.Diff(want, render(b.Instrs())); diff != "" {
		t.Fatalf("EmitDiff (-want +got):\n%s", diff)
	}
}
