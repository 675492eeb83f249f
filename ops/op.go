package ops

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

// Op is an operation on a model: an immutable value that renders to
// instructions of the batch interpreter when a batch runs. Only the
// constructors of this package make Ops.
//
// Op is sealed by the types of its Compile method: they belong to an
// internal package of this module (the program builder), which no code
// outside the module can import. Outside code can neither write a method
// with that signature (so it cannot implement Op) nor make a builder to
// call it with; package tx, inside the module, compiles a batch by calling
// Compile on each op directly: no registration hook, no op carried as any.
type Op interface {
	// String describes the op: "Incr(balance, 10)". Compile emits its
	// instructions into a program for a target model.
	prog.Op
}

// Replies gives the raw reply of each op of an executed batch. *tx.Result
// implements it; the typed Result methods of yielding ops read from it.
type Replies interface {
	// Reply returns the raw reply of op, and false when op was not part
	// of the batch or the batch did not run.
	Reply(op Op) (raw any, ok bool)
}

// Integer is every integer type, by underlying type.
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Float is every floating-point type, by underlying type.
type Float interface{ ~float32 | ~float64 }

// Number is every integer and floating-point type.
type Number interface{ Integer | Float }

// field is what every op keeps of its lens: the model type and the node.
type field struct {
	model reflect.Type
	node  *schema.Node
	name  string // "Account.balance", for messages
	err   error
}

func resolve[S, A any](f lens.Field[S, A], kinds ...schema.NodeKind) field {
	fd := field{model: reflect.TypeFor[S](), name: f.String()}
	if !f.Valid() {
		fd.err = fmt.Errorf("%w: %s", errs.Invalid, f.String())
		return fd
	}
	m, err := schema.For[S]()
	if err != nil {
		fd.err = err
		return fd
	}
	n, ok := m.Lookup(f.Path())
	if !ok {
		fd.err = fmt.Errorf("%w: %s is not a stored field", errs.Invalid, f.String())
		return fd
	}
	fd.node = n
	if len(kinds) > 0 && !contains(kinds, n.Kind) {
		fd.err = fmt.Errorf("%w: %s is a %s field, not a %s", errs.Invalid, f.String(), n.Kind, kindList(kinds))
	}
	return fd
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func kindList(ks []schema.NodeKind) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k.String()
	}
	return strings.Join(parts, " or ")
}

// check is called by compile: the op's own error, then the target's type.
func (f field) check(t prog.Target) error {
	if f.err != nil {
		return f.err
	}
	if t.Model == nil || t.Model.Type != f.model {
		got := "no model"
		if t.Model != nil {
			got = t.Model.Type.String()
		}
		return fmt.Errorf("%w: an op on %s is bound to a %s model", errs.Invalid, f.model, got)
	}
	return nil
}

func (f field) key(t prog.Target) string { return t.Key(f.node) }

// allocate emits, before a write to the field, the markers of the
// pointer-to-struct fields on its path (Coupon of Coupon.Off), as lens.Set
// allocates a nil pointer on its way: a write under a nil pointer is then
// read back by Get, as the pointer it set, instead of stored where nothing
// reads it. A field under no pointer emits nothing. It comes first, so
// the op answers with its own instruction, the last it emits.
func (f field) allocate(b *prog.Builder, t prog.Target) {
	for p := f.node.Parent; p != nil; p = p.Parent {
		if p.Kind == schema.Struct && p.Ptr {
			b.HSet(t.Root, p.Name, codec.MarkerValue)
		}
	}
}

// write is check for an op that writes the field: when the field may be
// written, it also emits allocate's markers.
func (f field) write(b *prog.Builder, t prog.Target) error {
	if err := f.check(t); err != nil {
		return err
	}
	f.allocate(b, t)
	return nil
}

func (f field) path() string {
	if f.node == nil {
		return "?"
	}
	return f.node.Name
}

// encode writes a value of the field's scalar (or element) type.
func encode(c *schema.Codec, v any) (string, error) {
	if c == nil {
		return "", fmt.Errorf("%w: no codec", errs.Invalid)
	}
	return c.EncodeAny(v)
}

// modelOp is an op on the model as a whole.
type modelOp[S any] struct{ model reflect.Type }

func (m modelOp[S]) check(t prog.Target) error {
	if t.Model == nil || t.Model.Type != m.model {
		return fmt.Errorf("%w: an op on %s is bound to another model", errs.Invalid, m.model)
	}
	return nil
}

func newModelOp[S any]() modelOp[S] { return modelOp[S]{model: reflect.TypeFor[S]()} }

// describe formats an op for String: Name(path, args...).
func describe(name, path string, args ...any) string {
	var sb strings.Builder
	sb.WriteString(name)
	sb.WriteByte('(')
	sb.WriteString(path)
	for _, a := range args {
		sb.WriteString(", ")
		if s, ok := a.(string); ok {
			sb.WriteString(fmt.Sprintf("%q", s))
		} else {
			sb.WriteString(fmt.Sprint(a))
		}
	}
	sb.WriteByte(')')
	return sb.String()
}
