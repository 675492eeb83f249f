package ops

import (
	"fmt"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// Yield is an op that yields a value of type A when its batch runs: the new
// value of a counter, the length of a list, whether a set holds a member.
type Yield[A any] struct {
	inner  Op
	decode func(raw any) (A, error)
	none   bool // the op was given nothing to do: it yields the zero A
}

// String describes the op.
func (y *Yield[A]) String() string {
	if y == nil || y.inner == nil {
		return "<nil op>"
	}
	return y.inner.String()
}

// Compile emits the op's instructions (Op; the builder is internal).
func (y *Yield[A]) Compile(b *prog.Builder, t prog.Target) error {
	if y == nil || y.inner == nil {
		return errNilOp
	}
	return y.inner.Compile(b, t)
}

// Result returns what the op yielded in the batch whose replies r holds.
func (y *Yield[A]) Result(r Replies) (A, error) {
	var zero A
	if y == nil || y.inner == nil {
		return zero, errNilOp
	}
	raw, ok := reply(r, y)
	if !ok && y.none {
		return zero, nil
	}
	if !ok {
		return zero, fmt.Errorf("%w: %s was not part of that batch, or the batch did not run", errs.Invalid, y)
	}
	if raw == NotKept {
		return zero, notKeptError(y)
	}
	return y.decode(raw)
}

// errNilOp is the error of a nil *Yield, *Maybe or *Pair, or of one not
// made by a constructor of this package: a variable declared and never
// given an op.
var errNilOp = fmt.Errorf("%w: a nil op (a *ops.Yield, *ops.Maybe or *ops.Pair not made by an ops constructor)", errs.Invalid)

// Maybe is an op that may yield a value: a pop, which finds nothing in an
// empty list, or a lookup of a missing map key.
type Maybe[A any] struct {
	inner  Op
	decode func(raw any) (A, error)
	absent A // returned when nothing was found
}

// String describes the op.
func (m *Maybe[A]) String() string {
	if m == nil || m.inner == nil {
		return "<nil op>"
	}
	return m.inner.String()
}

// Compile emits the op's instructions (Op; the builder is internal).
func (m *Maybe[A]) Compile(b *prog.Builder, t prog.Target) error {
	if m == nil || m.inner == nil {
		return errNilOp
	}
	return m.inner.Compile(b, t)
}

// Result returns the value and true, or the op's default and false when there
// was nothing to take.
func (m *Maybe[A]) Result(r Replies) (A, bool, error) {
	if m == nil || m.inner == nil {
		var zero A
		return zero, false, errNilOp
	}
	raw, ok := reply(r, m)
	if !ok {
		return m.absent, false, fmt.Errorf("%w: %s was not part of that batch, or the batch did not run", errs.Invalid, m)
	}
	if raw == NotKept {
		return m.absent, false, notKeptError(m)
	}
	if raw == nil {
		return m.absent, false, nil
	}
	v, err := m.decode(raw)
	return v, err == nil, err
}

// Pair is an op that yields a key and a value: popping any item of a map.
type Pair[K, V any] struct {
	inner Op
	key   func(raw any) (K, error)
	value func(raw any) (V, error)
}

// String describes the op.
func (p *Pair[K, V]) String() string {
	if p == nil || p.inner == nil {
		return "<nil op>"
	}
	return p.inner.String()
}

// Compile emits the op's instructions (Op; the builder is internal).
func (p *Pair[K, V]) Compile(b *prog.Builder, t prog.Target) error {
	if p == nil || p.inner == nil {
		return errNilOp
	}
	return p.inner.Compile(b, t)
}

// Result returns the key and value taken; an empty map gives an error
// wrapping rapyer.ErrEmpty.
func (p *Pair[K, V]) Result(r Replies) (K, V, error) {
	var k K
	var v V
	if p == nil || p.inner == nil {
		return k, v, errNilOp
	}
	raw, ok := reply(r, p)
	if !ok {
		return k, v, fmt.Errorf("%w: %s was not part of that batch, or the batch did not run", errs.Invalid, p)
	}
	if raw == NotKept {
		return k, v, notKeptError(p)
	}
	kv, _ := raw.([]any)
	if len(kv) != 2 {
		return k, v, fmt.Errorf("%w: %s: the map was empty", errs.Empty, p)
	}
	k, err := p.key(kv[0])
	if err != nil {
		return k, v, err
	}
	v, err = p.value(kv[1])
	return k, v, err
}

// NotKept is the raw reply of every op of a batch whose results were not
// kept (see rapyer.ErrResultsNotKept); Replies implementations return it.
var NotKept any = notKept{}

type notKept struct{}

func notKeptError(op Op) error {
	return fmt.Errorf("%w: %s: the batch was applied once, and its results were too large for its record", errs.ResultsNotKept, op)
}

// decoder returns a function reading raw replies into A with codec c.
func decoder[A any](c *schema.Codec) func(any) (A, error) {
	return func(raw any) (A, error) {
		var a A
		s, ok := raw.(string)
		if !ok {
			if n, isInt := raw.(int64); isInt {
				s = strconv.FormatInt(n, 10)
			} else {
				return a, fmt.Errorf("%w: unexpected reply %v", errs.Corrupt, raw)
			}
		}
		if c.Type != reflect.TypeFor[A]() {
			// Never: lenses tie A to the field's type. DecodeAt writes
			// through &a, so make sure.
			return a, fmt.Errorf("%w: a %s reply read as a %s", errs.Invalid, c.Type, reflect.TypeFor[A]())
		}
		err := c.DecodeAt(s, unsafe.Pointer(&a))
		return a, err
	}
}

// intCodec reads integer replies (counts, lengths, flags): a compiled int
// codec that parses 64 bits on every platform, as it always did.
var intCodec = func() *schema.Codec {
	c, err := schema.ScalarCodec(reflect.TypeFor[int]())
	if err != nil {
		panic(err)
	}
	c.Bits = 64
	return c
}()

func decodeInt(raw any) (int, error) { return decoder[int](intCodec)(raw) }

func decodeBool(raw any) (bool, error) {
	n, err := decodeInt(raw)
	return n == 1, err
}

// reply is r.Reply(o), and no reply when r is nil (the Result of a batch
// that failed, passed on unchecked), so that the Result methods return
// rapyer.ErrInvalid for it instead of dereferencing nil.
func reply(r Replies, o Op) (any, bool) {
	if r == nil {
		return nil, false
	}
	return r.Reply(o)
}
