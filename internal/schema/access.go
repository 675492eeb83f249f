package schema

// Compiled access: how package codec reads and writes the fields of a model
// in place, with no reflect.Value per call.
//
// Resolving a model compiles, once per node, how to reach and convert its
// value. A field is its parent's address plus Node.Offset (Node.At). A codec
// knows the underlying Go type of its values (op), so EncodeAt and DecodeAt
// are a switch on that small integer and an unsafe cast to the type: a
// *Level of underlying type int8 is read as the *int8 it converts to. A list
// of such elements is walked through its backing array by element size. A
// map or set whose key and value types are exactly one of the common
// unnamed types below (map[string]int, map[string]time.Time,
// map[int64]struct{}, ...; a named map type of those counts, its underlying
// type being that map type) is cast to that map type, which is what a Go
// conversion between types of identical underlying types does.
//
// What still uses reflect per call, because Go cannot name the type without
// code generation:
//   - values of types with MarshalText and UnmarshalText (netip.Addr, ...)
//     and JSON elements (structs, slices, maps and pointers as list elements
//     or map values): their methods and encoding/json need an interface
//     value of the dynamic type, made with reflect.NewAt from the address;
//   - lists of those elements, and maps and sets of any other key or value
//     type (a named key type, a JSON value, map[string]Level): the general
//     code below, on reflect.NewAt of the field;
//   - the new target of a pointer-to-struct field that Decode finds set:
//     reflect.New of the struct type (an allocation; the fields inside are
//     then reached by offset like any other).
//
// Node.Compiled and Codec.Compiled say which nodes and codecs are compiled;
// the tests of packages schema and codec hold the list of exceptions to
// these rules and compare the compiled paths with the reflect ones.

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// op is the underlying Go type a compiled codec casts values to.
type op uint8

const (
	opReflect op = iota // Text, JSON and codecs written as literals
	opString
	opBool
	opInt
	opInt8
	opInt16
	opInt32
	opInt64
	opUint
	opUint8
	opUint16
	opUint32
	opUint64
	opFloat32
	opFloat64
	opBytes // []byte, or any slice of a byte kind
	opTime  // time.Time exactly
)

// compile sets op and size from Kind and Type.
func (c *Codec) compile() {
	c.size = c.Type.Size()
	switch c.Kind {
	case Time:
		c.op = opTime
	case Bytes:
		c.op = opBytes
	case String, Bool, Int, Uint, Float:
		c.op = opOfKind[c.Type.Kind()]
	default:
		c.op = opReflect
	}
}

// opOfKind is the op of the underlying types of the String, Bool, Int, Uint
// and Float codecs.
var opOfKind = map[reflect.Kind]op{
	reflect.String: opString, reflect.Bool: opBool,
	reflect.Int: opInt, reflect.Int8: opInt8, reflect.Int16: opInt16, reflect.Int32: opInt32, reflect.Int64: opInt64,
	reflect.Uint: opUint, reflect.Uint8: opUint8, reflect.Uint16: opUint16, reflect.Uint32: opUint32, reflect.Uint64: opUint64,
	reflect.Float32: opFloat32, reflect.Float64: opFloat64,
}

// Compiled reports whether EncodeAt and DecodeAt work without reflect:
// false for Text and JSON values, and for codecs written as literals.
func (c *Codec) Compiled() bool { return c.op != opReflect }

// EncodeAt is Encode for the value p points to, which must be a c.Type.
func (c *Codec) EncodeAt(p unsafe.Pointer) (string, error) {
	if c.op == opReflect {
		return c.Encode(reflect.NewAt(c.Type, p).Elem())
	}
	s, err := c.encodePrim(p)
	if len(s) > MaxValue {
		return "", tooLarge(len(s))
	}
	return s, err
}

// SameAt reports whether the values a and b point to (each a c.Type)
// encode to the same text, known without encoding them, and EncodeAt of
// them cannot fail: numbers and booleans of the same bits, one string that
// Redis can store. false says nothing: encode both and compare. A diff
// asks it first for every field, so that the fields that did not change
// (most of them, in a model Lock) are not formatted twice to find so.
func (c *Codec) SameAt(a, b unsafe.Pointer) bool {
	switch c.op {
	case opString:
		s := *(*string)(a)
		return len(s) <= MaxValue && s == *(*string)(b)
	case opBool, opInt, opInt8, opInt16, opInt32, opInt64, opUint, opUint8, opUint16, opUint32, opUint64, opFloat32, opFloat64:
		// the same bits encode alike (a float's text is a function of
		// its bits, NaNs included)
		switch c.size {
		case 1:
			return *(*uint8)(a) == *(*uint8)(b)
		case 2:
			return *(*uint16)(a) == *(*uint16)(b)
		case 4:
			return *(*uint32)(a) == *(*uint32)(b)
		case 8:
			return *(*uint64)(a) == *(*uint64)(b)
		}
	}
	return false
}

// MaxValue is the longest text Redis stores as one value (512 MB, its
// proto-max-bulk-len by default): Encode and EncodeAt refuse a longer one
// with errs.TooLarge, so that a write of it fails before it is sent, where
// the server would cut the connection while reading it (an unknown
// outcome to the caller).
const MaxValue = 512 << 20

func tooLarge(n int) error {
	return fmt.Errorf("%w: a value of %d bytes, over the 512 MB Redis stores in one value", errs.TooLarge, n)
}

// DecodeAt is Decode into the value p points to, which must be a c.Type.
func (c *Codec) DecodeAt(s string, p unsafe.Pointer) error {
	if c.op == opReflect {
		return c.Decode(s, reflect.NewAt(c.Type, p).Elem())
	}
	return c.decodePrim(s, p)
}

// encodePrim is EncodeAt for compiled codecs. It keeps no reference to p,
// so the address of a local may be passed without moving it to the heap.
func (c *Codec) encodePrim(p unsafe.Pointer) (string, error) {
	switch c.op {
	case opString:
		return *(*string)(p), nil
	case opBool:
		if *(*bool)(p) {
			return "true", nil
		}
		return "false", nil
	case opInt:
		return strconv.FormatInt(int64(*(*int)(p)), 10), nil
	case opInt8:
		return strconv.FormatInt(int64(*(*int8)(p)), 10), nil
	case opInt16:
		return strconv.FormatInt(int64(*(*int16)(p)), 10), nil
	case opInt32:
		return strconv.FormatInt(int64(*(*int32)(p)), 10), nil
	case opInt64:
		return strconv.FormatInt(*(*int64)(p), 10), nil
	case opUint:
		return strconv.FormatUint(uint64(*(*uint)(p)), 10), nil
	case opUint8:
		return strconv.FormatUint(uint64(*(*uint8)(p)), 10), nil
	case opUint16:
		return strconv.FormatUint(uint64(*(*uint16)(p)), 10), nil
	case opUint32:
		return strconv.FormatUint(uint64(*(*uint32)(p)), 10), nil
	case opUint64:
		return strconv.FormatUint(*(*uint64)(p), 10), nil
	case opFloat32:
		return FormatFloat(float64(*(*float32)(p)), 32), nil
	case opFloat64:
		return FormatFloat(*(*float64)(p), 64), nil
	case opBytes:
		return string(*(*[]byte)(p)), nil
	case opTime:
		return encodeTime(*(*time.Time)(p))
	}
	panic("schema: encodePrim on a reflect codec")
}

// decodePrim is DecodeAt for compiled codecs; like encodePrim it keeps no
// reference to p.
func (c *Codec) decodePrim(s string, p unsafe.Pointer) error {
	switch c.op {
	case opString:
		*(*string)(p) = s
	case opBool:
		switch s {
		case "true", "1":
			*(*bool)(p) = true
		case "false", "0":
			*(*bool)(p) = false
		default:
			return c.corrupt(s, strconv.ErrSyntax)
		}
	case opInt, opInt8, opInt16, opInt32, opInt64:
		n, err := strconv.ParseInt(s, 10, c.Bits)
		if err != nil {
			return c.corrupt(s, err)
		}
		c.putInt(n, p)
	case opUint, opUint8, opUint16, opUint32, opUint64:
		n, err := strconv.ParseUint(s, 10, c.Bits)
		if err != nil {
			return c.corrupt(s, err)
		}
		c.putUint(n, p)
	case opFloat32, opFloat64:
		f, err := strconv.ParseFloat(s, c.Bits)
		if err != nil {
			return c.corrupt(s, err)
		}
		if c.op == opFloat32 {
			*(*float32)(p) = float32(f)
		} else {
			*(*float64)(p) = f
		}
	case opBytes:
		*(*[]byte)(p) = []byte(s)
	case opTime:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return c.corrupt(s, err)
		}
		*(*time.Time)(p) = t
	default:
		panic("schema: decodePrim on a reflect codec")
	}
	return nil
}

// putInt stores n, which fits c's size, in the signed integer at p.
func (c *Codec) putInt(n int64, p unsafe.Pointer) {
	switch c.op {
	case opInt:
		*(*int)(p) = int(n)
	case opInt8:
		*(*int8)(p) = int8(n)
	case opInt16:
		*(*int16)(p) = int16(n)
	case opInt32:
		*(*int32)(p) = int32(n)
	default:
		*(*int64)(p) = n
	}
}

// putUint stores n, which fits c's size, in the unsigned integer at p.
func (c *Codec) putUint(n uint64, p unsafe.Pointer) {
	switch c.op {
	case opUint:
		*(*uint)(p) = uint(n)
	case opUint8:
		*(*uint8)(p) = uint8(n)
	case opUint16:
		*(*uint16)(p) = uint16(n)
	case opUint32:
		*(*uint32)(p) = uint32(n)
	default:
		*(*uint64)(p) = n
	}
}

// clearAt sets the value at p to its zero value.
func (c *Codec) clearAt(p unsafe.Pointer) {
	switch c.op {
	case opString:
		*(*string)(p) = ""
	case opBool:
		*(*bool)(p) = false
	case opInt, opUint:
		*(*uint)(p) = 0
	case opInt64, opUint64:
		*(*uint64)(p) = 0
	case opInt8, opUint8:
		*(*uint8)(p) = 0
	case opInt16, opUint16:
		*(*uint16)(p) = 0
	case opInt32, opUint32, opFloat32:
		*(*uint32)(p) = 0
	case opFloat64:
		*(*float64)(p) = 0
	case opBytes:
		*(*[]byte)(p) = nil
	case opTime:
		*(*time.Time)(p) = time.Time{}
	default:
		reflect.NewAt(c.Type, p).Elem().SetZero()
	}
}

// newValue allocates a zero c.Type and returns its address. The compiled
// ops allocate a type of the same size and layout (no pointers for numbers).
func (c *Codec) newValue() unsafe.Pointer {
	switch c.op {
	case opString:
		return unsafe.Pointer(new(string))
	case opBool, opInt8, opUint8:
		return unsafe.Pointer(new(uint8))
	case opInt16, opUint16:
		return unsafe.Pointer(new(uint16))
	case opInt32, opUint32, opFloat32:
		return unsafe.Pointer(new(uint32))
	case opInt, opUint:
		return unsafe.Pointer(new(uint))
	case opInt64, opUint64, opFloat64:
		return unsafe.Pointer(new(uint64))
	case opBytes:
		return unsafe.Pointer(new([]byte))
	case opTime:
		return unsafe.Pointer(new(time.Time))
	}
	return reflect.New(c.Type).UnsafePointer()
}

// makeSlice allocates the backing array of a slice of n zero c.Type values
// (n > 0), for compiled codecs, as newValue does.
func (c *Codec) makeSlice(n int) unsafe.Pointer {
	switch c.op {
	case opString:
		return unsafe.Pointer(unsafe.SliceData(make([]string, n)))
	case opBool, opInt8, opUint8:
		return unsafe.Pointer(unsafe.SliceData(make([]uint8, n)))
	case opInt16, opUint16:
		return unsafe.Pointer(unsafe.SliceData(make([]uint16, n)))
	case opInt32, opUint32, opFloat32:
		return unsafe.Pointer(unsafe.SliceData(make([]uint32, n)))
	case opInt, opUint:
		return unsafe.Pointer(unsafe.SliceData(make([]uint, n)))
	case opInt64, opUint64, opFloat64:
		return unsafe.Pointer(unsafe.SliceData(make([]uint64, n)))
	case opBytes:
		return unsafe.Pointer(unsafe.SliceData(make([][]byte, n)))
	case opTime:
		return unsafe.Pointer(unsafe.SliceData(make([]time.Time, n)))
	}
	panic("schema: makeSlice on a reflect codec")
}

// equalPrim reports whether the values at a and b are equal as
// reflect.DeepEqual says, for compiled codecs: == for numbers (so NaN is
// not equal to itself), nil and empty []byte differ, and time.Time compares
// its fields, its *Location deeply.
func (c *Codec) equalPrim(a, b unsafe.Pointer) bool {
	switch c.op {
	case opString:
		return *(*string)(a) == *(*string)(b)
	case opBool, opInt8, opUint8:
		return *(*uint8)(a) == *(*uint8)(b)
	case opInt16, opUint16:
		return *(*uint16)(a) == *(*uint16)(b)
	case opInt32, opUint32:
		return *(*uint32)(a) == *(*uint32)(b)
	case opInt, opUint:
		return *(*uint)(a) == *(*uint)(b)
	case opInt64, opUint64:
		return *(*uint64)(a) == *(*uint64)(b)
	case opFloat32:
		return *(*float32)(a) == *(*float32)(b)
	case opFloat64:
		return *(*float64)(a) == *(*float64)(b)
	case opBytes:
		x, y := *(*[]byte)(a), *(*[]byte)(b)
		return (x == nil) == (y == nil) && bytes.Equal(x, y)
	case opTime:
		// == is DeepEqual when the *Location pointers are the same; two
		// equal zones made apart need the deep comparison.
		x, y := *(*time.Time)(a), *(*time.Time)(b)
		return x == y || reflect.DeepEqual(x, y)
	}
	panic("schema: equalPrim on a reflect codec")
}

// sliceHeader is the layout of every slice type.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// At returns the address of n's field in the struct at base (of n.Parent's
// type, or of the model's type for a top-level node).
func (n *Node) At(base unsafe.Pointer) unsafe.Pointer { return unsafe.Add(base, n.Offset) }

// New allocates the zero value a Ptr node points to and returns its address.
func (n *Node) New() unsafe.Pointer {
	if n.Kind == Scalar {
		return n.Value.newValue()
	}
	return reflect.New(n.elem).UnsafePointer()
}

// ZeroPointee returns the address of a zero value of what a Ptr struct node
// points to, shared and never to be written: what a diff compares a struct
// that was nil with.
func (n *Node) ZeroPointee() unsafe.Pointer { return n.zero }

// Clear sets the field at p to its zero value: a nil pointer, a nil
// collection, a zero scalar. Not for nested struct nodes, which are their
// fields.
func (n *Node) Clear(p unsafe.Pointer) {
	switch {
	case n.Ptr || n.Kind == Map || n.Kind == Set:
		*(*unsafe.Pointer)(p) = nil
	case n.Kind == List:
		*(*sliceHeader)(p) = sliceHeader{}
	case n.Kind == Scalar:
		n.Value.clearAt(p)
	}
}

// Compiled reports whether encoding and decoding the node's value go
// without reflect (package comment of access.go): true for nested structs
// and for scalars, lists, maps and sets of compiled values, false for the
// documented exceptions.
func (n *Node) Compiled() bool {
	switch n.Kind {
	case Scalar:
		return n.Value.Compiled()
	case List:
		return n.list.compiled()
	case Map, Set:
		return n.hash.compiled()
	}
	return true
}

// Len returns the length of the collection at p.
func (n *Node) Len(p unsafe.Pointer) int {
	if n.Kind == List {
		return (*sliceHeader)(p).len
	}
	return n.hash.length(n, p)
}

// AppendElements appends the encoding of the collection at p to dst: list
// elements in order from index from, map keys and values in turn, set
// members (from must be 0 for maps and sets). Errors name the field as
// codec reports them, with list indexes counted from from.
func (n *Node) AppendElements(dst []string, p unsafe.Pointer, from int) ([]string, error) {
	if n.Kind == List {
		return n.list.appendElems(n, dst, p, from)
	}
	return n.hash.appendElems(n, dst, p)
}

// DecodeElements fills the collection at p from raw, a []string for lists
// and sets, a map[string]string for maps; an absent or empty raw gives nil.
// Values that do not parse give errors wrapping errs.Corrupt that name the
// field; the field is then left as it was.
func (n *Node) DecodeElements(raw any, p unsafe.Pointer) error {
	if n.Kind == List {
		return n.list.decode(n, raw, p)
	}
	return n.hash.decode(n, raw, p)
}

// ListPrefixEqual reports whether the lists at before and after, cut to
// their first k elements (k at most either length), are equal as
// reflect.DeepEqual says: a nil list differs from an empty one.
func (n *Node) ListPrefixEqual(before, after unsafe.Pointer, k int) bool {
	return n.list.prefixEqual(n, before, after, k)
}

// AppendChanges appends to set the items of the map or set at after that
// are not in before with an equal value (map keys and values in turn, set
// members) and to del the keys of before that after lacks.
func (n *Node) AppendChanges(set, del []string, before, after unsafe.Pointer) ([]string, []string, error) {
	return n.hash.appendChanges(n, set, del, before, after)
}

func (n *Node) corrupt(err error) error {
	return errs.At(fmt.Sprintf("field %s (%s)", n.GoName, n.Name), err)
}

// list accesses the value of a list node.
type list interface {
	appendElems(n *Node, dst []string, p unsafe.Pointer, from int) ([]string, error)
	decode(n *Node, raw any, p unsafe.Pointer) error
	prefixEqual(n *Node, before, after unsafe.Pointer, k int) bool
	compiled() bool
}

func listOf(elem *Codec) list {
	if elem.Compiled() {
		return primList{}
	}
	return reflectList{}
}

// primList is a list of compiled elements, walked by element size.
type primList struct{}

func (primList) compiled() bool { return true }

func (primList) appendElems(n *Node, dst []string, p unsafe.Pointer, from int) ([]string, error) {
	h, c := (*sliceHeader)(p), n.Value
	return encodeEach(n, dst, from, h.len, func(i int) (string, error) {
		return c.encodePrim(unsafe.Add(h.data, uintptr(i)*c.size))
	})
}

func (primList) decode(n *Node, raw any, p unsafe.Pointer) error {
	items, _ := raw.([]string)
	if len(items) == 0 {
		*(*sliceHeader)(p) = sliceHeader{}
		return nil
	}
	c := n.Value
	if c.op == opString {
		// A copy: the same read may be decoded twice (a model lock keeps
		// the value before and after), and neither may share the other's.
		s := append([]string(nil), items...)
		*(*[]string)(p) = s
		return nil
	}
	data := c.makeSlice(len(items))
	if err := decodeEach(n, items, func(i int, it string) error {
		return c.decodePrim(it, unsafe.Add(data, uintptr(i)*c.size))
	}); err != nil {
		return err
	}
	*(*sliceHeader)(p) = sliceHeader{data: data, len: len(items), cap: len(items)}
	return nil
}

func (primList) prefixEqual(n *Node, before, after unsafe.Pointer, k int) bool {
	b, a := (*sliceHeader)(before), (*sliceHeader)(after)
	switch {
	case (b.data == nil) != (a.data == nil):
		return false
	case b.data == a.data:
		return true
	}
	c := n.Value
	for i := range k {
		off := uintptr(i) * c.size
		if !c.equalPrim(unsafe.Add(b.data, off), unsafe.Add(a.data, off)) {
			return false
		}
	}
	return true
}

// encodeEach appends to dst the encodings of elements from..to-1 of list
// field n, element i encoded by enc: the one loop of both list paths.
func encodeEach(n *Node, dst []string, from, to int, enc func(i int) (string, error)) ([]string, error) {
	dst = slices.Grow(dst, to-from)
	for i := from; i < to; i++ {
		s, err := enc(i)
		if err != nil {
			return nil, errs.At(fmt.Sprintf("field %s[%d]", n.GoName, i-from), err)
		}
		dst = append(dst, s)
	}
	return dst, nil
}

// decodeEach decodes the stored items of list field n, item i by dec.
func decodeEach(n *Node, items []string, dec func(i int, it string) error) error {
	for i, it := range items {
		if err := dec(i, it); err != nil {
			return n.corrupt(errs.At(fmt.Sprintf("element %d", i), err))
		}
	}
	return nil
}

// reflectList is a list of Text or JSON elements, through reflect.
type reflectList struct{}

func (reflectList) compiled() bool { return false }

func (reflectList) appendElems(n *Node, dst []string, p unsafe.Pointer, from int) ([]string, error) {
	v := reflect.NewAt(n.Type, p).Elem()
	return encodeEach(n, dst, from, v.Len(), func(i int) (string, error) {
		return n.Value.Encode(v.Index(i))
	})
}

func (reflectList) decode(n *Node, raw any, p unsafe.Pointer) error {
	items, _ := raw.([]string)
	if len(items) == 0 {
		*(*sliceHeader)(p) = sliceHeader{}
		return nil
	}
	s := reflect.MakeSlice(n.Type, len(items), len(items))
	if err := decodeEach(n, items, func(i int, it string) error {
		return n.Value.Decode(it, s.Index(i))
	}); err != nil {
		return err
	}
	reflect.NewAt(n.Type, p).Elem().Set(s)
	return nil
}

func (reflectList) prefixEqual(n *Node, before, after unsafe.Pointer, k int) bool {
	b, a := reflect.NewAt(n.Type, before).Elem(), reflect.NewAt(n.Type, after).Elem()
	return reflect.DeepEqual(b.Slice(0, k).Interface(), a.Slice(0, k).Interface())
}

// hash accesses the value of a map or set node.
type hash interface {
	length(n *Node, p unsafe.Pointer) int
	appendElems(n *Node, dst []string, p unsafe.Pointer) ([]string, error)
	decode(n *Node, raw any, p unsafe.Pointer) error
	appendChanges(n *Node, set, del []string, before, after unsafe.Pointer) ([]string, []string, error)
	compiled() bool
}

// The map and set types cast to their concrete type: maps by key and
// element type, sets by member type.
var (
	compiledMaps = map[[2]reflect.Type]hash{}
	compiledSets = map[reflect.Type]hash{}
)

func init() {
	mapsWithKey[string]()
	mapsWithKey[int]()
	mapsWithKey[int64]()
	setOf[string]()
	setOf[int]()
	setOf[int8]()
	setOf[int16]()
	setOf[int32]()
	setOf[int64]()
	setOf[uint]()
	setOf[uint8]()
	setOf[uint16]()
	setOf[uint32]()
	setOf[uint64]()
}

func mapsWithKey[K comparable]() {
	mapOf[K, string]()
	mapOf[K, bool]()
	mapOf[K, int]()
	mapOf[K, int8]()
	mapOf[K, int16]()
	mapOf[K, int32]()
	mapOf[K, int64]()
	mapOf[K, uint]()
	mapOf[K, uint8]()
	mapOf[K, uint16]()
	mapOf[K, uint32]()
	mapOf[K, uint64]()
	mapOf[K, float32]()
	mapOf[K, float64]()
	mapOf[K, []byte]()
	mapOf[K, time.Time]()
	mapOf[K, time.Duration]()
}

func mapOf[K comparable, V any]() {
	compiledMaps[[2]reflect.Type{reflect.TypeFor[K](), reflect.TypeFor[V]()}] = compiledMap[K, V]{}
}

func setOf[K comparable]() { compiledSets[reflect.TypeFor[K]()] = compiledSet[K]{} }

// hashOf picks the access of a map type t, whose key and value codecs are
// key and value. The key and element types being exactly those of a
// compiled map[K]V, t is map[K]V or a named type of it.
func hashOf(t reflect.Type, kind NodeKind, key, value *Codec) hash {
	var h hash
	if kind == Set {
		if t.Elem() == reflect.TypeFor[struct{}]() {
			h = compiledSets[t.Key()]
		}
	} else {
		h = compiledMaps[[2]reflect.Type{t.Key(), t.Elem()}]
	}
	if h == nil || !key.Compiled() || !value.Compiled() {
		return reflectHash{}
	}
	return h
}

// compiledMap is a map of compiled keys and values, cast to map[K]V.
type compiledMap[K comparable, V any] struct{}

func (compiledMap[K, V]) compiled() bool { return true }

func (compiledMap[K, V]) length(_ *Node, p unsafe.Pointer) int { return len(*(*map[K]V)(p)) }

func (compiledMap[K, V]) appendElems(n *Node, dst []string, p unsafe.Pointer) ([]string, error) {
	m := *(*map[K]V)(p)
	dst = slices.Grow(dst, 2*len(m))
	for k, v := range m {
		ks, err := n.Key.encodePrim(unsafe.Pointer(&k))
		if err != nil {
			return nil, errs.At(fmt.Sprintf("field %s key", n.GoName), err)
		}
		vs, err := n.Value.encodePrim(unsafe.Pointer(&v))
		if err != nil {
			return nil, errs.At(fmt.Sprintf("field %s[%v]", n.GoName, k), err)
		}
		dst = append(dst, ks, vs)
	}
	return dst, nil
}

func (compiledMap[K, V]) decode(n *Node, raw any, p unsafe.Pointer) error {
	items, _ := raw.(map[string]string)
	if len(items) == 0 {
		*(*map[K]V)(p) = nil
		return nil
	}
	m := make(map[K]V, len(items))
	stringKeys := n.Key.op == opString
	for ks, vs := range items {
		var k K
		if stringKeys {
			*(*string)(unsafe.Pointer(&k)) = ks // K is string
		} else if err := n.Key.decodePrim(ks, unsafe.Pointer(&k)); err != nil {
			return n.corrupt(errs.At("key", err))
		}
		var v V
		if err := n.Value.decodePrim(vs, unsafe.Pointer(&v)); err != nil {
			return n.corrupt(errs.At(fmt.Sprintf("value of %q", ks), err))
		}
		m[k] = v
	}
	*(*map[K]V)(p) = m
	return nil
}

func (compiledMap[K, V]) appendChanges(n *Node, set, del []string, before, after unsafe.Pointer) ([]string, []string, error) {
	bm, am := *(*map[K]V)(before), *(*map[K]V)(after)
	for k, v := range am {
		if old, ok := bm[k]; ok && n.Value.equalPrim(unsafe.Pointer(&old), unsafe.Pointer(&v)) {
			continue
		}
		ks, err := n.Key.encodePrim(unsafe.Pointer(&k))
		if err != nil {
			return nil, nil, errs.At(fmt.Sprintf("field %s key", n.GoName), err)
		}
		vs, err := n.Value.encodePrim(unsafe.Pointer(&v))
		if err != nil {
			return nil, nil, errs.At(fmt.Sprintf("field %s", n.GoName), err)
		}
		set = append(set, ks, vs)
	}
	del, err := appendGone(n, del, bm, am)
	return set, del, err
}

// appendGone appends to del the encoded keys of bm that am lacks: the
// members or keys a compiled set or map lost.
func appendGone[K comparable, V any](n *Node, del []string, bm, am map[K]V) ([]string, error) {
	for k := range bm {
		if _, ok := am[k]; !ok {
			ks, err := n.Key.encodePrim(unsafe.Pointer(&k))
			if err != nil {
				return nil, errs.At(fmt.Sprintf("field %s key", n.GoName), err)
			}
			del = append(del, ks)
		}
	}
	return del, nil
}

// compiledSet is a set of compiled members, cast to map[K]struct{}.
type compiledSet[K comparable] struct{}

func (compiledSet[K]) compiled() bool { return true }

func (compiledSet[K]) length(_ *Node, p unsafe.Pointer) int { return len(*(*map[K]struct{})(p)) }

func (compiledSet[K]) appendElems(n *Node, dst []string, p unsafe.Pointer) ([]string, error) {
	m := *(*map[K]struct{})(p)
	dst = slices.Grow(dst, len(m))
	for k := range m {
		ks, err := n.Key.encodePrim(unsafe.Pointer(&k))
		if err != nil {
			return nil, errs.At(fmt.Sprintf("field %s key", n.GoName), err)
		}
		dst = append(dst, ks)
	}
	return dst, nil
}

func (compiledSet[K]) decode(n *Node, raw any, p unsafe.Pointer) error {
	items, _ := raw.([]string)
	if len(items) == 0 {
		*(*map[K]struct{})(p) = nil
		return nil
	}
	m := make(map[K]struct{}, len(items))
	for _, it := range items {
		var k K
		if err := n.Key.decodePrim(it, unsafe.Pointer(&k)); err != nil {
			return n.corrupt(errs.At("member", err))
		}
		m[k] = struct{}{}
	}
	*(*map[K]struct{})(p) = m
	return nil
}

func (compiledSet[K]) appendChanges(n *Node, set, del []string, before, after unsafe.Pointer) ([]string, []string, error) {
	bm, am := *(*map[K]struct{})(before), *(*map[K]struct{})(after)
	for k := range am {
		if _, ok := bm[k]; ok {
			continue
		}
		ks, err := n.Key.encodePrim(unsafe.Pointer(&k))
		if err != nil {
			return nil, nil, errs.At(fmt.Sprintf("field %s key", n.GoName), err)
		}
		set = append(set, ks)
	}
	del, err := appendGone(n, del, bm, am)
	return set, del, err
}

// reflectHash is any other map or set, through reflect.
type reflectHash struct{}

func (reflectHash) compiled() bool { return false }

func (reflectHash) length(n *Node, p unsafe.Pointer) int {
	return reflect.NewAt(n.Type, p).Elem().Len()
}

func (reflectHash) appendElems(n *Node, dst []string, p unsafe.Pointer) ([]string, error) {
	v := reflect.NewAt(n.Type, p).Elem()
	dst = slices.Grow(dst, 2*v.Len())
	it := v.MapRange()
	for it.Next() {
		k, err := n.Key.Encode(it.Key())
		if err != nil {
			return nil, errs.At(fmt.Sprintf("field %s key", n.GoName), err)
		}
		dst = append(dst, k)
		if n.Kind == Map {
			s, err := n.Value.Encode(it.Value())
			if err != nil {
				return nil, errs.At(fmt.Sprintf("field %s[%v]", n.GoName, it.Key()), err)
			}
			dst = append(dst, s)
		}
	}
	return dst, nil
}

func (reflectHash) decode(n *Node, raw any, p unsafe.Pointer) error {
	fv := reflect.NewAt(n.Type, p).Elem()
	switch n.Kind {
	case Set:
		items, _ := raw.([]string)
		if len(items) == 0 {
			fv.SetZero()
			return nil
		}
		m := reflect.MakeMapWithSize(n.Type, len(items))
		unit := reflect.New(n.Type.Elem()).Elem()
		k := reflect.New(n.Type.Key()).Elem()
		for _, it := range items {
			if err := n.Key.Decode(it, k); err != nil {
				return n.corrupt(errs.At("member", err))
			}
			m.SetMapIndex(k, unit)
		}
		fv.Set(m)
	default:
		items, _ := raw.(map[string]string)
		if len(items) == 0 {
			fv.SetZero()
			return nil
		}
		m := reflect.MakeMapWithSize(n.Type, len(items))
		k := reflect.New(n.Type.Key()).Elem()
		val := reflect.New(n.Type.Elem()).Elem()
		for ks, vs := range items {
			if err := n.Key.Decode(ks, k); err != nil {
				return n.corrupt(errs.At("key", err))
			}
			val.SetZero()
			if err := n.Value.Decode(vs, val); err != nil {
				return n.corrupt(errs.At(fmt.Sprintf("value of %q", ks), err))
			}
			m.SetMapIndex(k, val)
		}
		fv.Set(m)
	}
	return nil
}

func (reflectHash) appendChanges(n *Node, set, del []string, before, after unsafe.Pointer) ([]string, []string, error) {
	bv, av := reflect.NewAt(n.Type, before).Elem(), reflect.NewAt(n.Type, after).Elem()
	it := av.MapRange()
	for it.Next() {
		old := bv.MapIndex(it.Key())
		if old.IsValid() && (n.Kind == Set || reflect.DeepEqual(old.Interface(), it.Value().Interface())) {
			continue
		}
		k, err := n.Key.Encode(it.Key())
		if err != nil {
			return nil, nil, errs.At(fmt.Sprintf("field %s key", n.GoName), err)
		}
		set = append(set, k)
		if n.Kind == Map {
			s, err := n.Value.Encode(it.Value())
			if err != nil {
				return nil, nil, errs.At(fmt.Sprintf("field %s", n.GoName), err)
			}
			set = append(set, s)
		}
	}
	it = bv.MapRange()
	for it.Next() {
		if !av.MapIndex(it.Key()).IsValid() {
			k, err := n.Key.Encode(it.Key())
			if err != nil {
				return nil, nil, errs.At(fmt.Sprintf("field %s key", n.GoName), err)
			}
			del = append(del, k)
		}
	}
	return set, del, nil
}
