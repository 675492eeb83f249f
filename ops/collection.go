package ops

import (
	"fmt"
	"strconv"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

// collOp is an op on one collection field: the builder call it makes, the
// field, and arguments already encoded.
type collOp struct {
	f     field
	name  string // for String
	emit  collEmit
	args  []string
	shown []any
	none  bool // a variadic op given nothing: it emits nothing
}

func (o *collOp) String() string { return describe(o.name, o.f.path(), o.shown...) }

func (o *collOp) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.f.check(t); err != nil {
		return err
	}
	if !o.none {
		o.f.allocate(b, t)
		o.emit(b, t.Root, o.f.key(t), o.f.node.Kind.RedisType(), o.args)
	}
	return nil
}

func newColl[S, A any](f lens.Field[S, A], name string, emit collEmit, kinds ...schema.NodeKind) *collOp {
	return &collOp{f: resolve(f, kinds...), name: name, emit: emit}
}

// collEmit emits a collection op: the builder method it calls, given the
// model's root key, the field's key and Redis type, and the op's arguments
// in the order its constructor added them.
type collEmit func(b *prog.Builder, root, key, typ string, a []string)

func emitRPush(b *prog.Builder, root, key, _ string, a []string) { b.RPush(root, key, a...) }
func emitLPush(b *prog.Builder, root, key, _ string, a []string) { b.LPush(root, key, a...) }
func emitRPop(b *prog.Builder, root, key, _ string, _ []string)  { b.RPop(root, key) }
func emitLPop(b *prog.Builder, root, key, _ string, _ []string)  { b.LPop(root, key) }
func emitPopAt(b *prog.Builder, root, key, _ string, a []string) { b.PopAt(root, key, a[0]) }
func emitLSet(b *prog.Builder, root, key, _ string, a []string)  { b.LSet(root, key, a[0], a[1]) }
func emitLInsert(b *prog.Builder, root, key, _ string, a []string) {
	b.LInsert(root, key, a[0], a[1])
}
func emitLDelRange(b *prog.Builder, root, key, _ string, a []string) {
	b.LDelRange(root, key, a[0], a[1])
}
func emitLTrim(b *prog.Builder, root, key, _ string, a []string)   { b.LTrim(root, key, a[0], a[1]) }
func emitLRem(b *prog.Builder, root, key, _ string, a []string)    { b.LRem(root, key, a[0], a[1]) }
func emitLen(b *prog.Builder, root, key, typ string, _ []string)   { b.Len(root, key, typ) }
func emitClear(b *prog.Builder, root, key, typ string, _ []string) { b.Clear(root, key, typ) }
func emitMSet(b *prog.Builder, root, key, _ string, a []string)    { b.MSet(root, key, a...) }
func emitMDel(b *prog.Builder, root, key, _ string, a []string)    { b.MDel(root, key, a...) }
func emitMPop(b *prog.Builder, root, key, _ string, a []string)    { b.MPop(root, key, a[0]) }
func emitMPopAny(b *prog.Builder, root, key, _ string, _ []string) { b.MPopAny(root, key) }
func emitMGet(b *prog.Builder, root, key, _ string, a []string)    { b.MGet(root, key, a[0]) }
func emitSAdd(b *prog.Builder, root, key, _ string, a []string)    { b.SAdd(root, key, a...) }
func emitSRem(b *prog.Builder, root, key, _ string, a []string)    { b.SRem(root, key, a...) }

// addValues encodes values with the field's element (or key) codec.
func (o *collOp) addValues(c func(*schema.Node) *schema.Codec, vals ...any) *collOp {
	if o.f.err != nil {
		return o
	}
	for _, v := range vals {
		s, err := encode(c(o.f.node), v)
		if err != nil {
			o.f.err = err
			return o
		}
		o.args = append(o.args, s)
		o.shown = append(o.shown, shorten(v))
	}
	return o
}

func (o *collOp) addInts(ns ...int) *collOp {
	for _, n := range ns {
		o.args = append(o.args, strconv.Itoa(n))
		o.shown = append(o.shown, n)
	}
	return o
}

func elem(n *schema.Node) *schema.Codec { return n.Value }
func key(n *schema.Node) *schema.Codec  { return n.Key }

func anys[E any](vs []E) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

func elemDecoder[E any](o *collOp) func(any) (E, error) {
	return func(raw any) (E, error) {
		if o.f.node == nil {
			var zero E
			return zero, o.f.err
		}
		return decoder[E](o.f.node.Value)(raw)
	}
}

// Lists ------------------------------------------------------------------

// End stands for "the end of the list" as the stop of RemoveRange and Trim.
const End = int(^uint(0) >> 1)

func stop(n int) string {
	if n == End {
		return ""
	}
	return strconv.Itoa(n)
}

// Append adds elements at the end of a list field (RPUSH). Server cost:
// O(k) for k elements, as for Prepend. Like every variadic op, given
// nothing it does nothing: it sends no command and, if the batch writes
// nothing else, the model's version stays.
func Append[S any, L ~[]E, E any](f lens.Field[S, L], v ...E) Op {
	return newColl(f, "Append", emitRPush, schema.List).addValues(elem, anys(v)...).empty(len(v))
}

// Prepend adds elements at the start of a list field, in the order given:
// Prepend(f, "a", "b") on [c] gives [a b c].
func Prepend[S any, L ~[]E, E any](f lens.Field[S, L], v ...E) Op {
	return newColl(f, "Prepend", emitLPush, schema.List).addValues(elem, anys(v)...).empty(len(v))
}

// empty marks an op given no values: it does nothing.
func (o *collOp) empty(n int) *collOp {
	o.none = n == 0
	return o
}

// InsertAt puts v before index i of a list field, as Python's list.insert: a
// negative i counts from the end, and indexes beyond either end are clamped.
// Server cost: O(min(i, n-i)) in a list of n: the elements on the shorter
// side of i are read and pushed back (LRANGE, LTRIM, LPUSH or RPUSH), and
// count against the batch's move budget (tx.Budget.Moves, 50,000 by
// default; over it the batch fails with rapyer.ErrTooLarge before anything is
// written). At either end it is one LPUSH or RPUSH: O(1), no moves.
func InsertAt[S any, L ~[]E, E any](f lens.Field[S, L], i int, v E) Op {
	return newColl(f, "InsertAt", emitLInsert, schema.List).addInts(i).addValues(elem, v)
}

// PopLast removes the last element of a list field and yields it; an empty
// list yields nothing. Server cost: O(1), as for PopFirst.
func PopLast[S any, L ~[]E, E any](f lens.Field[S, L]) *Maybe[E] {
	o := newColl(f, "PopLast", emitRPop, schema.List)
	return &Maybe[E]{inner: o, decode: elemDecoder[E](o)}
}

// PopFirst removes the first element of a list field and yields it; an empty
// list yields nothing.
func PopFirst[S any, L ~[]E, E any](f lens.Field[S, L]) *Maybe[E] {
	o := newColl(f, "PopFirst", emitLPop, schema.List)
	return &Maybe[E]{inner: o, decode: elemDecoder[E](o)}
}

// PopAt removes the element at index i of a list field (negative counts from
// the end) and yields it; an index outside the list yields nothing. Server
// cost: O(min(i, n-1-i)) in a list of n: the element is marked (LSET) and
// removed by an LREM that scans from the nearer end; the scanned elements
// count against the batch's move budget (tx.Budget.Moves). At either end it
// is one LPOP or RPOP: O(1), no moves.
func PopAt[S any, L ~[]E, E any](f lens.Field[S, L], i int) *Maybe[E] {
	o := newColl(f, "PopAt", emitPopAt, schema.List).addInts(i)
	return &Maybe[E]{inner: o, decode: elemDecoder[E](o)}
}

// SetAt replaces the element at index i of a list field (negative counts
// from the end). An index outside the list fails the batch with
// rapyer.ErrOutOfRange before anything is written. Server cost: one LSET, which
// walks the list's nodes (of many elements each) from the nearer end: O(1)
// near an end, some microseconds in the middle of millions; no moves.
func SetAt[S any, L ~[]E, E any](f lens.Field[S, L], i int, v E) Op {
	return newColl(f, "SetAt", emitLSet, schema.List).addInts(i).addValues(elem, v)
}

// RemoveRange deletes the elements [start, stop) of a list field, as
// Python's del l[start:stop]: negative bounds count from the end, bounds
// beyond the list are clamped, and End stands for the end. It yields how many
// elements went. Server cost: O(min(start, n-stop)) moves in a list of n
// (the shorter of the parts before and after the range is read and pushed
// back), counted against the batch's move budget (tx.Budget.Moves), plus
// freeing the removed elements; a range that touches an end is one LTRIM,
// no moves.
func RemoveRange[S any, L ~[]E, E any](f lens.Field[S, L], start, stop int) *Yield[int] {
	o := newColl(f, "RemoveRange", emitLDelRange, schema.List).addInts(start)
	o.args = append(o.args, stopArg(stop))
	o.shown = append(o.shown, stopShown(stop))
	return &Yield[int]{inner: o, decode: decodeInt}
}

// Trim keeps only the elements [start, stop) of a list field, with the same
// clamping as RemoveRange. Server cost: one LTRIM, which frees the removed
// elements node by node (about 0.2 ms per million); no moves.
func Trim[S any, L ~[]E, E any](f lens.Field[S, L], start, stop int) Op {
	o := newColl(f, "Trim", emitLTrim, schema.List).addInts(start)
	o.args = append(o.args, stopArg(stop))
	o.shown = append(o.shown, stopShown(stop))
	return o
}

func stopArg(n int) string { return stop(n) }

func stopShown(n int) any {
	if n == End {
		return endMark{}
	}
	return n
}

// endMark shows End as the constant's name, not as a quoted string.
type endMark struct{}

func (endMark) String() string { return "End" }

// Remove deletes the first element equal to v from a list field and yields
// how many went (0 or 1). RemoveAll deletes every one. Server cost: O(n) in
// a list of n (LREM compares the elements up to the first match, every one
// for RemoveAll: about 30 ms per million); not counted against a budget.
// How many go is known only when the batch runs, so an op after it in the
// batch that takes an index of the same list (InsertAt, PopAt, SetAt,
// RemoveRange, Trim) fails the batch with rapyer.ErrInvalid before
// anything is written; put it before the Remove, or Clear the list between.
func Remove[S any, L ~[]E, E any](f lens.Field[S, L], v E) *Yield[int] {
	o := newColl(f, "Remove", emitLRem, schema.List)
	o.args = append(o.args, "1") // LREM's count, not shown: Remove(history, "a")
	o.addValues(elem, v)
	return &Yield[int]{inner: o, decode: decodeInt}
}

// RemoveAll deletes every element equal to v from a list field and yields
// how many went.
func RemoveAll[S any, L ~[]E, E any](f lens.Field[S, L], v E) *Yield[int] {
	o := newColl(f, "RemoveAll", emitLRem, schema.List)
	o.args = append(o.args, "0")
	o.addValues(elem, v)
	return &Yield[int]{inner: o, decode: decodeInt}
}

// Len yields the length of a list field (Size is that of a map or a set;
// neither compiles on a scalar). Server cost: O(1).
func Len[S any, L ~[]E, E any](f lens.Field[S, L]) *Yield[int] {
	o := newColl(f, "Len", emitLen, schema.List)
	return &Yield[int]{inner: o, decode: decodeInt}
}

// Size yields the number of items of a map field, or of members of a set
// field (a set is a map[E]struct{}). Server cost: O(1).
func Size[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M]) *Yield[int] {
	o := newColl(f, "Size", emitLen, schema.Map, schema.Set)
	return &Yield[int]{inner: o, decode: decodeInt}
}

// Clear empties a list field (ClearItems empties a map or a set; a scalar
// is set with Set). Server cost: freeing it (DEL), O(n) for n elements,
// node by node.
func Clear[S any, L ~[]E, E any](f lens.Field[S, L]) Op {
	return newColl(f, "Clear", emitClear, schema.List)
}

// ClearItems empties a map field, or a set field (whose items are its
// members). Server cost: freeing it (DEL), O(n) for n items.
func ClearItems[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M]) Op {
	return newColl(f, "ClearItems", emitClear, schema.Map, schema.Set)
}

// Side names an end of a list for Move.
type Side string

// The ends of a list. Any other Side is refused with rapyer.ErrInvalid.
const (
	// First is the head of a list, where Prepend and PopFirst work.
	First Side = "LEFT"
	// Last is the tail of a list, where Append and PopLast work.
	Last Side = "RIGHT"
)

type moveOp struct {
	src, dst field
	from, to Side
}

func (o *moveOp) String() string {
	return fmt.Sprintf("Move(%s %s -> %s %s)", o.src.path(), o.from, o.dst.path(), o.to)
}

func (o *moveOp) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.src.check(t); err != nil {
		return err
	}
	if err := o.dst.check(t); err != nil {
		return err
	}
	o.src.allocate(b, t)
	o.dst.allocate(b, t)
	b.LMove(t.Root, o.src.key(t), t.Root, o.dst.key(t), string(o.from), string(o.to))
	return nil
}

// Move takes the element at one end of a list field and puts it at one end
// of another list field of the same model, in one step (LMOVE's meaning, as
// a pop and a push in the script, so Redis before 6.2 serves it too), and
// yields it: the task-queue hand-off from pending to processing. An empty source
// moves nothing and yields nothing. Server cost: O(1).
func Move[S any, L ~[]E, E any](src lens.Field[S, L], from Side, dst lens.Field[S, L], to Side) *Maybe[E] {
	o := &moveOp{src: resolve(src, schema.List), dst: resolve(dst, schema.List), from: from, to: to}
	if o.src.err == nil && !validSide(from) || o.dst.err == nil && !validSide(to) {
		o.src.err = fmt.Errorf("%w: sides must be First or Last", errs.Invalid)
	}
	return &Maybe[E]{inner: o, decode: func(raw any) (E, error) {
		if o.src.node == nil {
			var zero E
			return zero, o.src.err
		}
		return decoder[E](o.src.node.Value)(raw)
	}}
}

func validSide(s Side) bool { return s == First || s == Last }

// Maps -------------------------------------------------------------------

// SetItem sets m[k] = v in a map field. Server cost: O(1).
func SetItem[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M], k K, v V) Op {
	o := newColl(f, "SetItem", emitMSet, schema.Map)
	return o.addValues(key, k).addValues(elem, v)
}

// SetItems sets every item of items in a map field, in one step; an empty
// items does nothing. Server cost: O(k) for k items.
func SetItems[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M], items map[K]V) Op {
	o := newColl(f, "SetItems", emitMSet, schema.Map).empty(len(items))
	for k, v := range items {
		o.addValues(key, k).addValues(elem, v)
	}
	return o
}

// DeleteItems removes keys from a map field and yields how many were there.
// Server cost: O(k) for k keys.
func DeleteItems[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M], k ...K) *Yield[int] {
	o := newColl(f, "DeleteItems", emitMDel, schema.Map).addValues(key, anys(k)...).empty(len(k))
	return &Yield[int]{inner: o, decode: decodeInt, none: o.none}
}

// PopItem removes key k from a map field and yields its value; a missing key
// yields def and false, as Python's dict.pop(k, default). Server cost: O(1).
func PopItem[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M], k K, def V) *Maybe[V] {
	o := newColl(f, "PopItem", emitMPop, schema.Map).addValues(key, k)
	return &Maybe[V]{inner: o, decode: elemDecoder[V](o), absent: def}
}

// GetItem yields m[k] of a map field, as it is at that point of the batch.
// Server cost: O(1).
func GetItem[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M], k K) *Maybe[V] {
	o := newColl(f, "GetItem", emitMGet, schema.Map).addValues(key, k)
	return &Maybe[V]{inner: o, decode: elemDecoder[V](o)}
}

// PopAnyItem removes an arbitrary item of a map field and yields it; on an
// empty map its Result gives rapyer.ErrEmpty (the rest of the batch still applies).
// Server cost: O(1) amortised (HSCAN with COUNT 16 until it finds an item).
func PopAnyItem[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M]) *Pair[K, V] {
	o := newColl(f, "PopAnyItem", emitMPopAny, schema.Map)
	return &Pair[K, V]{inner: o,
		key: func(raw any) (K, error) {
			if o.f.node == nil {
				var zero K
				return zero, o.f.err
			}
			return decoder[K](o.f.node.Key)(raw)
		},
		value: elemDecoder[V](o)}
}

// Sets (map[E]struct{}) ----------------------------------------------------

// Add puts members into a set field and yields how many were new. Server
// cost: O(k) for k members, as for Discard.
func Add[S any, M ~map[E]struct{}, E comparable](f lens.Field[S, M], e ...E) *Yield[int] {
	o := newColl(f, "Add", emitSAdd, schema.Set).addValues(key, anys(e)...).empty(len(e))
	return &Yield[int]{inner: o, decode: decodeInt, none: o.none}
}

// Discard takes members out of a set field, present or not, and yields how
// many were there.
func Discard[S any, M ~map[E]struct{}, E comparable](f lens.Field[S, M], e ...E) *Yield[int] {
	o := newColl(f, "Discard", emitSRem, schema.Set).addValues(key, anys(e)...).empty(len(e))
	return &Yield[int]{inner: o, decode: decodeInt, none: o.none}
}
