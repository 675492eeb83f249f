package lens

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// Field is a typed path from a model S to a value A stored inside it.
//
// A Field is an immutable value: copy it, keep it in a package variable, use it
// from any goroutine. The zero Field is invalid; every operation built on it
// reports rapyer.ErrInvalid.
type Field[S, A any] struct {
	p *path
	// direct is the accessor itself, kept when no pointer lies on the path,
	// so Get and Set cost one function call.
	direct func(*S) *A
}

// path is what an accessor resolves to, once.
type path struct {
	steps []step
	names []string
	name  string
	ns    string          // the prefix of the stored names of a struct's fields (schema.Node.Namespace)
	shown string          // String(): "Account.balance", made once
	ptr   bool            // some step dereferences a pointer to a struct
	kind  schema.NodeKind // how the target is stored
	node  *schema.Node    // the target's node, for lenses made by Make (nil for Compose)
}

type step struct {
	index int
	deref bool         // the field is a pointer to a struct, followed to its target
	elem  reflect.Type // the pointee type, for deref steps
}

// Of builds the Field that accessor points at. It panics when the accessor
// does not return the address of a stored field of S; use it in package-level
// var blocks, where a mistake should stop the program at start-up. Make is
// the variant that returns the error.
//
//	var Balance = lens.Of(func(a *Account) *int { return &a.Balance })
func Of[S, A any](accessor func(*S) *A) Field[S, A] {
	f, err := Make(accessor)
	if err != nil {
		panic(err)
	}
	return f
}

// Make builds the Field that accessor points at, or returns an error wrapping
// rapyer.ErrInvalid (the accessor does not return the address of a stored field of
// S) or rapyer.ErrUnsupported (S has a field that cannot be stored).
//
// The accessor is called once, here, on a probe value in which every
// pointer-to-struct field is allocated; it must do nothing but take the
// address of a field.
func Make[S, A any](accessor func(*S) *A) (Field[S, A], error) {
	if accessor == nil {
		return Field[S, A]{}, fmt.Errorf("%w: nil accessor", errs.Invalid)
	}
	st := reflect.TypeFor[S]()
	model, err := schema.Of(st)
	if err != nil {
		return Field[S, A]{}, err
	}
	p, err := resolve(model, reflect.TypeFor[A](), func(probe unsafe.Pointer) unsafe.Pointer {
		return unsafe.Pointer(accessor((*S)(probe)))
	})
	if err != nil {
		return Field[S, A]{}, err
	}
	p.shown = st.Name() + "." + p.name
	f := Field[S, A]{p: p}
	if !p.ptr {
		f.direct = accessor
	}
	return f, nil
}

// region is one allocated struct of the probe.
type region struct {
	base  uintptr
	typ   reflect.Type
	nodes []*schema.Node
	steps []step
}

func resolve(model *schema.Model, target reflect.Type, call func(unsafe.Pointer) unsafe.Pointer) (p *path, err error) {
	root := reflect.New(model.Type)
	regions := []region{{base: root.Pointer(), typ: model.Type, nodes: model.Top}}
	var alloc func(v reflect.Value, nodes []*schema.Node, steps []step)
	alloc = func(v reflect.Value, nodes []*schema.Node, steps []step) {
		for _, n := range nodes {
			if n.Kind != schema.Struct {
				continue
			}
			fv := v.Field(n.Index)
			here := append(append([]step(nil), steps...), step{index: n.Index})
			if n.Ptr {
				target := reflect.New(n.Type.Elem())
				fv.Set(target)
				here[len(here)-1].deref, here[len(here)-1].elem = true, n.Type.Elem()
				regions = append(regions, region{base: target.Pointer(), typ: n.Type.Elem(), nodes: n.Children, steps: here})
				alloc(target.Elem(), n.Children, here)
			} else {
				alloc(fv, n.Children, here)
			}
		}
	}
	alloc(root.Elem(), model.Top, nil)

	var got unsafe.Pointer
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: the accessor panicked: %v", errs.Invalid, r)
			}
		}()
		got = call(root.UnsafePointer())
	}()
	if err != nil {
		return nil, err
	}
	if got == nil {
		return nil, fmt.Errorf("%w: the accessor returned nil", errs.Invalid)
	}
	addr := uintptr(got)
	for _, r := range regions {
		if addr < r.base || addr >= r.base+r.typ.Size() {
			continue
		}
		matches := find(r.typ, r.nodes, addr-r.base, target, r.steps)
		switch len(matches) {
		case 1:
			return matches[0], embeddedClash(model, matches[0])
		case 0:
			return nil, fmt.Errorf("%w: the accessor returns a %s inside %s that is not a stored field of that type (unexported, skipped with redis:\"-\", or the struct itself)", errs.Invalid, target, model.Type)
		default:
			return nil, fmt.Errorf("%w: the accessor's target in %s is ambiguous (zero-size fields share an address)", errs.Invalid, model.Type)
		}
	}
	return nil, fmt.Errorf("%w: the accessor does not return the address of a field of %s", errs.Invalid, model.Type)
}

// embeddedClash refuses a lens to an embedded struct whose name, which no
// stored field takes (its fields are promoted), is the stored name of
// another field, or of another embedded struct: ops on it would find that
// one instead.
func embeddedClash(model *schema.Model, p *path) error {
	if n, ok := model.Lookup(p.name); ok && n == p.node {
		return nil
	}
	return fmt.Errorf("%w: the accessor returns the embedded struct %s of %s, whose name %q another field takes too: make lenses of its promoted fields instead", errs.Invalid, p.node.GoName, model.Type, p.name)
}

// find lists the stored fields of type target at offset off in a struct of type t.
func find(t reflect.Type, nodes []*schema.Node, off uintptr, target reflect.Type, prefix []step) []*path {
	var out []*path
	for _, n := range nodes {
		sf := t.Field(n.Index)
		size := sf.Type.Size()
		inside := off >= sf.Offset && off < sf.Offset+size
		if !inside && !(size == 0 && off == sf.Offset) {
			continue
		}
		steps := append(append([]step(nil), prefix...), step{index: n.Index})
		if off == sf.Offset && n.Type == target {
			out = append(out, newPath(steps, n))
		}
		if n.Kind == schema.Struct && !n.Ptr {
			out = append(out, find(sf.Type, n.Children, off-sf.Offset, target, steps)...)
		}
	}
	return out
}

func newPath(steps []step, n *schema.Node) *path {
	p := &path{steps: steps, name: n.Name, names: strings.Split(n.Name, "."), kind: n.Kind, ns: n.Namespace(), node: n}
	for _, s := range steps {
		p.ptr = p.ptr || s.deref
	}
	return p
}

// Valid reports whether f was built by Of, Make, Compose or Through.
func (f Field[S, A]) Valid() bool { return f.p != nil }

// Path is the stored dotted path of the field, "address.city": the name of a
// root-hash field for scalars, the key suffix for collections.
func (f Field[S, A]) Path() string {
	if f.p == nil {
		return ""
	}
	return f.p.name
}

// Names is Path split at its dots.
func (f Field[S, A]) Names() []string {
	if f.p == nil {
		return nil
	}
	return append([]string(nil), f.p.names...)
}

// String describes the field for messages: "Account.balance".
func (f Field[S, A]) String() string {
	if f.p == nil {
		return reflect.TypeFor[S]().Name() + ".<invalid lens>"
	}
	return f.p.shown
}

// Get returns the value the field holds in s. A nil pointer on the way gives
// the zero A.
func (f Field[S, A]) Get(s S) A {
	if f.direct != nil {
		return *f.direct(&s)
	}
	var zero A
	if f.p == nil {
		return zero
	}
	v := reflect.ValueOf(&s).Elem()
	for _, st := range f.p.steps {
		v = v.Field(st.index)
		if st.deref {
			if v.IsNil() {
				return zero
			}
			v = v.Elem()
		}
	}
	return v.Interface().(A)
}

// Set returns a copy of s in which the field holds a. s itself is not changed:
// a pointer to a struct on the way is copied, not written through, and a nil
// one is allocated.
func (f Field[S, A]) Set(s S, a A) S {
	if f.direct != nil {
		*f.direct(&s) = a
		return s
	}
	if f.p == nil {
		return s
	}
	v := reflect.ValueOf(&s).Elem()
	for _, st := range f.p.steps {
		v = v.Field(st.index)
		if st.deref {
			fresh := reflect.New(st.elem)
			if !v.IsNil() {
				fresh.Elem().Set(v.Elem())
			}
			v.Set(fresh)
			v = fresh.Elem()
		}
	}
	v.Set(reflect.ValueOf(&a).Elem())
	return s
}

// Modify returns a copy of s in which the field holds fn of what it held.
func (f Field[S, A]) Modify(s S, fn func(A) A) S { return f.Set(s, fn(f.Get(s))) }

// Compose chains two fields: from S to a struct M inside it, then from M to A.
// The result is invalid when either is, or when outer's struct is not
// flattened into named fields (it is stored as one text value because it
// has a MarshalText method).
//
//	var City = lens.Compose(Address, lens.Of(func(a *Address) *string { return &a.City }))
func Compose[S, M, A any](outer Field[S, M], inner Field[M, A]) Field[S, A] {
	if outer.p == nil || inner.p == nil || outer.p.kind != schema.Struct {
		return Field[S, A]{}
	}
	// The fields of an embedded struct are promoted: they are stored under
	// the namespace of the struct that embeds it, not under its name.
	name, ns := inner.p.name, inner.p.ns
	if outer.p.ns != "" {
		name = outer.p.ns + "." + name
		ns = strings.TrimPrefix(outer.p.ns+"."+ns, ".")
		if inner.p.ns == "" {
			ns = outer.p.ns
		}
	}
	p := &path{
		steps: append(append([]step(nil), outer.p.steps...), inner.p.steps...),
		names: strings.Split(name, "."),
		name:  name,
		ns:    ns,
		ptr:   outer.p.ptr || inner.p.ptr,
		kind:  inner.p.kind,
	}
	p.shown = reflect.TypeFor[S]().Name() + "." + p.name
	f := Field[S, A]{p: p}
	if !p.ptr {
		og, ig := outer.direct, inner.direct
		f.direct = func(s *S) *A { return ig(og(s)) }
	}
	return f
}

// Through chains a field holding a pointer to a struct M with a field of M:
// from S through the pointer to A, as Of's paths through pointers go (Of
// of func(u *User) *string { return &u.Profile.Email } is the same field).
// Get through a nil pointer gives the zero A; Set allocates the pointer
// when it is nil and otherwise copies what it points at, so s is never
// written through. Compose cannot take outer, whose value is *M, not M.
// The result is invalid when either field is, or when M is not flattened
// into named fields (it has a MarshalText method).
//
//	var Email = lens.Through(Profile, lens.Of(func(p *Profile) *string { return &p.Email }))
func Through[S, M, A any](outer Field[S, *M], inner Field[M, A]) Field[S, A] {
	if outer.p == nil || inner.p == nil || outer.p.kind != schema.Struct || len(outer.p.steps) == 0 {
		return Field[S, A]{}
	}
	p := *outer.p
	p.steps = append([]step(nil), outer.p.steps...)
	last := &p.steps[len(p.steps)-1]
	last.deref, last.elem = true, reflect.TypeFor[M]()
	p.ptr = true
	return Compose(Field[S, M]{p: &p}, inner)
}
