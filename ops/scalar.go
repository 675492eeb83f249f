package ops

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

// Set replaces the value of a field: a scalar, a whole list, map or set, or a
// nested struct with everything in it. A nil pointer removes the field.
// Server cost: O(1) for a scalar; for a collection, freeing the old one
// (DEL) and the elements sent.
func Set[S, A any](f lens.Field[S, A], v A) Op {
	fd := resolve(f)
	if fd.node != nil && fd.node.Type != reflect.TypeFor[A]() {
		// A lens guarantees it; compile relies on it to pass &v as an
		// unsafe.Pointer to the codec.
		fd.err = fmt.Errorf("%w: %s is a %s, not a %s", errs.Invalid, f, fd.node.Type, reflect.TypeFor[A]())
	}
	return &setOp[S, A]{f: fd, v: v}
}

type setOp[S, A any] struct {
	f field
	v A
}

func (o *setOp[S, A]) String() string { return describe("Set", o.f.path(), shorten(o.v)) }

func (o *setOp[S, A]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.f.write(b, t); err != nil {
		return err
	}
	n := o.f.node
	p := unsafe.Pointer(&o.v) // an n.Type: Set checked it
	if n.Kind == schema.Scalar {
		if n.Ptr {
			if p = *(*unsafe.Pointer)(p); p == nil {
				b.HDel(t.Root, n.Name)
				return nil
			}
		}
		s, err := n.Value.EncodeAt(p)
		if err != nil {
			return err
		}
		b.HSet(t.Root, n.Name, s)
		return nil
	}
	return codec.EmitNode(b, t, n, p)
}

func shorten(v any) any {
	// The common kinds need no formatting to know their length.
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			return x[:40] + "..."
		}
		return v
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, bool:
		return v // at most 24 characters
	}
	// A pointer shows what it points at, not an address.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		v = rv.Elem().Interface()
	}
	s := fmt.Sprint(v)
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return v
}

// bounds are the smallest and largest values of an integer or float field,
// as text, for the server's range checks; made once per kind and size.
func bounds(c *schema.Codec) (lo, hi string) {
	if b, ok := boundsOf[boundsKey{c.Kind, c.Bits}]; ok {
		return b[0], b[1]
	}
	return makeBounds(c)
}

type boundsKey struct {
	kind schema.ScalarKind
	bits int
}

var boundsOf = func() map[boundsKey][2]string {
	m := map[boundsKey][2]string{}
	for _, k := range []schema.ScalarKind{schema.Int, schema.Uint, schema.Float} {
		for _, bits := range []int{8, 16, 32, 64} {
			lo, hi := makeBounds(&schema.Codec{Kind: k, Bits: bits})
			m[boundsKey{k, bits}] = [2]string{lo, hi}
		}
	}
	return m
}()

func makeBounds(c *schema.Codec) (lo, hi string) {
	switch c.Kind {
	case schema.Int:
		return strconv.FormatInt(-1<<(c.Bits-1), 10), strconv.FormatInt(1<<(c.Bits-1)-1, 10)
	case schema.Uint:
		if c.Bits == 64 {
			return "0", strconv.FormatInt(math.MaxInt64, 10) // HINCRBY works on int64
		}
		return "0", strconv.FormatUint(1<<c.Bits-1, 10)
	case schema.Float:
		if c.Bits == 32 {
			return "0", schema.FormatFloat(math.MaxFloat32, 64)
		}
		return "0", schema.FormatFloat(math.MaxFloat64, 64)
	}
	return "0", "0"
}

// number is the shared part of the arithmetic ops.
type number[S any, N Number] struct {
	f       field
	name    string // the op's name for String
	fn      string // "" for an increment (Incr, Decr); else the function of Arith: mul floordiv div mod pow max min
	operand N
	negate  bool
}

func (o *number[S, N]) String() string { return describe(o.name, o.f.path(), o.operand) }

func (o *number[S, N]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.f.write(b, t); err != nil {
		return err
	}
	c := o.f.node.Value
	x, err := c.EncodeAny(o.operand)
	if err != nil {
		return err
	}
	if c.Kind == schema.Float {
		if f, _ := strconv.ParseFloat(x, 64); math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("%w: %s: the operand must be finite", errs.Invalid, o)
		}
	}
	if o.negate {
		if x, err = negate(c, x); err != nil {
			return errs.At(o.String(), err)
		}
	}
	lo, hi := bounds(c)
	root, field := t.Root, o.f.node.Name
	switch {
	case o.fn == "" && c.Kind == schema.Float:
		b.IncrFloat(root, field, x, hi)
	case o.fn == "":
		if c.Kind == schema.Uint {
			if u, _ := strconv.ParseUint(x, 10, 64); u > math.MaxInt64 {
				return fmt.Errorf("%w: %s: HINCRBY takes steps up to 2^63-1", errs.Overflow, o)
			}
		}
		b.Incr(root, field, x, lo, hi)
	default:
		kind := "int"
		if c.Kind == schema.Float {
			kind = "float"
		}
		b.Arith(root, field, o.fn, kind, lo, hi, x)
	}
	return nil
}

func negate(c *schema.Codec, x string) (string, error) {
	switch c.Kind {
	case schema.Int:
		n, _ := strconv.ParseInt(x, 10, 64)
		if n == math.MinInt64 {
			return "", fmt.Errorf("%w: %s has no negative in int64", errs.Overflow, x)
		}
		return strconv.FormatInt(-n, 10), nil
	case schema.Uint:
		u, _ := strconv.ParseUint(x, 10, 64)
		if u > math.MaxInt64 {
			return "", fmt.Errorf("%w: a step down by %s is over 2^63-1", errs.Overflow, x)
		}
		if u == 0 {
			return "0", nil
		}
		return "-" + x, nil
	}
	f, _ := strconv.ParseFloat(x, 64)
	return schema.FormatFloat(-f, 64), nil
}

func arith[S any, N Number](name, fn string, f lens.Field[S, N], x N, neg bool) *Yield[N] {
	fd := resolve(f, schema.Scalar)
	if fd.err == nil && (!fd.node.Value.Kind.Numeric() || fd.node.Ptr) {
		fd.err = fmt.Errorf("%w: %s is not a number field", errs.Invalid, f)
	}
	o := &number[S, N]{f: fd, name: name, fn: fn, operand: x, negate: neg}
	var c *schema.Codec
	if fd.node != nil {
		c = fd.node.Value
	}
	return &Yield[N]{inner: o, decode: func(raw any) (N, error) {
		if c == nil {
			var zero N
			return zero, fd.err
		}
		return decoder[N](c)(raw)
	}}
}

// Incr adds by to a number field on the server (HINCRBY for integers,
// HSET of the sum for floats) and yields the new value. A result out of the
// field type's range fails the batch with rapyer.ErrOverflow before anything is
// written. Server cost: O(1), as for every arithmetic op.
//
// Floats (Incr, Decr, Mul, Div, FloorDiv, Mod, Pow, Max, Min) are computed
// as Go computes them: in float64, and on a float32 field in float32 (+, -,
// * and / exactly as Go's float32 arithmetic; FloorDiv, Mod and Pow as
// float32 of the float64 result, as with Go's math; Max and Min as
// math.Max and math.Min). A field holding +Inf, -Inf or NaN (which a Save
// of such a value stores) takes part as in Go: a finite result within the
// type is stored (Min of +Inf and 3 is 3), and a result that is not finite
// (+Inf+1, NaN*2) fails with rapyer.ErrOverflow, as every result leaving
// the float range does, nothing written. rapyer.ErrCorrupt is for a stored
// text no Save writes ("abc"). The sign of a zero result is not kept
// everywhere.
func Incr[S any, N Number](f lens.Field[S, N], by N) *Yield[N] {
	return arith("Incr", "", f, by, false)
}

// Decr subtracts by from a number field on the server and yields the new value.
func Decr[S any, N Number](f lens.Field[S, N], by N) *Yield[N] {
	return arith("Decr", "", f, by, true)
}

// Mul multiplies a number field by x on the server and yields the new value.
// Integer results are exact within +-2^53; beyond, the batch fails with
// rapyer.ErrOverflow.
func Mul[S any, N Number](f lens.Field[S, N], x N) *Yield[N] {
	return arith("Mul", "mul", f, x, false)
}

// FloorDiv divides a number field by x, rounding toward negative infinity as
// Python's // does, and yields the new value. Division by zero fails the batch.
func FloorDiv[S any, N Number](f lens.Field[S, N], x N) *Yield[N] {
	return arith("FloorDiv", "floordiv", f, x, false)
}

// Mod replaces a number field by its remainder modulo x, with the sign of x
// as Python's % has, and yields the new value.
func Mod[S any, N Number](f lens.Field[S, N], x N) *Yield[N] {
	return arith("Mod", "mod", f, x, false)
}

// Pow raises a number field to the power x and yields the new value. A
// negative exponent on an integer field fails the batch.
func Pow[S any, N Number](f lens.Field[S, N], x N) *Yield[N] {
	return arith("Pow", "pow", f, x, false)
}

// Max keeps the larger of the field and x and yields the result: a high
// score that only goes up.
func Max[S any, N Number](f lens.Field[S, N], x N) *Yield[N] {
	return arith("Max", "max", f, x, false)
}

// Min keeps the smaller of the field and x and yields the result.
func Min[S any, N Number](f lens.Field[S, N], x N) *Yield[N] {
	return arith("Min", "min", f, x, false)
}

// Text is every string-like type.
type Text interface{ ~string | ~[]byte }

type textOp[S any, T Text] struct {
	f     field
	name  string
	emit  func(b *prog.Builder, root, field, arg string) // AppendText or RepeatText
	arg   string
	shown any
}

func (o *textOp[S, T]) String() string { return describe(o.name, o.f.path(), o.shown) }

func (o *textOp[S, T]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.f.write(b, t); err != nil {
		return err
	}
	o.emit(b, t.Root, o.f.node.Name, o.arg)
	return nil
}

func textYield[S any, T Text](o *textOp[S, T]) *Yield[T] {
	return &Yield[T]{inner: o, decode: func(raw any) (T, error) {
		s, _ := raw.(string)
		return T(s), nil
	}}
}

// AppendText appends s to a string or bytes field on the server and yields
// the new text. Server cost: O(m + len(s)) for a field of m bytes: the server
// reads the field, makes the new text, stores it and sends it back. The new
// text's m + len(s) bytes count against the batch's byte budget
// (tx.Budget.Bytes, 2 MiB by default); over it, or past 512 MB, the batch
// fails with rapyer.ErrTooLarge before anything is written.
func AppendText[S any, T Text](f lens.Field[S, T], s T) *Yield[T] {
	fd := resolve(f, schema.Scalar)
	return textYield(&textOp[S, T]{f: fd, name: "AppendText", emit: (*prog.Builder).AppendText, arg: string(s), shown: shorten(string(s))})
}

// Repeat replaces a string or bytes field with n copies of itself and
// yields the new text. Server cost: O(m*n) for a field of m bytes, the size
// of the result, which counts against the batch's byte budget
// (tx.Budget.Bytes, 2 MiB by default); over it, or past 512 MB whatever the
// budget, the batch fails with rapyer.ErrTooLarge before anything is written. An
// empty field or n = 0 costs nothing.
func Repeat[S any, T Text](f lens.Field[S, T], n int) *Yield[T] {
	fd := resolve(f, schema.Scalar)
	if n < 0 && fd.err == nil {
		fd.err = fmt.Errorf("%w: a negative count %d", errs.Invalid, n)
	}
	return textYield(&textOp[S, T]{f: fd, name: "Repeat", emit: (*prog.Builder).RepeatText, arg: strconv.Itoa(n), shown: n})
}

type timeOp[S any] struct {
	f field
	d time.Duration
}

func (o *timeOp[S]) String() string { return describe("AddDuration", o.f.path(), o.d) }

func (o *timeOp[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.f.write(b, t); err != nil {
		return err
	}
	secs, nanos := int64(o.d/time.Second), int64(o.d%time.Second)
	b.AddTime(t.Root, o.f.node.Name, strconv.FormatInt(secs, 10), strconv.FormatInt(nanos, 10))
	return nil
}

// AddDuration moves a time field by d on the server, keeping its nanoseconds
// and its zone offset, and yields the new time. An absent field counts as the
// zero time. Server cost: O(1).
func AddDuration[S any](f lens.Field[S, time.Time], d time.Duration) *Yield[time.Time] {
	fd := resolve(f, schema.Scalar)
	return &Yield[time.Time]{inner: &timeOp[S]{f: fd, d: d}, decode: func(raw any) (time.Time, error) {
		s, _ := raw.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return t, fmt.Errorf("%w: %v", errs.Corrupt, err)
		}
		return t, nil
	}}
}
