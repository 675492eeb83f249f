package codec

// This file keeps the codec as it was before values were reached through
// compiled accessors: every field walked with reflect.Value. It is the
// oracle of the tests that compare the compiled paths with it
// (compiled_test.go), and must not change with them (but for the one bug
// fix marked below).

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// refEmitModel emits the instructions that replace the whole model at t with v
// (a value of t.Model.Type): every field, collections included.
func refEmitModel(b *prog.Builder, t prog.Target, v reflect.Value) error {
	b.Creates(t.Root)
	b.Reset(t.Root)
	w := &refWriter{b: b, t: t}
	if err := w.fields(v, t.Model.Top); err != nil {
		return err
	}
	w.flush()
	for _, n := range t.Model.Collections {
		b.Clear(t.Root, t.Key(n), n.Kind.RedisType())
	}
	return w.collections()
}

// refEmitNode emits the instructions that set the field n of the model at t to
// v (a value of n.Type): a scalar, a collection, or a nested struct with
// everything under it.
func refEmitNode(b *prog.Builder, t prog.Target, n *schema.Node, v reflect.Value) error {
	w := &refWriter{b: b, t: t}
	var dels []string
	var clear func(n *schema.Node)
	clear = func(n *schema.Node) {
		switch {
		case n.Kind == schema.Scalar || (n.Kind == schema.Struct && n.Ptr):
			dels = append(dels, n.Name)
		case n.Kind.Collection():
			b.Clear(t.Root, t.Key(n), n.Kind.RedisType())
		}
		for _, c := range n.Children {
			clear(c)
		}
	}
	clear(n)
	if len(dels) > 0 {
		b.HDel(t.Root, dels...)
	}
	if err := w.field(v, n); err != nil {
		return err
	}
	w.flush()
	return w.collections()
}

type refWriter struct {
	b     *prog.Builder
	t     prog.Target
	pairs []string
	cols  []func() error
}

func (w *refWriter) flush() {
	if len(w.pairs) > 0 {
		w.b.HSet(w.t.Root, w.pairs...)
		w.pairs = nil
	}
}

func (w *refWriter) collections() error {
	for _, c := range w.cols {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func (w *refWriter) fields(v reflect.Value, nodes []*schema.Node) error {
	for _, n := range nodes {
		if err := w.field(v.Field(n.Index), n); err != nil {
			return err
		}
	}
	return nil
}

func (w *refWriter) field(fv reflect.Value, n *schema.Node) error {
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
			return errs.At(fmt.Sprintf("field %s", n.GoName), err)
		}
		w.pairs = append(w.pairs, n.Name, s)
	case schema.Struct:
		if n.Ptr {
			if fv.IsNil() {
				return nil
			}
			w.pairs = append(w.pairs, n.Name, MarkerValue)
			fv = fv.Elem()
		}
		return w.fields(fv, n.Children)
	default:
		if fv.Len() == 0 {
			return nil
		}
		args, err := refElements(n, fv)
		if err != nil {
			return err
		}
		key := w.t.Key(n)
		w.cols = append(w.cols, func() error {
			refFill(w.b, n.Kind, w.t.Root, key, args)
			return nil
		})
	}
	return nil
}

// refFill emits the instruction that adds args to a collection of kind k.
func refFill(b *prog.Builder, k schema.NodeKind, root, key string, args []string) {
	switch k {
	case schema.List:
		b.RPush(root, key, args...)
	case schema.Map:
		b.MSet(root, key, args...)
	default:
		b.SAdd(root, key, args...)
	}
}

// refElements encodes a collection value as instruction arguments: list
// elements in order, map keys and values in turn, set members.
func refElements(n *schema.Node, v reflect.Value) ([]string, error) {
	var out []string
	switch n.Kind {
	case schema.List:
		out = make([]string, 0, v.Len())
		for i := range v.Len() {
			s, err := n.Value.Encode(v.Index(i))
			if err != nil {
				return nil, errs.At(fmt.Sprintf("field %s[%d]", n.GoName, i), err)
			}
			out = append(out, s)
		}
	case schema.Map, schema.Set:
		out = make([]string, 0, 2*v.Len())
		it := v.MapRange()
		for it.Next() {
			k, err := n.Key.Encode(it.Key())
			if err != nil {
				return nil, errs.At(fmt.Sprintf("field %s key", n.GoName), err)
			}
			out = append(out, k)
			if n.Kind == schema.Map {
				s, err := n.Value.Encode(it.Value())
				if err != nil {
					return nil, errs.At(fmt.Sprintf("field %s[%v]", n.GoName, it.Key()), err)
				}
				out = append(out, s)
			}
		}
	default:
		return nil, fmt.Errorf("%w: field %s is not a collection", errs.Invalid, n.GoName)
	}
	return out, nil
}

// refDecode fills v (a settable value of m.Type) from d. Values that do not
// parse give errors wrapping errs.Corrupt that name the field.
func refDecode(m *schema.Model, d Data, v reflect.Value) error {
	return refDecodeFields(d, v, m.Top)
}

func refDecodeFields(d Data, v reflect.Value, nodes []*schema.Node) error {
	for _, n := range nodes {
		if err := refDecodeField(d, v.Field(n.Index), n); err != nil {
			return err
		}
	}
	return nil
}

func refDecodeField(d Data, fv reflect.Value, n *schema.Node) error {
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
			return errs.At(fmt.Sprintf("field %s (%s)", n.GoName, n.Name), err)
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
		return refDecodeFields(d, fv, n.Children)
	default:
		return refDecodeCollection(n, d.Collections[n.Name], fv)
	}
	return nil
}

// refDecodeCollection fills fv from a raw collection; an absent or empty one
// gives nil.
func refDecodeCollection(n *schema.Node, raw any, fv reflect.Value) error {
	if fv.CanAddr() && refDecodeCommon(n, raw, fv) {
		return nil
	}
	wrap := func(err error) error { return errs.At(fmt.Sprintf("field %s (%s)", n.GoName, n.Name), err) }
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
				return wrap(errs.At(fmt.Sprintf("element %d", i), err))
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
				return wrap(errs.At("member", err))
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
				return wrap(errs.At("key", err))
			}
			val.SetZero()
			if err := n.Value.Decode(vs, val); err != nil {
				return wrap(errs.At(fmt.Sprintf("value of %q", ks), err))
			}
			m.SetMapIndex(k, val)
		}
		fv.Set(m)
	}
	return nil
}

var (
	refStringsType      = reflect.TypeFor[[]string]()
	refStringMapType    = reflect.TypeFor[map[string]string]()
	refStringIntMapType = reflect.TypeFor[map[string]int]()
	refStringI64MapType = reflect.TypeFor[map[string]int64]()
	refStringF64MapType = reflect.TypeFor[map[string]float64]()
	refStringSetType    = reflect.TypeFor[map[string]struct{}]()
)

// refDecodeCommon fills the most common collection types without reflection
// per element, and reports whether it did. Anything it cannot read exactly
// as the general path would (a number that does not parse, a named type)
// is left to the general path, which also makes its error.
func refDecodeCommon(n *schema.Node, raw any, fv reflect.Value) bool {
	switch n.Type {
	case refStringsType:
		items, ok := raw.([]string)
		if !ok || len(items) == 0 {
			return false
		}
		// A copy: the same read may be decoded twice (a model lock keeps
		// the value before and after), and neither may share the other's.
		*fv.Addr().Interface().(*[]string) = append([]string(nil), items...)
		return true
	case refStringSetType:
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
	case refStringMapType:
		m := make(map[string]string, len(items))
		for k, v := range items {
			m[k] = v
		}
		*fv.Addr().Interface().(*map[string]string) = m
		return true
	case refStringIntMapType:
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
	case refStringI64MapType:
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
	case refStringF64MapType:
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

// refEmitDiff emits the instructions that turn the model at t from before into
// after, field by field: changed scalars are set or removed, lists that only
// grew at the end get the new elements appended, maps and sets get the items
// that changed, and other changed collections are replaced. Unchanged fields
// emit nothing, so writers of other fields are not overwritten.
func refEmitDiff(b *prog.Builder, t prog.Target, before, after reflect.Value) error {
	w := &refWriter{b: b, t: t}
	var dels []string
	if err := w.diff(before, after, t.Model.Top, &dels); err != nil {
		return err
	}
	if len(dels) > 0 {
		b.HDel(t.Root, dels...)
	}
	w.flush()
	return w.collections()
}

func (w *refWriter) diff(before, after reflect.Value, nodes []*schema.Node, dels *[]string) error {
	for _, n := range nodes {
		bv, av := before.Field(n.Index), after.Field(n.Index)
		switch n.Kind {
		case schema.Scalar:
			bs, bok, err := refScalarText(n, bv)
			if err != nil {
				return err
			}
			as, aok, err := refScalarText(n, av)
			if err != nil {
				return err
			}
			switch {
			case !aok && bok:
				*dels = append(*dels, n.Name)
			case aok && (!bok || as != bs):
				w.pairs = append(w.pairs, n.Name, as)
			}
		case schema.Struct:
			if n.Ptr {
				switch {
				case bv.IsNil() && av.IsNil():
					continue
				case av.IsNil():
					if err := refEmitNode(w.b, w.t, n, av); err != nil {
						return err
					}
					continue
				case bv.IsNil():
					w.pairs = append(w.pairs, n.Name, MarkerValue)
					// .Elem() added: the codec this file keeps panicked
					// here (Field of a pointer Value) when a nil
					// pointer-to-struct field was set.
					bv = reflect.New(n.Type.Elem()).Elem()
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

// refScalarText encodes a scalar field; ok is false for a nil pointer.
func refScalarText(n *schema.Node, v reflect.Value) (string, bool, error) {
	if n.Ptr {
		if v.IsNil() {
			return "", false, nil
		}
		v = v.Elem()
	}
	s, err := n.Value.Encode(v)
	if err != nil {
		return "", false, errs.At(fmt.Sprintf("field %s", n.GoName), err)
	}
	return s, true, nil
}

func (w *refWriter) diffCollection(n *schema.Node, bv, av reflect.Value) error {
	key := w.t.Key(n)
	root := w.t.Root
	replace := func() error {
		w.b.Clear(root, key, n.Kind.RedisType())
		if av.Len() == 0 {
			return nil
		}
		args, err := refElements(n, av)
		if err != nil {
			return err
		}
		refFill(w.b, n.Kind, root, key, args)
		return nil
	}
	switch n.Kind {
	case schema.List:
		bl, al := bv.Len(), av.Len()
		if bl == al && reflect.DeepEqual(bv.Interface(), av.Interface()) {
			return nil
		}
		if al > bl && reflect.DeepEqual(bv.Slice(0, bl).Interface(), av.Slice(0, bl).Interface()) {
			args, err := refElements(n, av.Slice(bl, al))
			if err != nil {
				return err
			}
			w.b.RPush(root, key, args...)
			return nil
		}
		if al < bl && al > 0 && reflect.DeepEqual(bv.Slice(0, al).Interface(), av.Slice(0, al).Interface()) {
			w.b.LTrim(root, key, "0", strconv.Itoa(al))
			return nil
		}
		if al > 0 && bl > 0 {
			// few changed elements: LSET each, then the new tail or the cut
			bs, err := refElements(n, bv)
			if err != nil {
				return err
			}
			as, err := refElements(n, av)
			if err != nil {
				return err
			}
			var changed []int
			for i := range min(bl, al) {
				if !reflect.DeepEqual(bs[i], as[i]) {
					changed = append(changed, i)
				}
			}
			if len(changed) <= ListSetMax(min(bl, al)) {
				for _, i := range changed {
					w.b.LSet(root, key, strconv.Itoa(i), as[i])
				}
				if al > bl {
					w.b.RPush(root, key, as[bl:]...)
				} else if al < bl {
					w.b.LTrim(root, key, "0", strconv.Itoa(al))
				}
				return nil
			}
		}
		return replace()
	case schema.Map, schema.Set:
		var set, del []string
		it := av.MapRange()
		for it.Next() {
			old := bv.MapIndex(it.Key())
			if old.IsValid() && (n.Kind == schema.Set || reflect.DeepEqual(old.Interface(), it.Value().Interface())) {
				continue
			}
			k, err := n.Key.Encode(it.Key())
			if err != nil {
				return errs.At(fmt.Sprintf("field %s key", n.GoName), err)
			}
			set = append(set, k)
			if n.Kind == schema.Map {
				s, err := n.Value.Encode(it.Value())
				if err != nil {
					return errs.At(fmt.Sprintf("field %s", n.GoName), err)
				}
				set = append(set, s)
			}
		}
		it = bv.MapRange()
		for it.Next() {
			if !av.MapIndex(it.Key()).IsValid() {
				k, err := n.Key.Encode(it.Key())
				if err != nil {
					return errs.At(fmt.Sprintf("field %s key", n.GoName), err)
				}
				del = append(del, k)
			}
		}
		if len(del) > 0 {
			if n.Kind == schema.Map {
				w.b.MDel(root, key, del...)
			} else {
				w.b.SRem(root, key, del...)
			}
		}
		if len(set) > 0 {
			refFill(w.b, n.Kind, root, key, set)
		}
	}
	return nil
}

// The reflect-walking codec, for the external tests.
var (
	RefEmitModel = refEmitModel
	RefEmitNode  = refEmitNode
	RefEmitDiff  = refEmitDiff
	RefFill      = refFill
	RefDecode    = refDecode
	RefElements  = refElements
)
