package schema

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// ScalarKind says how a scalar is written as Redis text.
type ScalarKind int

// The scalar encodings. Int and Uint are base-10 text, so HINCRBY works on them;
// Float is shortest round-trip text, which the server's arithmetic reads; Time is RFC 3339 with
// nanoseconds and the zone offset; Text uses the type's own MarshalText; JSON is
// used for collection elements that are structs, slices or maps.
const (
	String ScalarKind = iota + 1
	Bool
	Int
	Uint
	Float
	Bytes
	Time
	Text
	JSON
)

var kindNames = map[ScalarKind]string{
	String: "string", Bool: "bool", Int: "int", Uint: "uint", Float: "float",
	Bytes: "bytes", Time: "time", Text: "text", JSON: "json",
}

// String names the encoding: "int", "json", ...
func (k ScalarKind) String() string { return kindNames[k] }

// Numeric reports whether the server can do arithmetic on values of this kind.
func (k ScalarKind) Numeric() bool { return k == Int || k == Uint || k == Float }

// Codec turns values of one Go type into Redis text and back.
type Codec struct {
	Kind ScalarKind
	Type reflect.Type
	// Bits is the size of integer and float kinds (8..64), 0 otherwise.
	Bits int
	// op is the underlying Go type EncodeAt and DecodeAt cast values to,
	// or opReflect; size is Type.Size(). Both are set by ScalarCodec and
	// ElemCodec: a Codec written as a literal goes through reflect.
	op   op
	size uintptr
}

var (
	timeType            = reflect.TypeOf(time.Time{})
	textMarshalerType   = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// ScalarCodec returns the codec of a scalar type, or an error wrapping
// errs.Unsupported when t is not one. Its EncodeAt and DecodeAt are compiled
// for t's underlying type (see access.go).
func ScalarCodec(t reflect.Type) (*Codec, error) {
	c, err := scalarCodec(t)
	if err != nil {
		return nil, err
	}
	c.compile()
	return c, nil
}

func scalarCodec(t reflect.Type) (*Codec, error) {
	switch {
	case t == timeType:
		return &Codec{Kind: Time, Type: t}, nil
	case t.Implements(textMarshalerType) && reflect.PointerTo(t).Implements(textUnmarshalerType):
		return &Codec{Kind: Text, Type: t}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return &Codec{Kind: String, Type: t}, nil
	case reflect.Bool:
		return &Codec{Kind: Bool, Type: t}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &Codec{Kind: Int, Type: t, Bits: t.Bits()}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &Codec{Kind: Uint, Type: t, Bits: t.Bits()}, nil
	case reflect.Float32, reflect.Float64:
		return &Codec{Kind: Float, Type: t, Bits: t.Bits()}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Codec{Kind: Bytes, Type: t}, nil
		}
	}
	return nil, fmt.Errorf("%w: %s is not a scalar", errs.Unsupported, t)
}

// ElemCodec returns the codec of a collection element: a scalar, or JSON for
// structs, slices, arrays, maps and pointers to structs (whose EncodeAt and
// DecodeAt go through reflect and encoding/json).
func ElemCodec(t reflect.Type) (*Codec, error) {
	if c, err := ScalarCodec(t); err == nil {
		return c, nil
	}
	base := t
	if base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	switch base.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array, reflect.Map:
		if err := jsonable(base, map[reflect.Type]bool{}); err != nil {
			return nil, err
		}
		c := &Codec{Kind: JSON, Type: t}
		c.compile()
		return c, nil
	}
	return nil, fmt.Errorf("%w: %s cannot be a collection element", errs.Unsupported, t)
}

// jsonable refuses types encoding/json cannot round-trip (chan, func, complex, interface).
func jsonable(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t.Implements(textMarshalerType) || t.Implements(reflect.TypeOf((*json.Marshaler)(nil)).Elem()) {
		return nil
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.Interface, reflect.UnsafePointer, reflect.Uintptr:
		return fmt.Errorf("%w: %s inside a JSON element", errs.Unsupported, t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return jsonable(t.Elem(), seen)
	case reflect.Map:
		if err := jsonKey(t.Key()); err != nil {
			return err
		}
		return jsonable(t.Elem(), seen)
	case reflect.Struct:
		if err := jsonNames(t, map[string]string{}, ""); err != nil {
			return err
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if f.IsExported() && f.Tag.Get("json") != "-" {
				if err := jsonable(f.Type, seen); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonKey refuses map keys encoding/json cannot write or read back: it
// takes strings, integers and text-marshalled types only.
func jsonKey(t reflect.Type) error {
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return nil
	}
	if t.Implements(textMarshalerType) && reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	return fmt.Errorf("%w: %s cannot be the key of a map inside a JSON element", errs.Unsupported, t)
}

// jsonNames refuses a struct whose JSON loses values with no error: two
// fields of one JSON name (encoding/json drops both, or the deeper one),
// promoted fields of embedded structs included, or fields none of which is
// exported. names maps each JSON name met to its Go field, for messages.
func jsonNames(t reflect.Type, names map[string]string, in string) error {
	visible := t.NumField() == 0
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		base := f.Type
		if base.Kind() == reflect.Pointer {
			base = base.Elem()
		}
		if f.Anonymous && tag == "" && base.Kind() == reflect.Struct && (f.IsExported() || f.Type.Kind() != reflect.Pointer) {
			if err := jsonNames(base, names, in+f.Name+"."); err != nil {
				return err
			}
			visible = true
			continue
		}
		if !f.IsExported() || f.Tag.Get("json") == "-" {
			continue
		}
		visible = true
		if tag == "" {
			tag = f.Name
		}
		if other, dup := names[tag]; dup {
			return fmt.Errorf("%w: %s inside a JSON element: fields %s and %s are both named %q in JSON, which drops them", errs.Unsupported, t, other, in+f.Name, tag)
		}
		names[tag] = in + f.Name
	}
	if !visible {
		return fmt.Errorf("%w: %s inside a JSON element has no exported field", errs.Unsupported, t)
	}
	return nil
}

// Encode writes v (a value of c.Type) as Redis text, at most MaxValue
// bytes of it.
func (c *Codec) Encode(v reflect.Value) (string, error) {
	s, err := c.encode(v)
	if len(s) > MaxValue {
		return "", tooLarge(len(s))
	}
	return s, err
}

func (c *Codec) encode(v reflect.Value) (string, error) {
	switch c.Kind {
	case String:
		return v.String(), nil
	case Bool:
		if v.Bool() {
			return "true", nil
		}
		return "false", nil
	case Int:
		return strconv.FormatInt(v.Int(), 10), nil
	case Uint:
		return strconv.FormatUint(v.Uint(), 10), nil
	case Float:
		return FormatFloat(v.Float(), c.Bits), nil
	case Bytes:
		return string(v.Bytes()), nil
	case Time:
		return encodeTime(v.Interface().(time.Time))
	case Text:
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return "", fmt.Errorf("%w: %s: %v", errs.Invalid, c.Type, err)
		}
		return string(b), nil
	case JSON:
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return "", fmt.Errorf("%w: %s: %v", errs.Invalid, c.Type, err)
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD: refuse what would
		// not come back as it went in.
		if bytes.Contains(b, []byte(`\ufffd`)) || bytes.Contains(b, []byte("\uFFFD")) {
			if bad := invalidUTF8(v); bad != "" {
				return "", fmt.Errorf("%w: %s: the string %q is not UTF-8, which a JSON element cannot hold", errs.Invalid, c.Type, clip(bad))
			}
		}
		return string(b), nil
	}
	return "", fmt.Errorf("%w: %s", errs.Unsupported, c.Type)
}

// invalidUTF8 returns the first string inside v that is not valid UTF-8.
func invalidUTF8(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return v.String()
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return invalidUTF8(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				if s := invalidUTF8(v.Field(i)); s != "" {
					return s
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return ""
		}
		for i := range v.Len() {
			if s := invalidUTF8(v.Index(i)); s != "" {
				return s
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if s := invalidUTF8(it.Key()); s != "" {
				return s
			}
			if s := invalidUTF8(it.Value()); s != "" {
				return s
			}
		}
	}
	return ""
}

// encodeTime writes t as RFC 3339 with nanoseconds. That text holds an
// offset only in whole minutes under 24 hours, so a time in any other offset
// (local mean time of old dates, a fixed zone of odd seconds) is written in
// UTC: the instant survives, the offset cannot. It holds years 0000 to 9999
// only; any other year is refused rather than written as text that does not
// read back.
func encodeTime(t time.Time) (string, error) {
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		t = t.UTC()
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("%w: %s: year %d is outside 0000..9999, the years RFC 3339 can write", errs.Invalid, timeType, y)
	}
	return t.Format(time.RFC3339Nano), nil
}

// FormatFloat writes f as the shortest text that reads back as the same
// float of the given size; infinities and NaN as "inf", "-inf" and "nan".
func FormatFloat(f float64, bits int) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// Decode reads s into v, which must be settable and of type c.Type. A value
// that does not parse gives an error wrapping errs.Corrupt.
func (c *Codec) Decode(s string, v reflect.Value) error {
	bad := func(err error) error { return c.corrupt(s, err) }
	switch c.Kind {
	case String:
		v.SetString(s)
	case Bool:
		switch s {
		case "true", "1":
			v.SetBool(true)
		case "false", "0":
			v.SetBool(false)
		default:
			return bad(strconv.ErrSyntax)
		}
	case Int:
		n, err := strconv.ParseInt(s, 10, c.Bits)
		if err != nil {
			return bad(err)
		}
		v.SetInt(n)
	case Uint:
		n, err := strconv.ParseUint(s, 10, c.Bits)
		if err != nil {
			return bad(err)
		}
		v.SetUint(n)
	case Float:
		f, err := strconv.ParseFloat(s, c.Bits)
		if err != nil {
			return bad(err)
		}
		v.SetFloat(f)
	case Bytes:
		// SetBytes, not reflect.Copy: the element may be a named byte type.
		v.SetBytes([]byte(s))
	case Time:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad(err)
		}
		v.Set(reflect.ValueOf(t))
	case Text:
		p := reflect.New(c.Type)
		if err := userDecode(func() error { return p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)) }); err != nil {
			return bad(err)
		}
		v.Set(p.Elem())
	case JSON:
		p := reflect.New(c.Type)
		if err := userDecode(func() error { return json.Unmarshal([]byte(s), p.Interface()) }); err != nil {
			return bad(err)
		}
		v.Set(p.Elem())
	default:
		return fmt.Errorf("%w: %s", errs.Unsupported, c.Type)
	}
	return nil
}

// userDecode runs f, a decoding that may call the user's own methods
// (UnmarshalText, UnmarshalJSON), and gives a panic of theirs as an error:
// no panic reaches the caller from data in Redis (DESIGN 12), so a stored
// value that makes such a method panic reads as corrupt.
func userDecode(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("its decoding panicked: %v", r)
		}
	}()
	return f()
}

// corrupt is the error of a stored text s that does not parse as c.Type.
func (c *Codec) corrupt(s string, err error) error {
	// Causes tend to quote the whole value again; keep messages short
	// however big the stored value is.
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		err = ne.Err
	}
	cause := err.Error()
	if len(cause) > 200 {
		cause = cause[:200] + "..."
	}
	return fmt.Errorf("%w: %q is not a valid %s: %s", errs.Corrupt, clip(s), c.Type, cause)
}

// EncodeAny encodes a value of c.Type given as an interface, with fast paths
// for the common types that avoid reflection.
func (c *Codec) EncodeAny(x any) (string, error) {
	if c.Type.PkgPath() == "" { // only unnamed types take the fast path
		switch v := x.(type) {
		case string:
			return v, nil
		case int:
			return strconv.Itoa(v), nil
		case int64:
			return strconv.FormatInt(v, 10), nil
		case float64:
			return FormatFloat(v, 64), nil
		case []byte:
			return string(v), nil
		case bool:
			if v {
				return "true", nil
			}
			return "false", nil
		}
	}
	return c.Encode(reflect.ValueOf(x))
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
