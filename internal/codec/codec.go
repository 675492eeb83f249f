// Package codec writes whole Go values as batch instructions and reads them
// back from what Redis returns, following the layout resolved by package
// schema.
package codec

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// MarkerValue is stored in a pointer-to-struct field's marker when the pointer is set.
const MarkerValue = "1"

// EmitModel emits the instructions that replace the whole model at t with v
// (a value of t.Model.Type): every field, collections included.
func EmitModel(b *prog.Builder, t prog.Target, v reflect.Value) error {
	b.Creates(t.Root)
	b.Emit("reset", prog.K(t.Root))
	w := &writer{b: b, t: t}
	if err := w.fields(v, t.Model.Top); err != nil {
		return err
	}
	w.flush()
	for _, n := range t.Model.Collections {
		b.Emit("clear", prog.K(t.Root), prog.K(t.Key(n)), prog.V(n.Kind.RedisType()))
	}
	return w.collections()
}

// EmitNode emits the instructions that set the field n of the model at t to
// v (a value of n.Type): a scalar, a collection, or a nested struct with
// everything under it.
func EmitNode(b *prog.Builder, t prog.Target, n *schema.Node, v reflect.Value) error {
	w := &writer{b: b, t: t}
	var dels []prog.Arg
	var clear func(n *schema.Node)
	clear = func(n *schema.Node) {
		switch {
		case n.Kind == schema.Scalar || (n.Kind == schema.Struct && n.Ptr):
			dels = append(dels, prog.V(n.Name))
		case n.Kind.Collection():
			b.Emit("clear", prog.K(t.Root), prog.K(t.Key(n)), prog.V(n.Kind.RedisType()))
		}
		for _, c := range n.Children {
			clear(c)
		}
	}
	clear(n)
	if len(dels) > 0 {
		b.Emit("hdel", append([]prog.Arg{prog.K(t.Root)}, dels...)...)
	}
	if err := w.field(v, n); err != nil {
		return err
	}
	w.flush()
	return w.collections()
}

type writer struct {
	b     *prog.Builder
	t     prog.Target
	pairs []prog.Arg
	cols  []func() error
}

func (w *writer) flush() {
	if len(w.pairs) > 0 {
		w.b.Emit("hset", append([]prog.Arg{prog.K(w.t.Root)}, w.pairs...)...)
		w.pairs = nil
	}
}

func (w *writer) collections() error {
	for _, c := range w.cols {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) fields(v reflect.Value, nodes []*schema.Node) error {
	for _, n := range nodes {
		if err := w.field(v.Field(n.Index), n); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) field(fv reflect.Value, n *schema.Node) error {
	switch n.Kind {
	case schema.Scalar:
		if n.Ptr {
			if fv.IsNil() {
				return nil
			}
			fv = fv.Elem()
		}
		s, err := n.Value.Encode(fv)
		if err != nil {
			return fmt.Errorf("field %s: %w", n.GoName, err)
		}
		w.pairs = append(w.pairs, prog.V(n.Name), prog.V(s))
	case schema.Struct:
		if n.Ptr {
			if fv.IsNil() {
				return nil
			}
			w.pairs = append(w.pairs, prog.V(n.Name), prog.V(MarkerValue))
			fv = fv.Elem()
		}
		return w.fields(fv, n.Children)
	default:
		if fv.Len() == 0 {
			return nil
		}
		args, err := Elements(n, fv)
		if err != nil {
			return err
		}
		op := map[schema.NodeKind]string{schema.List: "rpush", schema.Map: "mset", schema.Set: "sadd"}[n.Kind]
		key := w.t.Key(n)
		w.cols = append(w.cols, func() error {
			all := append([]prog.Arg{prog.K(w.t.Root), prog.K(key)}, args...)
			w.b.Emit(op, all...)
			return nil
		})
	}
	return nil
}

// Elements encodes a collection value as instruction arguments: list
// elements in order, map keys and values in turn, set members.
func Elements(n *schema.Node, v reflect.Value) ([]prog.Arg, error) {
	var out []prog.Arg
	switch n.Kind {
	case schema.List:
		out = make([]prog.Arg, 0, v.Len())
		for i := range v.Len() {
			s, err := n.Value.Encode(v.Index(i))
			if err != nil {
				return nil, fmt.Errorf("field %s[%d]: %w", n.GoName, i, err)
			}
			out = append(out, prog.V(s))
		}
	case schema.Map, schema.Set:
		out = make([]prog.Arg, 0, 2*v.Len())
		it := v.MapRange()
		for it.Next() {
			k, err := n.Key.Encode(it.Key())
			if err != nil {
				return nil, fmt.Errorf("field %s key: %w", n.GoName, err)
			}
			out = append(out, prog.V(k))
			if n.Kind == schema.Map {
				s, err := n.Value.Encode(it.Value())
				if err != nil {
					return nil, fmt.Errorf("field %s[%v]: %w", n.GoName, it.Key(), err)
				}
				out = append(out, prog.V(s))
			}
		}
	default:
		return nil, fmt.Errorf("%w: field %s is not a collection", errs.InvalidArgument, n.GoName)
	}
	return out, nil
}

// Data is a model as read from Redis: the root hash and the raw value of
// each collection, by node name ([]string for lists and sets,
// map[string]string for maps).
type Data struct {
	Root        map[string]string
	Collections map[string]any
}

// Decode fills v (a settable value of m.Type) from d. Values that do not
// parse give errors wrapping errs.Corrupt that name the field.
func Decode(m *schema.Model, d Data, v reflect.Value) error {
	return decodeFields(d, v, m.Top)
}

func decodeFields(d Data, v reflect.Value, nodes []*schema.Node) error {
	for _, n := range nodes {
		if err := decodeField(d, v.Field(n.Index), n); err != nil {
			return err
		}
	}
	return nil
}

func decodeField(d Data, fv reflect.Value, n *schema.Node) error {
	switch n.Kind {
	case schema.Scalar:
		s, ok := d.Root[n.Name]
		if !ok {
			fv.SetZero()
			return nil
		}
		target := fv
		if n.Ptr {
			p := reflect.New(n.Type.Elem())
			fv.Set(p)
			target = p.Elem()
		}
		if err := n.Value.Decode(s, target); err != nil {
			return fmt.Errorf("field %s (%s): %w", n.GoName, n.Name, err)
		}
	case schema.Struct:
		if n.Ptr {
			if _, ok := d.Root[n.Name]; !ok {
				fv.SetZero()
				return nil
			}
			p := reflect.New(n.Type.Elem())
			fv.Set(p)
			fv = p.Elem()
		}
		return decodeFields(d, fv, n.Children)
	default:
		return decodeCollection(n, d.Collections[n.Name], fv)
	}
	return nil
}

// decodeCollection fills fv from a raw collection; an absent or empty one
// gives nil.
func decodeCollection(n *schema.Node, raw any, fv reflect.Value) error {
	if fv.CanAddr() && decodeCommon(n, raw, fv) {
		return nil
	}
	wrap := func(err error) error { return fmt.Errorf("field %s (%s): %w", n.GoName, n.Name, err) }
	switch n.Kind {
	case schema.List:
		items, _ := raw.([]string)
		if len(items) == 0 {
			fv.SetZero()
			return nil
		}
		s := reflect.MakeSlice(n.Type, len(items), len(items))
		for i, it := range items {
			if err := n.Value.Decode(it, s.Index(i)); err != nil {
				return wrap(fmt.Errorf("element %d: %w", i, err))
			}
		}
		fv.Set(s)
	case schema.Set:
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
				return wrap(fmt.Errorf("member: %w", err))
			}
			m.SetMapIndex(k, unit)
		}
		fv.Set(m)
	case schema.Map:
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
				return wrap(fmt.Errorf("key: %w", err))
			}
			val.SetZero()
			if err := n.Value.Decode(vs, val); err != nil {
				return wrap(fmt.Errorf("value of %q: %w", ks, err))
			}
			m.SetMapIndex(k, val)
		}
		fv.Set(m)
	}
	return nil
}

var (
	stringsType      = reflect.TypeFor[[]string]()
	stringMapType    = reflect.TypeFor[map[string]string]()
	stringIntMapType = reflect.TypeFor[map[string]int]()
	stringI64MapType = reflect.TypeFor[map[string]int64]()
	stringF64MapType = reflect.TypeFor[map[string]float64]()
	stringSetType    = reflect.TypeFor[map[string]struct{}]()
)

// decodeCommon fills the most common collection types without reflection
// per element, and reports whether it did. Anything it cannot read exactly
// as the general path would (a number that does not parse, a named type)
// is left to the general path, which also makes its error.
func decodeCommon(n *schema.Node, raw any, fv reflect.Value) bool {
	switch n.Type {
	case stringsType:
		items, ok := raw.([]string)
		if !ok || len(items) == 0 {
			return false
		}
		// A copy: the same read may be decoded twice (a model lock keeps
		// the value before and after), and neither may share the other's.
		*fv.Addr().Interface().(*[]string) = append([]string(nil), items...)
		return true
	case stringSetType:
		items, ok := raw.([]string)
		if !ok || len(items) == 0 {
			return false
		}
		m := make(map[string]struct{}, len(items))
		for _, it := range items {
			m[it] = struct{}{}
		}
		*fv.Addr().Interface().(*map[string]struct{}) = m
		return true
	}
	items, ok := raw.(map[string]string)
	if !ok || len(items) == 0 {
		return false
	}
	switch n.Type {
	case stringMapType:
		m := make(map[string]string, len(items))
		for k, v := range items {
			m[k] = v
		}
		*fv.Addr().Interface().(*map[string]string) = m
		return true
	case stringIntMapType:
		if n.Value.Bits != strconv.IntSize {
			return false
		}
		m := make(map[string]int, len(items))
		for k, v := range items {
			x, err := strconv.ParseInt(v, 10, strconv.IntSize)
			if err != nil {
				return false
			}
			m[k] = int(x)
		}
		*fv.Addr().Interface().(*map[string]int) = m
		return true
	case stringI64MapType:
		m := make(map[string]int64, len(items))
		for k, v := range items {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return false
			}
			m[k] = x
		}
		*fv.Addr().Interface().(*map[string]int64) = m
		return true
	case stringF64MapType:
		m := make(map[string]float64, len(items))
		for k, v := range items {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return false
			}
			m[k] = x
		}
		*fv.Addr().Interface().(*map[string]float64) = m
		return true
	}
	return false
}

// EmitDiff emits the instructions that turn the model at t from before into
// after, field by field: changed scalars are set or removed, lists that only
// grew at the end get the new elements appended, maps and sets get the items
// that changed, and other changed collections are replaced. Unchanged fields
// emit nothing, so writers of other fields are not overwritten.
func EmitDiff(b *prog.Builder, t prog.Target, before, after reflect.Value) error {
	w := &writer{b: b, t: t}
	var dels []prog.Arg
	if err := w.diff(before, after, t.Model.Top, &dels); err != nil {
		return err
	}
	if len(dels) > 0 {
		b.Emit("hdel", append([]prog.Arg{prog.K(t.Root)}, dels...)...)
	}
	w.flush()
	return w.collections()
}

func (w *writer) diff(before, after reflect.Value, nodes []*schema.Node, dels *[]prog.Arg) error {
	for _, n := range nodes {
		bv, av := before.Field(n.Index), after.Field(n.Index)
		switch n.Kind {
		case schema.Scalar:
			bs, bok, err := scalarText(n, bv)
			if err != nil {
				return err
			}
			as, aok, err := scalarText(n, av)
			if err != nil {
				return err
			}
			switch {
			case !aok && bok:
				*dels = append(*dels, prog.V(n.Name))
			case aok && (!bok || as != bs):
				w.pairs = append(w.pairs, prog.V(n.Name), prog.V(as))
			}
		case schema.Struct:
			if n.Ptr {
				switch {
				case bv.IsNil() && av.IsNil():
					continue
				case av.IsNil():
					if err := EmitNode(w.b, w.t, n, av); err != nil {
						return err
					}
					continue
				case bv.IsNil():
					w.pairs = append(w.pairs, prog.V(n.Name), prog.V(MarkerValue))
					bv = reflect.New(n.Type.Elem())
				default:
					bv = bv.Elem()
				}
				av = av.Elem()
			}
			if err := w.diff(bv, av, n.Children, dels); err != nil {
				return err
			}
		default:
			if err := w.diffCollection(n, bv, av); err != nil {
				return err
			}
		}
	}
	return nil
}

// scalarText encodes a scalar field; ok is false for a nil pointer.
func scalarText(n *schema.Node, v reflect.Value) (string, bool, error) {
	if n.Ptr {
		if v.IsNil() {
			return "", false, nil
		}
		v = v.Elem()
	}
	s, err := n.Value.Encode(v)
	if err != nil {
		return "", false, fmt.Errorf("field %s: %w", n.GoName, err)
	}
	return s, true, nil
}

func (w *writer) diffCollection(n *schema.Node, bv, av reflect.Value) error {
	key := w.t.Key(n)
	root := prog.K(w.t.Root)
	replace := func() error {
		w.b.Emit("clear", root, prog.K(key), prog.V(n.Kind.RedisType()))
		if av.Len() == 0 {
			return nil
		}
		args, err := Elements(n, av)
		if err != nil {
			return err
		}
		op := map[schema.NodeKind]string{schema.List: "rpush", schema.Map: "mset", schema.Set: "sadd"}[n.Kind]
		w.b.Emit(op, append([]prog.Arg{root, prog.K(key)}, args...)...)
		return nil
	}
	switch n.Kind {
	case schema.List:
		bl, al := bv.Len(), av.Len()
		if bl == al && reflect.DeepEqual(bv.Interface(), av.Interface()) {
			return nil
		}
		if al > bl && reflect.DeepEqual(bv.Slice(0, bl).Interface(), av.Slice(0, bl).Interface()) {
			args, err := Elements(n, av.Slice(bl, al))
			if err != nil {
				return err
			}
			w.b.Emit("rpush", append([]prog.Arg{root, prog.K(key)}, args...)...)
			return nil
		}
		return replace()
	case schema.Map, schema.Set:
		var set, del []prog.Arg
		it := av.MapRange()
		for it.Next() {
			old := bv.MapIndex(it.Key())
			if old.IsValid() && (n.Kind == schema.Set || reflect.DeepEqual(old.Interface(), it.Value().Interface())) {
				continue
			}
			k, err := n.Key.Encode(it.Key())
			if err != nil {
				return fmt.Errorf("field %s key: %w", n.GoName, err)
			}
			set = append(set, prog.V(k))
			if n.Kind == schema.Map {
				s, err := n.Value.Encode(it.Value())
				if err != nil {
					return fmt.Errorf("field %s: %w", n.GoName, err)
				}
				set = append(set, prog.V(s))
			}
		}
		it = bv.MapRange()
		for it.Next() {
			if !av.MapIndex(it.Key()).IsValid() {
				k, err := n.Key.Encode(it.Key())
				if err != nil {
					return fmt.Errorf("field %s key: %w", n.GoName, err)
				}
				del = append(del, prog.V(k))
			}
		}
		if len(del) > 0 {
			op := map[schema.NodeKind]string{schema.Map: "mdel", schema.Set: "srem"}[n.Kind]
			w.b.Emit(op, append([]prog.Arg{root, prog.K(key)}, del...)...)
		}
		if len(set) > 0 {
			op := map[schema.NodeKind]string{schema.Map: "mset", schema.Set: "sadd"}[n.Kind]
			w.b.Emit(op, append([]prog.Arg{root, prog.K(key)}, set...)...)
		}
	}
	return nil
}
