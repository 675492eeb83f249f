package ops

import (
	"fmt"
	"strconv"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

// Guards are ops that write nothing: conditions the server checks before the
// first write of the batch, all of them against the data as the batch found
// it, wherever they stand in the batch. One that does not hold fails the
// batch with rapyer.ErrPrecondition and nothing is written.

type cmpOp struct {
	f     field
	name  string
	rel   string
	arg   string
	kind  string
	zero  string
	shown any
}

func (o *cmpOp) String() string { return describe(o.name, o.f.path(), o.shown) }

func (o *cmpOp) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.f.check(t); err != nil {
		return err
	}
	b.GuardCompare(t.Root, o.f.node.Name, o.kind, o.rel, o.arg, o.zero)
	return nil
}

func compare[S, A any](name, rel string, f lens.Field[S, A], v A, ordered bool) Op {
	o := &cmpOp{f: resolve(f, schema.Scalar), name: name, rel: rel, shown: shorten(v)}
	if o.f.err != nil {
		return o
	}
	n := o.f.node
	if n.Ptr {
		o.f.err = fmt.Errorf("%w: %s: guards compare non-pointer fields", errs.Invalid, o)
		return o
	}
	switch n.Value.Kind {
	case schema.Int, schema.Uint:
		o.kind = "int"
	case schema.Float:
		o.kind = "float"
	case schema.Time:
		o.kind = "time"
	case schema.String, schema.Bytes:
		o.kind = "string"
	default:
		if ordered {
			o.f.err = fmt.Errorf("%w: %s: %s values have no order on the server", errs.Invalid, o, n.Value.Kind)
			return o
		}
		o.kind = "string"
	}
	var err error
	if o.arg, err = n.Value.EncodeAny(v); err != nil {
		o.f.err = err
		return o
	}
	var zero A
	if o.zero, err = n.Value.EncodeAny(zero); err != nil {
		o.f.err = err
	}
	if o.kind == "float" && (o.arg == "nan" || o.zero == "nan") {
		o.f.err = fmt.Errorf("%w: %s: NaN compares to nothing", errs.Invalid, o)
	}
	return o
}

// Equal guards that a scalar field equals v. An absent field counts as its
// zero value.
func Equal[S, A any](f lens.Field[S, A], v A) Op { return compare("Equal", "eq", f, v, false) }

// NotEqual guards that a scalar field differs from v.
func NotEqual[S, A any](f lens.Field[S, A], v A) Op { return compare("NotEqual", "ne", f, v, false) }

// Below guards that a number, string or time field is < v.
func Below[S, A any](f lens.Field[S, A], v A) Op { return compare("Below", "lt", f, v, true) }

// AtMost guards that a number, string or time field is <= v.
func AtMost[S, A any](f lens.Field[S, A], v A) Op { return compare("AtMost", "le", f, v, true) }

// Above guards that a number, string or time field is > v.
func Above[S, A any](f lens.Field[S, A], v A) Op { return compare("Above", "gt", f, v, true) }

// AtLeast guards that a number, string or time field is >= v: the balance
// covers the withdrawal.
func AtLeast[S, A any](f lens.Field[S, A], v A) Op { return compare("AtLeast", "ge", f, v, true) }

// Rel is a relation for length guards.
type Rel string

// The relations.
const (
	EQ Rel = "eq"
	NE Rel = "ne"
	LT Rel = "lt"
	LE Rel = "le"
	GT Rel = "gt"
	GE Rel = "ge"
)

type lenGuard struct {
	f   field
	rel Rel
	n   int
}

func (o *lenGuard) String() string { return describe("LenIs", o.f.path(), string(o.rel), o.n) }

func (o *lenGuard) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.f.check(t); err != nil {
		return err
	}
	b.GuardLen(o.f.key(t), o.f.node.Kind.RedisType(), string(o.rel), strconv.Itoa(o.n))
	return nil
}

// LenIs guards the length of a list, map or set field: LenIs(Cart, ops.LT, 50).
func LenIs[S, A any](f lens.Field[S, A], rel Rel, n int) Op {
	o := &lenGuard{f: resolve(f, schema.List, schema.Map, schema.Set), rel: rel, n: n}
	switch rel {
	case EQ, NE, LT, LE, GT, GE:
	default:
		if o.f.err == nil {
			o.f.err = fmt.Errorf("%w: unknown relation %q", errs.Invalid, rel)
		}
	}
	return o
}

type memberGuard struct {
	f    field
	name string
	arg  string
	want bool
	show any
}

func (o *memberGuard) String() string { return describe(o.name, o.f.path(), o.show) }

func (o *memberGuard) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.f.check(t); err != nil {
		return err
	}
	want := "0"
	if o.want {
		want = "1"
	}
	switch o.f.node.Kind {
	case schema.Map:
		b.GuardHasKey(o.f.key(t), o.arg, want)
	default:
		b.GuardMember(o.f.key(t), o.f.node.Kind.RedisType(), o.arg, want)
	}
	return nil
}

func member[S, A any](name string, f lens.Field[S, A], v any, want bool, kinds ...schema.NodeKind) Op {
	o := &memberGuard{f: resolve(f, kinds...), name: name, want: want, show: shorten(v)}
	if o.f.err == nil {
		c := o.f.node.Value
		if o.f.node.Kind != schema.List {
			c = o.f.node.Key
		}
		o.arg, o.f.err = encode(c, v)
	}
	return o
}

// KeyPresent guards that a map field holds key k.
func KeyPresent[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M], k K) Op {
	return member("KeyPresent", f, k, true, schema.Map)
}

// KeyAbsent guards that a map field does not hold key k.
func KeyAbsent[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M], k K) Op {
	return member("KeyAbsent", f, k, false, schema.Map)
}

// Includes guards that a set field holds e.
func Includes[S any, M ~map[E]struct{}, E comparable](f lens.Field[S, M], e E) Op {
	return member("Includes", f, e, true, schema.Set)
}

// Excludes guards that a set field does not hold e.
func Excludes[S any, M ~map[E]struct{}, E comparable](f lens.Field[S, M], e E) Op {
	return member("Excludes", f, e, false, schema.Set)
}

// ListIncludes guards that a list field holds an element equal to e.
// Server cost: O(n) in a list of n (LPOS scans it), as for ListExcludes;
// not counted against the batch's budget.
func ListIncludes[S any, L ~[]E, E any](f lens.Field[S, L], e E) Op {
	return member("ListIncludes", f, e, true, schema.List)
}

// ListExcludes guards that a list field holds no element equal to e.
func ListExcludes[S any, L ~[]E, E any](f lens.Field[S, L], e E) Op {
	return member("ListExcludes", f, e, false, schema.List)
}

type versionGuard[S any] struct {
	modelOp[S]
	v int64
}

func (o *versionGuard[S]) String() string { return fmt.Sprintf("VersionIs(%d)", o.v) }

func (o *versionGuard[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.check(t); err != nil {
		return err
	}
	b.GuardVersion(t.Root, strconv.FormatInt(o.v, 10))
	return nil
}

// VersionIs guards that the model's version is v: nobody wrote it since it
// was read at that version. Every batch that writes a model adds one to its
// version; a model that is created (or created again after a delete or an
// expiry) starts from the server's clock in microseconds, so a version read
// before a delete never matches the model created after it. Read a model
// with its version with
// rapyer's Model.GetWithVersion (one round trip, one consistent snapshot):
//
//	a, v, err := accounts.GetWithVersion(ctx, "alice")
//	_, err = accounts.Exec(ctx, "alice", tx.Of(ops.VersionIs[Account](v), ops.Set(Balance, a.Balance-10)))
//
// A batch whose guard fails returns rapyer.ErrPrecondition and changes nothing.
// Versions change with every write of the model; compare them only for
// equality.
func VersionIs[S any](v int64) Op { return &versionGuard[S]{newModelOp[S](), v} }

type existsGuard[S any] struct{ modelOp[S] }

func (o *existsGuard[S]) String() string { return "Exists()" }

func (o *existsGuard[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.check(t); err != nil {
		return err
	}
	b.Require(t.Root)
	return nil
}

// Exists guards that the model exists. Every batch already requires it
// unless it creates the model or ignores missing ones; Exists makes it
// explicit, and keeps a batch that replaces a model from creating it.
func Exists[S any]() Op { return &existsGuard[S]{newModelOp[S]()} }
