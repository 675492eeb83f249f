package is

import (
	"cmp"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

// Operand is what a comparison compares: a field (a lens.Field[S, A]) or
// the length of a collection (Len, Size). Its type arguments are inferred
// from the Get method: is.Below(Balance, 10), is.Below(is.Len(Cart), 50).
// Other implementations compile, and carry an error.
type Operand[S, A any] interface {
	// Get is the operand's value in v, evaluated in Go (Pred.Holds).
	Get(v S) A
	// String describes the operand for messages: "balance", "Len(cart)".
	String() string
}

// Ordered is every type Below, AtMost, Above and AtLeast compare: the
// integer, float and string kinds (time.Duration among them) and
// time.Time, which compares as an instant (Before and After).
type Ordered interface {
	cmp.Ordered | time.Time
}

// Length is the length of a collection or text field, an Operand of the
// comparisons: is.AtMost(is.Len(Cart), 50).
type Length[S any] struct {
	f    resolved
	word string // Len or Size
	get  func(S) int
}

// Get is the length of the collection in v.
func (l Length[S]) Get(v S) int { return l.get(v) }

// String describes the length: "Len(cart)", "Size(tags)".
func (l Length[S]) String() string { return l.word + "(" + l.f.path() + ")" }

// Len is the length of a list field.
func Len[S any, L ~[]E, E any](f lens.Field[S, L]) Length[S] {
	return Length[S]{f: resolve(f, schema.List), word: "Len", get: func(v S) int { return len(f.Get(v)) }}
}

// TextLen is the length in bytes of a string or []byte field, as len
// gives it: is.AtMost(is.TextLen(Bio), 280). Server cost: O(1) (HSTRLEN).
func TextLen[S any, T ~string | ~[]byte](f lens.Field[S, T]) Length[S] {
	r := resolve(f, schema.Scalar)
	if r.err == nil && r.node.Value.Kind != schema.String && r.node.Value.Kind != schema.Bytes {
		r.err = fmt.Errorf("%w: TextLen(%s): the field is stored as %s, not as its text", errs.Invalid, r.path(), r.node.Value.Kind)
	}
	if r.err == nil && r.node.Ptr {
		r.err = fmt.Errorf("%w: TextLen(%s): a pointer field", errs.Invalid, r.path())
	}
	return Length[S]{f: r, word: "TextLen", get: func(v S) int { return len(f.Get(v)) }}
}

// Size is the number of items of a map field, or of members of a set
// field (a set is a map[E]struct{}).
func Size[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M]) Length[S] {
	return Length[S]{f: resolve(f, schema.Map, schema.Set), word: "Size", get: func(v S) int { return len(f.Get(v)) }}
}

// resolved is a field of a model as a predicate keeps it.
type resolved struct {
	node *schema.Node
	err  error
}

func (r resolved) path() string {
	if r.node == nil {
		return "?"
	}
	return r.node.Name
}

func resolve[S, A any](f lens.Field[S, A], kinds ...schema.NodeKind) resolved {
	if !f.Valid() {
		return resolved{err: fmt.Errorf("%w: %s", errs.Invalid, f.String())}
	}
	m, err := schema.For[S]()
	if err != nil {
		return resolved{err: err}
	}
	n, ok := m.Lookup(f.Path())
	if !ok {
		return resolved{err: fmt.Errorf("%w: %s is not a stored field", errs.Invalid, f.String())}
	}
	if len(kinds) == 0 { // any kind: operandName's, for the name
		return resolved{node: n}
	}
	for _, k := range kinds {
		if n.Kind == k {
			return resolved{node: n}
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.String()
	}
	return resolved{node: n, err: fmt.Errorf("%w: %s is a %s field, not a %s", errs.Invalid, f.String(), n.Kind, strings.Join(names, " or "))}
}

// Equal holds where x equals v. An absent field counts as its zero value;
// times are equal when they are the same instant.
func Equal[S any, A comparable](x Operand[S, A], v A) Pred[S] {
	return compare("Equal", "eq", x, v, false)
}

// NotEqual holds where x differs from v.
func NotEqual[S any, A comparable](x Operand[S, A], v A) Pred[S] {
	return compare("NotEqual", "ne", x, v, false)
}

// Below holds where x < v (for a time, x is before v).
func Below[S any, A Ordered](x Operand[S, A], v A) Pred[S] { return compare("Below", "lt", x, v, true) }

// AtMost holds where x <= v.
func AtMost[S any, A Ordered](x Operand[S, A], v A) Pred[S] {
	return compare("AtMost", "le", x, v, true)
}

// Above holds where x > v (for a time, x is after v).
func Above[S any, A Ordered](x Operand[S, A], v A) Pred[S] { return compare("Above", "gt", x, v, true) }

// AtLeast holds where x >= v: the balance covers the withdrawal.
func AtLeast[S any, A Ordered](x Operand[S, A], v A) Pred[S] {
	return compare("AtLeast", "ge", x, v, true)
}

// In holds where x equals one of vs: Or of Equal, printed as one. In(x)
// with no values is refused as an empty Or is: it carries an error
// wrapping rapyer.ErrInvalid, and nothing holding it is sent (it would
// hold for no model, and Not(In(x)) for every one).
func In[S any, A comparable](x Operand[S, A], vs ...A) Pred[S] {
	ps := make([]Pred[S], len(vs))
	for i, v := range vs {
		ps[i] = compare("Equal", "eq", x, v, false)
	}
	p := Or(ps...)
	p.n.shown = describe("In", len(vs)+1, func(i int) string {
		if i == 0 {
			return operandName(x)
		}
		return show(vs[i-1])
	})
	if len(vs) == 0 {
		p.n.err = fmt.Errorf("%w: %s: no values: it would hold for no model (and Not of it for every one)", errs.Invalid, p.n.shown)
	}
	return p
}

func operandName[S, A any](x Operand[S, A]) string {
	switch o := any(x).(type) {
	case lens.Field[S, A]:
		return resolve(o).path()
	case Length[S]:
		return o.String()
	}
	return fmt.Sprintf("%T", x)
}

// show formats an operand for String: texts quoted, long ones cut.
func show(v any) string {
	var s string
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		x := rv.String()
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return strconv.Quote(x)
	}
	switch x := v.(type) {
	case time.Time:
		s = x.Format(time.RFC3339Nano)
	default:
		s = fmt.Sprint(v)
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

func compare[S, A any](name, rel string, x Operand[S, A], v A, ordered bool) Pred[S] {
	n := &node[S]{tag: "cmp", rel: rel}
	n.holds = func(s S) bool { return holds(order(x.Get(s), v), rel) }
	switch o := any(x).(type) {
	case lens.Field[S, A]:
		// resolved once, for its name and its check (a batch builds its
		// guards on every call)
		r := resolve(o, schema.Scalar)
		n.shown = name + "(" + r.path() + ", " + show(v) + ")"
		n.err = n.scalar(r, v, ordered)
	case Length[S]:
		n.shown = name + "(" + o.String() + ", " + show(v) + ")"
		n.tag, n.field, n.err = "len", o.f.node, o.f.err
		if n.err == nil {
			n.typ = n.field.Kind.RedisType()
			if o.word == "TextLen" {
				n.typ = "text"
			}
			n.arg = fmt.Sprint(v)
		}
	default:
		n.shown = name + "(" + operandName(x) + ", " + show(v) + ")"
		n.err = fmt.Errorf("%w: %s: %T is neither a lens.Field nor a length", errs.Invalid, n.shown, x)
	}
	return Pred[S]{n}
}

// scalar sets a comparison of a scalar field: its kind on the server, the
// operand and the zero value encoded.
func (n *node[S]) scalar(r resolved, v any, ordered bool) error {
	if r.err != nil {
		return r.err
	}
	f := r.node
	n.field = f
	if f.Ptr {
		return fmt.Errorf("%w: %s: comparisons take non-pointer fields", errs.Invalid, n.shown)
	}
	switch f.Value.Kind {
	case schema.Int, schema.Uint:
		n.kind = "int"
	case schema.Float:
		n.kind = "float"
	case schema.Time:
		n.kind = "time"
	case schema.String, schema.Bytes:
		n.kind = "string"
	default:
		if ordered {
			return fmt.Errorf("%w: %s: %s values have no order on the server", errs.Invalid, n.shown, f.Value.Kind)
		}
		n.kind = "string"
	}
	var err error
	if n.arg, err = f.Value.EncodeAny(v); err != nil {
		return err
	}
	if n.zero, err = f.Value.EncodeAny(reflect.Zero(f.Value.Type).Interface()); err != nil {
		return err
	}
	if n.kind == "float" && (n.arg == "nan" || n.zero == "nan") {
		return fmt.Errorf("%w: %s: NaN compares to nothing", errs.Invalid, n.shown)
	}
	return nil
}

// order compares two values of one type as the server does: numbers by
// value, texts byte by byte, times as instants; -1, 0 or 1, and 2 for two
// values of no order that differ.
func order(a, b any) int {
	if t, ok := a.(time.Time); ok {
		return t.Compare(b.(time.Time))
	}
	x, y := reflect.ValueOf(a), reflect.ValueOf(b)
	switch x.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cmp.Compare(x.Int(), y.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return cmp.Compare(x.Uint(), y.Uint())
	case reflect.Float32, reflect.Float64:
		return cmp.Compare(x.Float(), y.Float())
	case reflect.String:
		return strings.Compare(x.String(), y.String())
	}
	if a == b {
		return 0
	}
	return 2
}

func holds(c int, rel string) bool {
	switch rel {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "lt":
		return c == -1
	case "le":
		return c == -1 || c == 0
	case "gt":
		return c == 1
	}
	return c == 1 || c == 0 // ge
}
