package schema_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/schema"
)

func TestSnakeCase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Balance", "balance"},
		{"CreatedAt", "created_at"},
		{"HTTPServer", "http_server"},
		{"UserID", "user_id"},
		{"ID", "id"},
		{"A", "a"},
		{"already_snake", "already_snake"},
		{"X509Cert", "x509_cert"},
		{"URLPath", "url_path"},
		{"ServeHTTP", "serve_http"},
		{"Field2", "field2"},
		{"HTMLToText", "html_to_text"},
		{"a", "a"},
		{"", ""},
		{"ÉtéCount", "été_count"},
		// An acronym's plural stays one word.
		{"IDs", "ids"},
		{"UserIDs", "user_ids"},
		{"URLsFor", "urls_for"},
		{"APIsV2", "apis_v2"},
		{"ASet", "a_set"},
	}
	for _, tt := range tests {
		if got := schema.SnakeCase(tt.in); got != tt.want {
			t.Errorf("SnakeCase(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// Every derived name is a valid stored name (for non-empty input).
		if tt.in != "" {
			if err := schema.ValidName(schema.SnakeCase(tt.in)); err != nil {
				t.Errorf("ValidName(SnakeCase(%q)): %v", tt.in, err)
			}
		}
	}
}

func TestValidName(t *testing.T) {
	good := []string{"balance", "created_at", "a", "_private", "x-y", "été", "Name", "_"}
	for _, n := range good {
		if err := schema.ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", n, err)
		}
	}
	bad := []string{
		"", "__version", "__", "a.b", "a:b", "{a}", "a}", "a*", "a?", "[a]", "a\\b",
		"a b", "a\tb", "a\nb", "a\rb", "\xff", "ok\xc3",
	}
	for _, n := range bad {
		err := schema.ValidName(n)
		if !errors.Is(err, errs.Unsupported) {
			t.Errorf("ValidName(%q) = %v, want errs.Unsupported", n, err)
		}
	}
}

type Celsius float64

type Level int8

type Label string

type Blob []byte

type AllScalars struct {
	S    string
	B    bool
	I    int
	I8   int8
	I16  int16
	I32  int32
	I64  int64
	U    uint
	U8   uint8
	U16  uint16
	U32  uint32
	U64  uint64
	F32  float32
	F64  float64
	Raw  []byte
	T    time.Time
	D    time.Duration
	IP   netip.Addr
	Temp Celsius
	Lvl  Level
	Lbl  Label
	Blob Blob
	PS   *string
	PB   *bool
	PI   *int
	PU8  *uint8
	PF32 *float32
	PRaw *[]byte
	PT   *time.Time
	PD   *time.Duration
	PIP  *netip.Addr
	Num  json.Number // a named string
}

func TestOfScalarKinds(t *testing.T) {
	m, err := schema.Of(reflect.TypeFor[AllScalars]())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		kind schema.ScalarKind
		bits int
		ptr  bool
		typ  reflect.Type // of the codec: the pointee for pointers
	}{
		{"s", schema.String, 0, false, reflect.TypeFor[string]()},
		{"b", schema.Bool, 0, false, reflect.TypeFor[bool]()},
		{"i", schema.Int, 64, false, reflect.TypeFor[int]()},
		{"i8", schema.Int, 8, false, reflect.TypeFor[int8]()},
		{"i16", schema.Int, 16, false, reflect.TypeFor[int16]()},
		{"i32", schema.Int, 32, false, reflect.TypeFor[int32]()},
		{"i64", schema.Int, 64, false, reflect.TypeFor[int64]()},
		{"u", schema.Uint, 64, false, reflect.TypeFor[uint]()},
		{"u8", schema.Uint, 8, false, reflect.TypeFor[uint8]()},
		{"u16", schema.Uint, 16, false, reflect.TypeFor[uint16]()},
		{"u32", schema.Uint, 32, false, reflect.TypeFor[uint32]()},
		{"u64", schema.Uint, 64, false, reflect.TypeFor[uint64]()},
		{"f32", schema.Float, 32, false, reflect.TypeFor[float32]()},
		{"f64", schema.Float, 64, false, reflect.TypeFor[float64]()},
		{"raw", schema.Bytes, 0, false, reflect.TypeFor[[]byte]()},
		{"t", schema.Time, 0, false, reflect.TypeFor[time.Time]()},
		{"d", schema.Int, 64, false, reflect.TypeFor[time.Duration]()},
		{"ip", schema.Text, 0, false, reflect.TypeFor[netip.Addr]()},
		{"temp", schema.Float, 64, false, reflect.TypeFor[Celsius]()},
		{"lvl", schema.Int, 8, false, reflect.TypeFor[Level]()},
		{"lbl", schema.String, 0, false, reflect.TypeFor[Label]()},
		{"blob", schema.Bytes, 0, false, reflect.TypeFor[Blob]()},
		{"ps", schema.String, 0, true, reflect.TypeFor[string]()},
		{"pb", schema.Bool, 0, true, reflect.TypeFor[bool]()},
		{"pi", schema.Int, 64, true, reflect.TypeFor[int]()},
		{"pu8", schema.Uint, 8, true, reflect.TypeFor[uint8]()},
		{"pf32", schema.Float, 32, true, reflect.TypeFor[float32]()},
		{"p_raw", schema.Bytes, 0, true, reflect.TypeFor[[]byte]()},
		{"pt", schema.Time, 0, true, reflect.TypeFor[time.Time]()},
		{"pd", schema.Int, 64, true, reflect.TypeFor[time.Duration]()},
		{"pip", schema.Text, 0, true, reflect.TypeFor[netip.Addr]()},
		{"num", schema.String, 0, false, reflect.TypeFor[json.Number]()},
	}
	if len(m.Scalars) != len(tests) {
		t.Errorf("%d scalars, want %d", len(m.Scalars), len(tests))
	}
	if len(m.Collections) != 0 || len(m.Markers) != 0 {
		t.Errorf("collections %d, markers %d, want none", len(m.Collections), len(m.Markers))
	}
	for i, tt := range tests {
		n, ok := m.Lookup(tt.name)
		if !ok {
			t.Errorf("no field %q", tt.name)
			continue
		}
		if n.Kind != schema.Scalar || n.Kind.Collection() {
			t.Errorf("%s: Kind = %v", tt.name, n.Kind)
		}
		if n.Value == nil {
			t.Errorf("%s: no codec", tt.name)
			continue
		}
		if n.Value.Kind != tt.kind || n.Value.Bits != tt.bits || n.Value.Type != tt.typ || n.Ptr != tt.ptr {
			t.Errorf("%s: codec %v/%d/%v ptr=%v, want %v/%d/%v ptr=%v",
				tt.name, n.Value.Kind, n.Value.Bits, n.Value.Type, n.Ptr, tt.kind, tt.bits, tt.typ, tt.ptr)
		}
		if n.Index != i || m.Scalars[i] != n || m.Top[i] != n || n.Parent != nil {
			t.Errorf("%s: Index %d, want %d (in declaration order, at the top)", tt.name, n.Index, i)
		}
		if want := m.Type.Field(i).Type; n.Type != want {
			t.Errorf("%s: Type %v, want the declared %v", tt.name, n.Type, want)
		}
		if want := m.Type.Field(i).Name; n.GoName != want {
			t.Errorf("%s: GoName %q, want %q", tt.name, n.GoName, want)
		}
		if got, want := n.Value.Kind.Numeric(), tt.kind == schema.Int || tt.kind == schema.Uint || tt.kind == schema.Float; got != want {
			t.Errorf("%s: Numeric() = %v", tt.name, got)
		}
	}
}

type Geo struct{ Lat, Lng float64 }

type Address struct {
	City string
	Zip  string `redis:"postcode,omitempty"`
	Geo  *Geo
}

type Item struct {
	SKU string
	Qty int
}

type Layout struct {
	ID       string
	Home     Address
	Work     *Address `redis:"office"`
	Tags     []string
	Items    []Item
	ItemPtrs []*Item
	Matrix   [][]int
	Scores   map[string]int
	ByIP     map[netip.Addr]Item
	Roles    map[string]struct{}
	IDs      map[int64]struct{}
	Blobs    [][]byte
	Skipped  chan int `redis:"-"`
	//lint:ignore U1000 an unexported field, which the schema must skip
	private func()
}

func TestOfLayout(t *testing.T) {
	m, err := schema.For[Layout]()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		kind   schema.NodeKind
		goName string
		ptr    bool
		value  schema.ScalarKind // 0: no codec
		key    schema.ScalarKind // 0: no key codec
	}
	wants := map[string]want{
		"id":              {schema.Scalar, "ID", false, schema.String, 0},
		"home":            {schema.Struct, "Home", false, 0, 0},
		"home.city":       {schema.Scalar, "Home.City", false, schema.String, 0},
		"home.postcode":   {schema.Scalar, "Home.Zip", false, schema.String, 0},
		"home.geo":        {schema.Struct, "Home.Geo", true, 0, 0},
		"home.geo.lat":    {schema.Scalar, "Home.Geo.Lat", false, schema.Float, 0},
		"home.geo.lng":    {schema.Scalar, "Home.Geo.Lng", false, schema.Float, 0},
		"office":          {schema.Struct, "Work", true, 0, 0},
		"office.city":     {schema.Scalar, "Work.City", false, schema.String, 0},
		"office.postcode": {schema.Scalar, "Work.Zip", false, schema.String, 0},
		"office.geo":      {schema.Struct, "Work.Geo", true, 0, 0},
		"office.geo.lat":  {schema.Scalar, "Work.Geo.Lat", false, schema.Float, 0},
		"office.geo.lng":  {schema.Scalar, "Work.Geo.Lng", false, schema.Float, 0},
		"tags":            {schema.List, "Tags", false, schema.String, 0},
		"items":           {schema.List, "Items", false, schema.JSON, 0},
		"item_ptrs":       {schema.List, "ItemPtrs", false, schema.JSON, 0},
		"matrix":          {schema.List, "Matrix", false, schema.JSON, 0},
		"scores":          {schema.Map, "Scores", false, schema.Int, schema.String},
		"by_ip":           {schema.Map, "ByIP", false, schema.JSON, schema.Text},
		"roles":           {schema.Set, "Roles", false, schema.String, schema.String},
		"ids":             {schema.Set, "IDs", false, schema.Int, schema.Int},
		"blobs":           {schema.List, "Blobs", false, schema.Bytes, 0},
	}
	for name, w := range wants {
		n, ok := m.Lookup(name)
		if !ok {
			t.Errorf("no node %q", name)
			continue
		}
		if n.Name != name || n.Kind != w.kind || n.GoName != w.goName || n.Ptr != w.ptr {
			t.Errorf("%s: got %q %v %q ptr=%v, want %v %q ptr=%v", name, n.Name, n.Kind, n.GoName, n.Ptr, w.kind, w.goName, w.ptr)
		}
		switch {
		case w.value == 0 && n.Value != nil:
			t.Errorf("%s: unexpected value codec %v", name, n.Value.Kind)
		case w.value != 0 && (n.Value == nil || n.Value.Kind != w.value):
			t.Errorf("%s: value codec %+v, want %v", name, n.Value, w.value)
		}
		switch {
		case w.key == 0 && n.Key != nil:
			t.Errorf("%s: unexpected key codec %v", name, n.Key.Kind)
		case w.key != 0 && (n.Key == nil || n.Key.Kind != w.key):
			t.Errorf("%s: key codec %+v, want %v", name, n.Key, w.key)
		}
		if w.kind == schema.Struct && len(n.Children) == 0 {
			t.Errorf("%s: no children", name)
		}
		for _, c := range n.Children {
			if c.Parent != n || !strings.HasPrefix(c.Name, n.Name+".") {
				t.Errorf("%s: child %q has parent %v", name, c.Name, c.Parent)
			}
		}
		if got, want := n.Kind.Collection(), w.kind == schema.List || w.kind == schema.Map || w.kind == schema.Set; got != want {
			t.Errorf("%s: Collection() = %v", name, got)
		}
	}
	for _, absent := range []string{"skipped", "private", "Home", "home.Zip", "work", "work.city"} {
		if _, ok := m.Lookup(absent); ok {
			t.Errorf("Lookup(%q) found a node", absent)
		}
	}
	names := func(ns []*schema.Node) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Name)
		}
		return out
	}
	if got, want := names(m.Top), []string{"id", "home", "office", "tags", "items", "item_ptrs", "matrix", "scores", "by_ip", "roles", "ids", "blobs"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Top = %q, want %q", got, want)
	}
	if got, want := names(m.Scalars), []string{"id", "home.city", "home.postcode", "home.geo.lat", "home.geo.lng", "office.city", "office.postcode", "office.geo.lat", "office.geo.lng"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Scalars = %q, want %q", got, want)
	}
	if got, want := names(m.Collections), []string{"tags", "items", "item_ptrs", "matrix", "scores", "by_ip", "roles", "ids", "blobs"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Collections = %q, want %q", got, want)
	}
	// Markers come in no promised order.
	if got, want := names(m.Markers), []string{"home.geo", "office", "office.geo"}; !reflect.DeepEqual(sorted(got), want) {
		t.Errorf("Markers = %q, want %q", got, want)
	}
}

func TestNodeKindNames(t *testing.T) {
	tests := []struct {
		k         schema.NodeKind
		name, typ string
	}{
		{schema.Scalar, "scalar", ""},
		{schema.Struct, "struct", ""},
		{schema.List, "list", "list"},
		{schema.Map, "map", "hash"},
		{schema.Set, "set", "set"},
	}
	for _, tt := range tests {
		if tt.k.String() != tt.name || tt.k.RedisType() != tt.typ {
			t.Errorf("%d: String %q RedisType %q, want %q %q", tt.k, tt.k.String(), tt.k.RedisType(), tt.name, tt.typ)
		}
	}
	kinds := map[schema.ScalarKind]string{
		schema.String: "string", schema.Bool: "bool", schema.Int: "int", schema.Uint: "uint", schema.Float: "float",
		schema.Bytes: "bytes", schema.Time: "time", schema.Text: "text", schema.JSON: "json",
	}
	for k, want := range kinds {
		if k.String() != want {
			t.Errorf("ScalarKind %d: %q, want %q", k, k.String(), want)
		}
	}
}

type (
	Rec       struct{ Next *Rec }
	MutualA   struct{ B *MutualB }
	MutualB   struct{ A MutualA }
	Key       struct{ X int }
	Embedded  struct{ X int }
	Twin      struct{ X int }
	BadFields struct{}
	Tree      struct {
		Name     string
		Children []Tree // recursion through a list is JSON, and fine
	}
)

func TestOfRefusals(t *testing.T) {
	tests := []struct {
		name   string
		typ    reflect.Type
		naming string // text the error must hold, usually the Go field path
	}{
		{"not a struct", reflect.TypeFor[int](), "int"},
		{"chan", reflect.TypeFor[struct{ Events chan int }](), "field Events "},
		{"func", reflect.TypeFor[struct{ Hook func() }](), "field Hook "},
		{"complex64", reflect.TypeFor[struct{ Z complex64 }](), "field Z "},
		{"complex128", reflect.TypeFor[struct{ Phase complex128 }](), "field Phase "},
		{"interface", reflect.TypeFor[struct{ Any interface{} }](), "field Any "},
		{"error interface", reflect.TypeFor[struct{ Err error }](), "field Err "},
		{"uintptr", reflect.TypeFor[struct{ P uintptr }](), "field P "},
		{"pointer to pointer", reflect.TypeFor[struct{ PP **int }](), "field PP "},
		{"recursive", reflect.TypeFor[Rec](), "field Next "},
		{"mutually recursive", reflect.TypeFor[MutualA](), "field B.A "},
		{"map with struct keys", reflect.TypeFor[struct{ M map[Key]int }](), "field M "},
		{"map with chan values", reflect.TypeFor[struct{ M map[string]chan int }](), "field M "},
		{"list of funcs", reflect.TypeFor[struct{ L []func() }](), "field L "},
		{"list of structs holding a chan", reflect.TypeFor[struct{ L []struct{ C chan int } }](), "field L "},
		{"pointer to slice", reflect.TypeFor[struct{ L *[]int }](), "field L "},
		{"pointer to map", reflect.TypeFor[struct{ M *map[string]int }](), "field M "},
		{"array", reflect.TypeFor[struct{ A [3]int }](), "field A "},
		{"embedded field shadowed", reflect.TypeFor[struct {
			X int
			Embedded
		}](), "field Embedded.X "},
		{"embedded fields in conflict", reflect.TypeFor[struct {
			Embedded
			Other struct{ X int } `redis:"-"`
			Twin
		}](), "by field Embedded.X too"},
		{"empty struct", reflect.TypeFor[struct{ E BadFields }](), "field E "},
		{"unexported-only struct", reflect.TypeFor[struct{ T time.Location }](), "field T "},
		{"reserved name", reflect.TypeFor[struct {
			V int `redis:"__v"`
		}](), "field V "},
		{"bad character in tag", reflect.TypeFor[struct {
			V int `redis:"a:b"`
		}](), "field V "},
		{"duplicate name", reflect.TypeFor[struct {
			UserID int
			UserId int
		}](), "field UserId "},
		{"duplicate tag", reflect.TypeFor[struct {
			A int `redis:"x"`
			B int `redis:"x"`
		}](), "field B "},
		{"nested bad field", reflect.TypeFor[struct {
			Outer struct{ Inner struct{ Fn func() } }
		}](), "field Outer.Inner.Fn "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := schema.Of(tt.typ)
			if !errors.Is(err, errs.Unsupported) {
				t.Fatalf("Of(%v) = %v, want errs.Unsupported", tt.typ, err)
			}
			if m != nil {
				t.Error("a model came back with the error")
			}
			if !strings.Contains(err.Error(), tt.naming) {
				t.Errorf("error %q does not hold %q", err, tt.naming)
			}
			// The refusal is cached like a success.
			if _, err2 := schema.Of(tt.typ); err2 != err {
				t.Errorf("second call: %v", err2)
			}
		})
	}
	if _, err := schema.For[Tree](); err != nil {
		t.Errorf("recursion through a list of JSON elements: %v", err)
	}
}

func TestOfIsCachedAndConcurrent(t *testing.T) {
	type Fresh struct {
		A int
		B []string
	}
	var wg sync.WaitGroup
	got := make([]*schema.Model, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := schema.For[Fresh]()
			if err != nil {
				t.Error(err)
			}
			got[i] = m
		}()
	}
	wg.Wait()
	for _, m := range got[1:] {
		if m != got[0] {
			t.Fatal("Of returned different models for one type")
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
