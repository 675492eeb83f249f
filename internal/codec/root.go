package codec

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// VersionField is the root-hash field that holds a model's version; a root
// without it is a missing model.
const VersionField = schema.Reserved + "v"

// Root is the compiled reader of a model's root hash: each field the model
// keeps there (the version, the scalars, the markers of pointer-to-struct
// fields) has a slot, a reply's fields are put in their slots as they come
// (Fields.Put), and Decode fills a value from the slots by the same walk as
// Decode of a Data: no map is built, and a field is found by its slot.
type Root struct {
	names []string       // the stored name of each slot; slot 0 is the version
	slots map[string]int // the slot of each name
	top   []rnode
}

// rnode is a node of the model with the slot of its root-hash field (-1
// for a collection or a struct without a marker).
type rnode struct {
	n    *schema.Node
	slot int
	kids []rnode
}

var roots sync.Map // *schema.Model -> *Root

// RootOf is the Root of m, compiled once.
func RootOf(m *schema.Model) *Root {
	if r, ok := roots.Load(m); ok {
		return r.(*Root)
	}
	r := &Root{names: []string{VersionField}, slots: map[string]int{VersionField: 0}}
	r.top = r.compile(m.Top)
	got, _ := roots.LoadOrStore(m, r)
	return got.(*Root)
}

func (r *Root) compile(nodes []*schema.Node) []rnode {
	out := make([]rnode, len(nodes))
	for i, n := range nodes {
		out[i] = rnode{n: n, slot: -1}
		if n.Kind == schema.Scalar || (n.Kind == schema.Struct && n.Ptr) {
			out[i].slot = len(r.names)
			r.slots[n.Name] = len(r.names)
			r.names = append(r.names, n.Name)
		}
		out[i].kids = r.compile(n.Children)
	}
	return out
}

// MaxFields is the most fields a model may keep in its root hash (its
// version included) for Fields to read it.
const MaxFields = 32

// Fields are the values of one root hash, by slot, kept in itself (a local
// Fields needs no allocation). Start one with Root.Start.
type Fields struct {
	r    *Root
	next int // the slot the next field is likely to fill
	vals [MaxFields]string
	have [MaxFields]bool
}

// Names are the stored names of the fields, by slot.
func (r *Root) Names() []string { return r.names }

// Fits reports whether Fields can read the root hash of r (MaxFields).
func (r *Root) Fits() bool { return len(r.names) <= MaxFields }

// Start makes f empty, for a root hash of r, which must fit (Fits).
func (r *Root) Start(f *Fields) {
	f.r = r
	f.next = 0
	f.have = [MaxFields]bool{}
}

// Put stores the field name's value; a name that is not the model's (a
// stray field) is ignored. Fields that come in the order of the slots (as
// a Save writes them) are found without a look-up.
func (f *Fields) Put(name, value string) {
	i := f.next
	if i >= len(f.r.names) || f.r.names[i] != name {
		var ok bool
		if i, ok = f.r.slots[name]; !ok {
			return
		}
	}
	f.vals[i], f.have[i], f.next = value, true, i+1
}

// Version is the text of the version field, and whether there is one.
func (f *Fields) Version() (string, bool) { return f.vals[0], f.have[0] }

// Decode fills the value v points to, which must be a Type of the model of
// f's Root, from f and the raw collections by node name (as in Data; nil
// for a model without collections), with the errors of Decode.
func (f *Fields) Decode(collections map[string]any, v unsafe.Pointer) error {
	return decodeFields(&source{f: f, cols: collections}, v, f.r.top)
}

// source is where decodeFields finds a model's stored values: f's slots,
// or the map of a Data when f is nil.
type source struct {
	f    *Fields
	root map[string]string
	cols map[string]any
}

// field is the root-hash field of r, if there is one.
func (s *source) field(r *rnode) (string, bool) {
	if s.f != nil {
		return s.f.vals[r.slot], s.f.have[r.slot]
	}
	v, ok := s.root[r.n.Name]
	return v, ok
}

func decodeFields(d *source, v unsafe.Pointer, nodes []rnode) error {
	for i := range nodes {
		if err := decodeField(d, nodes[i].n.At(v), &nodes[i]); err != nil {
			return err
		}
	}
	return nil
}

// decodeField fills the field r.n, at p.
func decodeField(d *source, p unsafe.Pointer, r *rnode) error {
	n := r.n
	switch n.Kind {
	case schema.Scalar:
		s, ok := d.field(r)
		if !ok {
			n.Clear(p)
			return nil
		}
		target := p
		if n.Ptr {
			target = n.New()
			*(*unsafe.Pointer)(p) = target
		}
		if err := n.Value.DecodeAt(s, target); err != nil {
			return errs.At(fmt.Sprintf("field %s (%s)", n.GoName, n.Name), err)
		}
	case schema.Struct:
		if n.Ptr {
			if _, ok := d.field(r); !ok {
				n.Clear(p)
				return nil
			}
			target := n.New()
			*(*unsafe.Pointer)(p) = target
			p = target
		}
		return decodeFields(d, p, r.kids)
	default:
		return n.DecodeElements(d.cols[n.Name], p)
	}
	return nil
}
