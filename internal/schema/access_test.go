package schema_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

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
}

type (
	named    string
	level    int8
	ratio    float32
	raw      []byte
	rawByte  byte
	rawBytes []rawByte
	elem     struct {
		A string
		B []int
		T time.Time
		F float64
	}
)

// codecTypes are the codecs under test, with whether they are compiled.
var codecTypes = []struct {
	t        reflect.Type
	compiled bool
}{
	{reflect.TypeFor[string](), true},
	{reflect.TypeFor[bool](), true},
	{reflect.TypeFor[int](), true},
	{reflect.TypeFor[int8](), true},
	{reflect.TypeFor[int16](), true},
	{reflect.TypeFor[int32](), true},
	{reflect.TypeFor[int64](), true},
	{reflect.TypeFor[uint](), true},
	{reflect.TypeFor[uint8](), true},
	{reflect.TypeFor[uint16](), true},
	{reflect.TypeFor[uint32](), true},
	{reflect.TypeFor[uint64](), true},
	{reflect.TypeFor[float32](), true},
	{reflect.TypeFor[float64](), true},
	{reflect.TypeFor[[]byte](), true},
	{reflect.TypeFor[time.Time](), true},
	{reflect.TypeFor[time.Duration](), true},
	{reflect.TypeFor[named](), true},
	{reflect.TypeFor[level](), true},
	{reflect.TypeFor[ratio](), true},
	{reflect.TypeFor[raw](), true},
	{reflect.TypeFor[rawBytes](), true},
	{reflect.TypeFor[json.Number](), true},
	// The documented exceptions: MarshalText types and JSON elements.
	{reflect.TypeFor[netip.Addr](), false},
	{reflect.TypeFor[elem](), false},
	{reflect.TypeFor[*elem](), false},
	{reflect.TypeFor[[]int](), false},
	{reflect.TypeFor[map[string]float64](), false},
}

// junk are texts every codec meets in corrupt data.
var junk = []string{
	"", "x", "-", "1", "-1", "0", "true", "false", "1.5", "-0", "nan", "inf", "1e400", "300", "-129", "256",
	"18446744073709551616", "9223372036854775808", "2024-02-29T23:59:59.5+05:30", "2024-13-01T00:00:00Z",
	"192.0.2.1", "::1", `{"A":"x","B":[1],"F":2}`, "[1,2]", `{"k":1.5}`, "null", "\xff",
}

// TestCompiledCodecsMatchReflect compares EncodeAt and DecodeAt with the
// reflect Encode and Decode on random values and on corrupt texts: the same
// texts, the same values, the same errors.
func TestCompiledCodecsMatchReflect(t *testing.T) {
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	for _, tt := range codecTypes {
		c, err := schema.ElemCodec(tt.t)
		if err != nil {
			t.Fatalf("ElemCodec(%v): %v", tt.t, err)
		}
		if c.Compiled() != tt.compiled {
			t.Errorf("%v: Compiled() = %v, want %v", tt.t, c.Compiled(), tt.compiled)
		}
		for range 300 {
			v := testenv.Random(r, tt.t)
			p := reflect.New(tt.t)
			p.Elem().Set(v)
			want, wantErr := c.Encode(v)
			got, gotErr := c.EncodeAt(p.UnsafePointer())
			if got != want || errText(gotErr) != errText(wantErr) {
				t.Fatalf("%v: EncodeAt(%#v) = %q, %v; Encode gave %q, %v", tt.t, v, got, gotErr, want, wantErr)
			}
			inputs := []string{want, junk[r.IntN(len(junk))]}
			for _, s := range inputs {
				// Decode into a value that is not zero: both must replace it.
				dirty := testenv.Random(r, tt.t)
				x, y := reflect.New(tt.t), reflect.New(tt.t)
				x.Elem().Set(dirty)
				y.Elem().Set(dirty)
				wantErr := c.Decode(s, x.Elem())
				gotErr := c.DecodeAt(s, y.UnsafePointer())
				if errText(gotErr) != errText(wantErr) {
					t.Fatalf("%v: DecodeAt(%q) error %v; Decode gave %v", tt.t, s, gotErr, wantErr)
				}
				if diff := cmp.Diff(x.Elem().Interface(), y.Elem().Interface(), identical); diff != "" {
					t.Fatalf("%v: DecodeAt(%q) differs from Decode (-reflect +compiled):\n%s", tt.t, s, diff)
				}
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

type unit struct{}

type (
	tagList  []string
	labelMap map[string]string
)

// Every is a model with a field of every kind of node, and the collections
// on either side of the line between compiled and reflect.
type Every struct {
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
	Name   named
	Num    json.Number
	IP     netip.Addr // Text
	PInt   *int
	PTime  *time.Time
	PLvl   *level
	PIP    *netip.Addr // Text
	Nested struct{ X, Y int }
	PNest  *struct{ Z string }

	Tags     []string
	Tagged   tagList
	Ints     []int
	Floats   []float64
	Levels   []level
	Waits    []time.Duration
	Times    []time.Time
	Blobs    [][]byte
	Elems    []elem       // JSON
	PElems   []*elem      // JSON
	Matrix   [][]int      // JSON
	IPs      []netip.Addr // Text
	Labels   map[string]string
	Named    labelMap
	Counts   map[string]int
	ByID     map[int64]float64
	Stamps   map[string]time.Time
	Durs     map[string]time.Duration
	Bins     map[int][]byte
	ByLevel  map[level]string // named key
	OfLevel  map[string]level // named value
	OfElem   map[string]elem  // JSON value
	ByIP     map[netip.Addr]string
	Members  map[string]struct{}
	Small    map[int8]struct{}
	IDs      map[uint64]struct{}
	Levels2  map[level]struct{} // named member
	Units    map[string]unit    // named empty struct
	Float32s map[float32]struct{}
}

// TestNodesCompiled lists, for every node of a model with every kind,
// whether its access is compiled: the exceptions are the ones access.go
// documents.
func TestNodesCompiled(t *testing.T) {
	m, err := schema.For[Every]()
	if err != nil {
		t.Fatal(err)
	}
	reflected := map[string]bool{
		"ip": true, "pip": true, // MarshalText
		"elems": true, "p_elems": true, "matrix": true, // JSON elements
		"ips":      true,                                                   // Text elements
		"by_level": true, "of_level": true, "levels2": true, "units": true, // named key, value, member
		"of_elem": true, "by_ip": true, // JSON value, Text key
		"float32s": true, // no compiled set of float32
	}
	seen := 0
	var walk func(nodes []*schema.Node, st reflect.Type)
	walk = func(nodes []*schema.Node, st reflect.Type) {
		for _, n := range nodes {
			seen++
			if want := !reflected[n.Name]; n.Compiled() != want {
				t.Errorf("%s (%v): Compiled() = %v, want %v", n.Name, n.Type, n.Compiled(), want)
			}
			if f := st.Field(n.Index); n.Offset != f.Offset {
				t.Errorf("%s: Offset %d, want %d", n.Name, n.Offset, f.Offset)
			}
			if n.Kind == schema.Struct {
				ct := n.Type
				if n.Ptr {
					ct = ct.Elem()
					if n.ZeroPointee() == nil {
						t.Errorf("%s: no zero pointee", n.Name)
					}
				}
				walk(n.Children, ct)
			}
		}
	}
	walk(m.Top, m.Type)
	if want := len(m.Scalars) + len(m.Collections) + 2; seen != want {
		t.Errorf("walked %d nodes, want %d", seen, want)
	}
	for name := range reflected {
		if _, ok := m.Lookup(name); !ok {
			t.Errorf("no node %q", name)
		}
	}
}

// TestSameAt: SameAt may say two values encode alike only when they do
// and neither encoding fails (a diff then skips the field without
// encoding it), and it says so of a value and its copy for every
// number, boolean and string, the fields a diff meets most. The float
// cases pin the bits: -0 and 0 are equal numbers of different texts.
func TestSameAt(t *testing.T) {
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(uint64(seed), 2))
	for _, tt := range codecTypes {
		c, err := schema.ElemCodec(tt.t)
		if err != nil {
			t.Fatalf("ElemCodec(%v): %v", tt.t, err)
		}
		k := tt.t.Kind()
		copies := k == reflect.String || k == reflect.Bool || (k >= reflect.Int && k <= reflect.Float64)
		for range 300 {
			v := testenv.Random(r, tt.t)
			copied := r.IntN(2) == 0
			w := v
			if !copied {
				w = testenv.Random(r, tt.t)
			}
			a, b := reflect.New(tt.t), reflect.New(tt.t)
			a.Elem().Set(v)
			b.Elem().Set(w)
			sa, errA := c.EncodeAt(a.UnsafePointer())
			sb, errB := c.EncodeAt(b.UnsafePointer())
			if c.SameAt(a.UnsafePointer(), b.UnsafePointer()) && (sa != sb || errA != nil || errB != nil) {
				t.Fatalf("%v: SameAt(%#v, %#v) = true; the texts %q, %q (%v, %v)", tt.t, v, w, sa, sb, errA, errB)
			}
			if copies && copied && !c.SameAt(a.UnsafePointer(), b.UnsafePointer()) {
				t.Fatalf("%v: SameAt of %#v and its copy = false", tt.t, v)
			}
		}
	}
	f, err := schema.ElemCodec(reflect.TypeFor[float64]())
	if err != nil {
		t.Fatal(err)
	}
	zero, neg := 0.0, math.Copysign(0, -1)
	if f.SameAt(unsafe.Pointer(&zero), unsafe.Pointer(&neg)) {
		t.Error("SameAt(0, -0) = true: their texts differ")
	}
	nan := math.NaN()
	nan2 := nan
	if !f.SameAt(unsafe.Pointer(&nan), unsafe.Pointer(&nan2)) {
		t.Error("SameAt of a NaN and its copy = false")
	}
}
