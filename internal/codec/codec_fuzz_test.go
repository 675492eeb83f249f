package codec_test

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

type level int16

type item struct {
	SKU   string    `json:"sku"`
	Qty   int       `json:"qty"`
	Price float64   `json:"price"`
	At    time.Time `json:"at"`
}

type geo struct{ Lat, Lng float64 }

type address struct {
	City string
	Zip  uint16
	Geo  *geo
}

// everything has a field of every kind the codec stores.
type everything struct {
	Name    string
	Flag    bool
	I       int
	I8      int8
	U64     uint64
	F32     float32
	F64     float64
	Blob    []byte
	When    time.Time
	Wait    time.Duration
	IP      netip.Addr
	Lvl     level
	PtrInt  *int
	PtrTime *time.Time
	Home    address
	Work    *address
	Tags    []string
	Scores  []int64
	Items   []item
	Blobs   [][]byte
	Labels  map[string]string
	Counts  map[int]float64
	Members map[string]struct{}
	IDs     map[uint32]struct{}
	Nick    string `redis:"nick"`
}

// input is a small format for the fuzzer to mutate: for every root field of
// the schema (scalars, pointer-struct markers, the version) a presence byte
// and a text; for every collection a count and that many texts (map keys and
// values in turn). A text is a length byte and that many bytes.
type input struct {
	b []byte
}

func (in *input) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *input) text() string {
	n := int(in.byte())
	if n > len(in.b) {
		n = len(in.b)
	}
	s := string(in.b[:n])
	in.b = in.b[n:]
	return s
}

// rootNames are the fields of the root hash a model of m can hold.
func rootNames(m *schema.Model) []string {
	names := []string{schema.Reserved + "v"}
	for _, n := range m.Scalars {
		names = append(names, n.Name)
	}
	for _, n := range m.Markers {
		names = append(names, n.Name)
	}
	return names
}

func dataOf(m *schema.Model, raw []byte) codec.Data {
	in := &input{b: raw}
	d := codec.Data{Root: map[string]string{}, Collections: map[string]any{}}
	for _, name := range rootNames(m) {
		if in.byte()&1 == 1 {
			d.Root[name] = in.text()
		}
	}
	for _, n := range m.Collections {
		count := int(in.byte() % 8)
		switch n.Kind {
		case schema.Map:
			mm := map[string]string{}
			for range count {
				k := in.text()
				mm[k] = in.text()
			}
			d.Collections[n.Name] = mm
		default:
			var l []string
			for range count {
				l = append(l, in.text())
			}
			d.Collections[n.Name] = l
		}
	}
	return d
}

// bytesOf is the inverse of dataOf, for seeds (texts of at most 255 bytes).
func bytesOf(m *schema.Model, d codec.Data) []byte {
	var out []byte
	text := func(s string) {
		if len(s) > 255 {
			s = s[:255]
		}
		out = append(out, byte(len(s)))
		out = append(out, s...)
	}
	for _, name := range rootNames(m) {
		v, ok := d.Root[name]
		if !ok {
			out = append(out, 0)
			continue
		}
		out = append(out, 1)
		text(v)
	}
	for _, n := range m.Collections {
		switch c := d.Collections[n.Name].(type) {
		case map[string]string:
			keys := make([]string, 0, len(c))
			for k := range c {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if len(keys) > 7 {
				keys = keys[:7]
			}
			out = append(out, byte(len(keys)))
			for _, k := range keys {
				text(k)
				text(c[k])
			}
		case []string:
			if len(c) > 7 {
				c = c[:7]
			}
			out = append(out, byte(len(c)))
			for _, s := range c {
				text(s)
			}
		default:
			out = append(out, 0)
		}
	}
	return out
}

// encode writes v with EmitModel and reads the instructions back as the
// data Redis would then hold.
func encode(t testing.TB, m *schema.Model, v unsafe.Pointer) codec.Data {
	t.Helper()
	target := prog.Target{Root: "m:{x}", Model: m}
	b := prog.NewBuilder()
	b.Declare(target, prog.Need)
	if err := codec.EmitModel(b, target, v); err != nil {
		t.Fatalf("EmitModel: %v", err)
	}
	return dataOfInstrs(t, target, b.Instrs())
}

// dataOfInstrs is the data Redis holds after the instructions EmitModel
// emitted for target.
func dataOfInstrs(t testing.TB, target prog.Target, instrs []prog.Instr) codec.Data {
	t.Helper()
	m := target.Model
	byKey := map[string]*schema.Node{}
	for _, n := range m.Collections {
		byKey[target.Key(n)] = n
	}
	d := codec.Data{Root: map[string]string{}, Collections: map[string]any{}}
	for _, in := range instrs {
		switch in.Op {
		case "hset":
			for i := 1; i+1 < len(in.Args); i += 2 {
				d.Root[in.Args[i]] = in.Args[i+1]
			}
		case "rpush", "sadd":
			n := byKey[in.Args[1]]
			l, _ := d.Collections[n.Name].([]string)
			d.Collections[n.Name] = append(l, in.Args[2:]...)
		case "mset":
			n := byKey[in.Args[1]]
			mm, _ := d.Collections[n.Name].(map[string]string)
			if mm == nil {
				mm = map[string]string{}
			}
			for i := 2; i+1 < len(in.Args); i += 2 {
				mm[in.Args[i]] = in.Args[i+1]
			}
			d.Collections[n.Name] = mm
		case "reset", "clear":
		default:
			t.Fatalf("EmitModel emitted %q", in.Op)
		}
	}
	for _, n := range m.Collections {
		if n.Kind == schema.Set {
			if l, ok := d.Collections[n.Name].([]string); ok {
				slices.Sort(l)
			}
		}
	}
	return d
}

func seeds(t testing.TB, m *schema.Model) [][]byte {
	n := 7
	when := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("", 5*3600+1800))
	values := []everything{
		{},
		{
			Name: "alice", Flag: true, I: -42, I8: -128, U64: 1<<64 - 1, F32: 1.5, F64: 0.1,
			Blob: []byte{0, 1, 255}, When: when, Wait: 90 * time.Second, IP: netip.MustParseAddr("::1"),
			Lvl: 7, PtrInt: &n, PtrTime: &when, Home: address{City: "Paris", Zip: 65001, Geo: &geo{1.5, -2}},
			Work: &address{City: "Lyon"}, Tags: []string{"a", "", "b c"}, Scores: []int64{-1, 0, 1 << 62},
			Items:  []item{{SKU: "x", Qty: 2, Price: 9.99, At: when}},
			Blobs:  [][]byte{{1}, {}},
			Labels: map[string]string{"k": "v", "": "empty"}, Counts: map[int]float64{-3: 2.5},
			Members: map[string]struct{}{"m": {}}, IDs: map[uint32]struct{}{4294967295: {}}, Nick: "al",
		},
	}
	var out [][]byte
	for _, v := range values {
		d := encode(t, m, unsafe.Pointer(&v))
		d.Root[schema.Reserved+"v"] = "3"
		out = append(out, bytesOf(m, d))
		// Corrupt variants: every root field in turn replaced by junk.
		for _, name := range rootNames(m) {
			c := codec.Data{Root: map[string]string{}, Collections: d.Collections}
			for k, v := range d.Root {
				c.Root[k] = v
			}
			c.Root[name] = "\xffjunk{"
			out = append(out, bytesOf(m, c))
		}
	}
	return out
}

// FuzzDecodeModel feeds arbitrary root hashes and collections to
// codec.Decode, as corrupt data in Redis would reach it (DESIGN 5.12: no
// panic reaches the caller from data in Redis). Decode must never panic and
// must report bad data only with errs.Corrupt, as the reflect codec it
// replaced does; whatever it accepts must encode (EmitModel) to data that
// decodes to the same encoding again.
func FuzzDecodeModel(f *testing.F) {
	m, err := schema.For[everything]()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds(f, m) {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2, 'x', 'y', 1, 255})
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := dataOf(m, raw)
		var v, ref everything
		err := codec.Decode(m, d, unsafe.Pointer(&v))
		// The reflect-walking codec it replaced must agree (about which
		// field is bad: of two bad items of a map, either may be found).
		if refErr := codec.RefDecode(m, d, reflect.ValueOf(&ref).Elem()); !sameErr(m, refErr, err) {
			t.Fatalf("Decode: %v; the reflect codec gave %v", err, refErr)
		}
		if !cmp.Equal(ref, v, identical) {
			t.Fatalf("Decode differs from the reflect codec (-reflect +compiled):\n%s", cmp.Diff(ref, v, identical))
		}
		if err != nil {
			if !errors.Is(err, errs.Corrupt) {
				t.Fatalf("Decode: %v, want an error wrapping errs.Corrupt", err)
			}
			return
		}
		d1 := encode(t, m, unsafe.Pointer(&v))
		var w everything
		if err := codec.Decode(m, d1, unsafe.Pointer(&w)); err != nil {
			t.Fatalf("decoded %+v, encoded it as %+v, which does not decode: %v", v, d1, err)
		}
		if d2 := encode(t, m, unsafe.Pointer(&w)); !cmp.Equal(d1, d2) {
			t.Fatalf("the encoding of a decoded model is not stable:\n%s", cmp.Diff(d1, d2))
		}
	})
}
