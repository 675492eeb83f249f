// Package codec writes whole Go values as batch instructions and reads them
// back from what Redis returns, following the layout resolved by package
// schema.
//
// Values are passed by address (unsafe.Pointer to a value of the model's
// type, or of a node's type) and every field is reached through the
// accessors schema compiled for its node: the parent's address plus the
// field's offset, and an encoder specialised for the field's underlying
// type. A call does no reflect.Value walk; the exceptions (values with
// MarshalText, JSON elements, maps of uncommon types, the allocation of a
// pointer-to-struct field's target) are listed in schema's access.go.
package codec

import (
	"fmt"
	"strconv"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// MarkerValue is stored in a pointer-to-struct field's marker when the pointer is set.
const MarkerValue = "1"

// EmitModel emits the instructions that replace the whole model at t with
// the value v points to, which must be a t.Model.Type: every field,
// collections included.
func EmitModel(b *prog.Builder, t prog.Target, v unsafe.Pointer) error {
	b.Creates(t.Root)
	b.Reset(t.Root)
	w := newWriter(b, t, len(t.Model.Scalars)+len(t.Model.Markers))
	b.Grow(2 * w.room)
	w.cols = make([]pending, 0, len(t.Model.Collections))
	if err := w.fields(v, t.Model.Top); err != nil {
		return err
	}
	w.flush()
	for _, n := range t.Model.Collections {
		b.Clear(t.Root, t.Key(n), n.Kind.RedisType())
	}
	w.collections()
	return nil
}

// EmitNode emits the instructions that set the field n of the model at t to
// the value v points to, which must be an n.Type: a scalar, a collection,
// or a nested struct with everything under it.
func EmitNode(b *prog.Builder, t prog.Target, n *schema.Node, v unsafe.Pointer) error {
	if n.Kind.Collection() {
		// What the general case below does for one collection, the key
		// made once.
		key := t.Key(n)
		b.Clear(t.Root, key, n.Kind.RedisType())
		if n.Len(v) == 0 {
			return nil
		}
		texts, err := n.AppendElements(nil, v, 0)
		if err != nil {
			return err
		}
		w := writer{b: b, t: t}
		w.emit(fill(n.Kind), key, texts)
		return nil
	}
	w := newWriter(b, t, 1)
	var room [8]string
	dels := w.clear(n, room[:0])
	if len(dels) > 0 {
		b.HDel(t.Root, dels...)
	}
	if err := w.field(v, n); err != nil {
		return err
	}
	w.flush()
	w.collections()
	return nil
}

// clear emits the clearing of every collection under n and returns dels
// with the root-hash fields under it added.
func (w *writer) clear(n *schema.Node, dels []string) []string {
	switch {
	case n.Kind == schema.Scalar || (n.Kind == schema.Struct && n.Ptr):
		dels = append(dels, n.Name)
	case n.Kind.Collection():
		w.b.Clear(w.t.Root, w.t.Key(n), n.Kind.RedisType())
	}
	for _, c := range n.Children {
		dels = w.clear(c, dels)
	}
	return dels
}

// writer gathers the root-hash fields to set, and the collections to fill
// once they have been cleared.
type writer struct {
	b *prog.Builder
	t prog.Target
	// pairs is fields and values in turn; room is how many fields to
	// make room for.
	pairs []string
	room  int
	// texts holds the encoded elements of the pending collections, back
	// to back.
	texts []string
	cols  []pending
	// dels is the keys a diff removes from a map or set.
	dels []string
}

// pending is the instruction that fills a collection: op on key, with the
// arguments texts[from:to].
type pending struct {
	op       collEmit
	key      string
	from, to int
}

// newWriter returns a writer that expects about fields root-hash fields.
func newWriter(b *prog.Builder, t prog.Target, fields int) *writer {
	return &writer{b: b, t: t, room: fields}
}

// set adds a root-hash field to set.
func (w *writer) set(name, value string) {
	if w.pairs == nil {
		w.pairs = make([]string, 0, 2*max(w.room, 1))
	}
	w.pairs = append(w.pairs, name, value)
}

func (w *writer) flush() {
	if len(w.pairs) > 0 {
		w.b.HSet(w.t.Root, w.pairs...)
		w.pairs = w.pairs[:0]
	}
}

func (w *writer) collections() {
	for _, c := range w.cols {
		w.emit(c.op, c.key, w.texts[c.from:c.to])
	}
}

// collEmit is the instruction a writer sends to a collection with a list
// of texts: one of the Builder methods below.
type collEmit uint8

const (
	rpush collEmit = iota // append list elements
	mset                  // set map items (keys and values in turn)
	sadd                  // add set members
	mdel                  // remove map items
	srem                  // remove set members
)

// emit emits op on the collection at key with texts as arguments.
func (w *writer) emit(op collEmit, key string, texts []string) {
	switch op {
	case rpush:
		w.b.RPush(w.t.Root, key, texts...)
	case mset:
		w.b.MSet(w.t.Root, key, texts...)
	case sadd:
		w.b.SAdd(w.t.Root, key, texts...)
	case mdel:
		w.b.MDel(w.t.Root, key, texts...)
	case srem:
		w.b.SRem(w.t.Root, key, texts...)
	}
}

// fill is the instruction that adds elements to a collection of kind k.
func fill(k schema.NodeKind) collEmit {
	switch k {
	case schema.List:
		return rpush
	case schema.Map:
		return mset
	}
	return sadd
}

func (w *writer) fields(v unsafe.Pointer, nodes []*schema.Node) error {
	for _, n := range nodes {
		if err := w.field(n.At(v), n); err != nil {
			return err
		}
	}
	return nil
}

// field writes the field n, at p.
func (w *writer) field(p unsafe.Pointer, n *schema.Node) error {
	switch n.Kind {
	case schema.Scalar:
		if n.Ptr {
			if p = *(*unsafe.Pointer)(p); p == nil {
				return nil
			}
		}
		s, err := n.Value.EncodeAt(p)
		if err != nil {
			return errs.At(fmt.Sprintf("field %s", n.GoName), err)
		}
		w.set(n.Name, s)
	case schema.Struct:
		if n.Ptr {
			if p = *(*unsafe.Pointer)(p); p == nil {
				return nil
			}
			w.set(n.Name, MarkerValue)
		}
		return w.fields(p, n.Children)
	default:
		if n.Len(p) == 0 {
			return nil
		}
		from := len(w.texts)
		texts, err := n.AppendElements(w.texts, p, 0)
		if err != nil {
			return err
		}
		w.texts = texts
		w.cols = append(w.cols, pending{op: fill(n.Kind), key: w.t.Key(n), from: from, to: len(texts)})
	}
	return nil
}

// Elements encodes the collection v points to (an n.Type) as instruction
// arguments: list elements in order, map keys and values in turn, set
// members.
func Elements(n *schema.Node, v unsafe.Pointer) ([]string, error) {
	if !n.Kind.Collection() {
		return nil, fmt.Errorf("%w: field %s is not a collection", errs.Invalid, n.GoName)
	}
	return n.AppendElements(nil, v, 0)
}

// Data is a model as read from Redis: the root hash and the raw value of
// each collection, by node name ([]string for lists and sets,
// map[string]string for maps).
type Data struct {
	Root        map[string]string
	Collections map[string]any
}

// Decode fills the value v points to, which must be an m.Type, from d.
// Values that do not parse give errors wrapping errs.Corrupt that name the
// field.
func Decode(m *schema.Model, d Data, v unsafe.Pointer) error {
	return decodeFields(&source{root: d.Root, cols: d.Collections}, v, RootOf(m).top)
}

// EmitDiff emits the instructions that turn the model at t from the value
// before points to into the one after points to (both t.Model.Type), field
// by field: changed scalars are set or removed; a list that only grew at the
// end gets the new elements appended (RPUSH), one that only shrank at the
// end is cut (LTRIM), one where at most ListSetMax of the elements both
// values have changed gets those set one by one (LSET), then the new tail
// or the cut; other changed lists are replaced whole; maps and sets get the
// items that changed. Unchanged fields emit nothing, so writers of other
// fields are not overwritten. None of these counts against a batch's move
// budget: the server work of a replaced list is that of the elements sent.
func EmitDiff(b *prog.Builder, t prog.Target, before, after unsafe.Pointer) error {
	w := newWriter(b, t, 4)
	var room [8]string
	dels, err := w.diff(before, after, t.Model.Top, room[:0])
	if err != nil {
		return err
	}
	if len(dels) > 0 {
		b.HDel(t.Root, dels...)
	}
	w.flush()
	w.collections()
	return nil
}

// diff writes the changes of the fields nodes from before to after, and
// returns dels with the root-hash fields to remove added.
func (w *writer) diff(before, after unsafe.Pointer, nodes []*schema.Node, dels []string) ([]string, error) {
	for _, n := range nodes {
		bp, ap := n.At(before), n.At(after)
		switch n.Kind {
		case schema.Scalar:
			if sameScalar(n, bp, ap) {
				continue
			}
			bs, bok, err := scalarText(n, bp)
			if err != nil {
				return nil, err
			}
			as, aok, err := scalarText(n, ap)
			if err != nil {
				return nil, err
			}
			switch {
			case !aok && bok:
				dels = append(dels, n.Name)
			case aok && (!bok || as != bs):
				w.set(n.Name, as)
			}
		case schema.Struct:
			if n.Ptr {
				bt, at := *(*unsafe.Pointer)(bp), *(*unsafe.Pointer)(ap)
				switch {
				case bt == nil && at == nil:
					continue
				case at == nil:
					if w.b == nil {
						return nil, errNotDirect
					}
					if err := EmitNode(w.b, w.t, n, ap); err != nil {
						return nil, err
					}
					continue
				case bt == nil:
					w.set(n.Name, MarkerValue)
					bt = n.ZeroPointee()
				}
				bp, ap = bt, at
			}
			var err error
			if dels, err = w.diff(bp, ap, n.Children, dels); err != nil {
				return nil, err
			}
		default:
			if w.b == nil {
				return nil, errNotDirect
			}
			if err := w.diffCollection(n, bp, ap); err != nil {
				return nil, err
			}
		}
	}
	return dels, nil
}

// ListSetMax is how many elements of the m that two values of a list share
// may differ for a diff to write them one by one (LSET each, an O(1) write
// near either end, O(m/128) in the middle, where Redis walks its list
// nodes); past it the list is replaced whole, which costs the server about
// as much as the elements the caller sends.
func ListSetMax(m int) int { return max(4, m/16) }

// diffList writes a list that changed otherwise than by growing or
// shrinking at its end: the changed elements one by one (then the new tail
// or the cut) when few changed, else the whole list.
func (w *writer) diffList(n *schema.Node, bp, ap unsafe.Pointer, bl, al int) error {
	key := w.t.Key(n)
	if al > 0 && bl > 0 {
		before, err := n.AppendElements(nil, bp, 0)
		if err != nil {
			return err
		}
		after, err := n.AppendElements(w.texts[:0], ap, 0)
		if err != nil {
			return err
		}
		w.texts = after
		m, limit := min(bl, al), ListSetMax(min(bl, al))
		changed := 0
		for i := 0; i < m && changed <= limit; i++ {
			if before[i] != after[i] {
				changed++
			}
		}
		if changed <= limit {
			for i := range m {
				if before[i] != after[i] {
					w.b.LSet(w.t.Root, key, strconv.Itoa(i), after[i])
				}
			}
			switch {
			case al > bl:
				w.emit(rpush, key, after[bl:])
			case al < bl:
				w.b.LTrim(w.t.Root, key, "0", strconv.Itoa(al))
			}
			return nil
		}
	}
	w.b.Clear(w.t.Root, key, n.Kind.RedisType())
	if al == 0 {
		return nil
	}
	texts, err := n.AppendElements(w.texts[:0], ap, 0)
	if err != nil {
		return err
	}
	w.texts = texts
	w.emit(rpush, key, texts)
	return nil
}

// sameScalar reports whether scalar field n is known unchanged from bp
// to ap without encoding it: both absent, or values that encode alike
// (schema.Codec.SameAt). false: compare their texts.
func sameScalar(n *schema.Node, bp, ap unsafe.Pointer) bool {
	if n.Ptr {
		bp, ap = *(*unsafe.Pointer)(bp), *(*unsafe.Pointer)(ap)
		if bp == nil || ap == nil {
			return bp == ap
		}
	}
	return n.Value.SameAt(bp, ap)
}

// scalarText encodes the scalar field n at p; ok is false for a nil pointer.
func scalarText(n *schema.Node, p unsafe.Pointer) (string, bool, error) {
	if n.Ptr {
		if p = *(*unsafe.Pointer)(p); p == nil {
			return "", false, nil
		}
	}
	s, err := n.Value.EncodeAt(p)
	if err != nil {
		return "", false, errs.At(fmt.Sprintf("field %s", n.GoName), err)
	}
	return s, true, nil
}

func (w *writer) diffCollection(n *schema.Node, bp, ap unsafe.Pointer) error {
	switch n.Kind {
	case schema.List:
		bl, al := n.Len(bp), n.Len(ap)
		switch {
		case bl == al && n.ListPrefixEqual(bp, ap, bl):
			return nil
		case al > bl && n.ListPrefixEqual(bp, ap, bl):
			// only grew at the end: RPUSH the new tail
			texts, err := n.AppendElements(w.texts[:0], ap, bl)
			if err != nil {
				return err
			}
			w.texts = texts
			w.emit(rpush, w.t.Key(n), texts)
			return nil
		case al < bl && al > 0 && n.ListPrefixEqual(bp, ap, al):
			// only shrank at the end: LTRIM
			w.b.LTrim(w.t.Root, w.t.Key(n), "0", strconv.Itoa(al))
			return nil
		}
		return w.diffList(n, bp, ap, bl, al)
	case schema.Map, schema.Set:
		set, del, err := n.AppendChanges(w.texts[:0], w.dels[:0], bp, ap)
		if err != nil {
			return err
		}
		w.texts, w.dels = set, del
		if len(del) == 0 && len(set) == 0 {
			return nil
		}
		key := w.t.Key(n)
		if len(del) > 0 {
			op := srem
			if n.Kind == schema.Map {
				op = mdel
			}
			w.emit(op, key, del)
		}
		if len(set) > 0 {
			w.emit(fill(n.Kind), key, set)
		}
	}
	return nil
}
