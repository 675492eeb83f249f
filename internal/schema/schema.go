// Package schema resolves, once per Go type, how a struct is laid out in Redis:
// which fields are scalars of the root hash, which are lists, hashes and sets
// of their own, what each is called, and how each value is encoded.
package schema

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
)

// NodeKind says where a field is stored.
type NodeKind int

// The kinds of node. Scalars and struct markers are fields of the root hash;
// lists, maps and sets are keys of their own.
const (
	Scalar NodeKind = iota + 1
	Struct
	List
	Map
	Set
)

var nodeKindNames = map[NodeKind]string{Scalar: "scalar", Struct: "struct", List: "list", Map: "map", Set: "set"}

// String names the kind: "scalar", "list", ...
func (k NodeKind) String() string { return nodeKindNames[k] }

// Collection reports whether nodes of this kind live at a key of their own.
func (k NodeKind) Collection() bool { return k == List || k == Map || k == Set }

// RedisType is the name TYPE returns for the key of a collection node.
func (k NodeKind) RedisType() string {
	switch k {
	case List:
		return "list"
	case Map:
		return "hash"
	case Set:
		return "set"
	}
	return ""
}

// Node is one field of a model, found by walking its struct type.
type Node struct {
	// Name is the stored dotted path: "address.city".
	Name string
	// GoName is the Go dotted path, for messages: "Address.City".
	GoName string
	// Index is the field's index in its parent struct.
	Index int
	Kind  NodeKind
	// Type is the Go type of the field as declared (a pointer where Ptr is set).
	Type reflect.Type
	// Ptr is set for pointer fields: *scalar (nil is an absent field) and
	// *struct (nil is an absent marker).
	Ptr bool
	// Value is the codec of a scalar field (of the pointee for Ptr), of list
	// elements, map values and set members.
	Value *Codec
	// Key is the codec of map keys.
	Key *Codec
	// Children are the fields of a struct node.
	Children []*Node
	// Parent is the enclosing struct node, nil at the top level.
	Parent *Node
	// Offset is the field's offset in its parent struct, in bytes: At
	// finds the field from the parent's address.
	Offset uintptr
	// Embedded is set for an embedded struct field without a name tag
	// (type User struct { Base; ... }): its fields are promoted, stored
	// under their own names in the namespace of the embedding struct, as
	// encoding/json does. The node itself has no stored field, but for the
	// marker of an embedded pointer (*Base), stored under the snake case of
	// the type's name.
	Embedded bool

	// Compiled access to the value in place (access.go), set once when the
	// model is resolved.
	list list           // List nodes
	hash hash           // Map and Set nodes
	elem reflect.Type   // the pointee of Ptr nodes
	zero unsafe.Pointer // a zero pointee of Ptr struct nodes, never written
}

// Model is the resolved layout of a struct type.
type Model struct {
	Type reflect.Type
	// Top are the top-level fields, in declaration order.
	Top []*Node
	// Scalars are all scalar nodes, depth first; Collections all collection
	// nodes; Markers the nodes of pointer-to-struct fields.
	Scalars, Collections, Markers []*Node
	byName                        map[string]*Node
	// embedded are the nodes of embedded structs (not pointers), which
	// have no stored field of their own, by the snake-case name a lens to
	// one takes; nil where two share a name.
	embedded map[string]*Node
}

// Lookup finds the node with a stored dotted path, or the node of an
// embedded struct (type User struct { Base; ... }) by the name a lens to
// it takes ("base"), when no stored field has that name: ops on such a
// lens change the promoted fields.
func (m *Model) Lookup(name string) (*Node, bool) {
	if n, ok := m.byName[name]; ok {
		return n, true
	}
	n := m.embedded[name]
	return n, n != nil
}

// Namespace is the dotted prefix of the stored names of a struct node's
// fields: its own name, or for an embedded struct (whose fields are
// promoted) that of the nearest enclosing struct that is not embedded, ""
// at the top level.
func (n *Node) Namespace() string {
	if !n.Embedded {
		return n.Name
	}
	return strings.TrimSuffix(storedName(n.Parent, ""), ".")
}

// Reserved is the prefix of field names the library keeps for itself.
const Reserved = "__"

var cache sync.Map // reflect.Type -> *entry

type entry struct {
	m   *Model
	err error
}

// Of resolves the layout of struct type t, once; later calls return the
// cached result. An unsupported field gives an error wrapping
// errs.Unsupported that names it.
func Of(t reflect.Type) (*Model, error) {
	if e, ok := cache.Load(t); ok {
		return e.(*entry).m, e.(*entry).err
	}
	m, err := build(t)
	e, _ := cache.LoadOrStore(t, &entry{m, err})
	return e.(*entry).m, e.(*entry).err
}

// For is Of for a type parameter.
func For[T any]() (*Model, error) { return Of(reflect.TypeFor[T]()) }

func build(t reflect.Type) (*Model, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: a model must be a struct, not %s", errs.Unsupported, t)
	}
	m := &Model{Type: t, byName: map[string]*Node{}, embedded: map[string]*Node{}}
	top, err := m.walk(t, nil, map[reflect.Type]bool{t: true})
	if err != nil {
		return nil, err
	}
	m.Top = top
	return m, nil
}

func (m *Model) walk(t reflect.Type, parent *Node, inPath map[reflect.Type]bool) ([]*Node, error) {
	var nodes []*Node
	exported := 0
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		exported++
		tag := f.Tag.Get("redis")
		if tag == "-" {
			continue
		}
		name := strings.Split(tag, ",")[0]
		if name == "" {
			name = SnakeCase(f.Name)
		}
		n := &Node{Name: storedName(parent, name), GoName: f.Name, Index: i, Type: f.Type, Parent: parent, Offset: f.Offset}
		if parent != nil {
			n.GoName = parent.GoName + "." + f.Name
		}
		n.Embedded = f.Anonymous && strings.Split(tag, ",")[0] == "" && promoted(f.Type)
		if err := ValidName(name); err != nil {
			return nil, errs.At(fmt.Sprintf("field %s of %s", n.GoName, m.Type), err)
		}
		// The node of an embedded struct holds no stored field of its own,
		// unless it is a pointer (its marker).
		stored := !n.Embedded || f.Type.Kind() == reflect.Pointer
		if other, dup := m.byName[n.Name]; dup && stored {
			return nil, fmt.Errorf("%w: field %s of %s: the stored name %q is used twice, by field %s too; give one a redis:\"name\" tag, or redis:\"-\"", errs.Unsupported, n.GoName, m.Type, n.Name, other.GoName)
		}
		if err := m.classify(n, inPath); err != nil {
			return nil, err
		}
		if stored {
			m.byName[n.Name] = n
		} else if _, seen := m.embedded[n.Name]; seen {
			m.embedded[n.Name] = nil
		} else {
			m.embedded[n.Name] = n
		}
		nodes = append(nodes, n)
	}
	if exported == 0 && parent != nil {
		return nil, fmt.Errorf("%w: field %s of %s: struct %s has no exported fields", errs.Unsupported, parent.GoName, m.Type, t)
	}
	return nodes, nil
}

// storedName is the stored dotted path of a field called name in parent:
// the fields of an embedded struct take the path of the struct that embeds
// it.
func storedName(parent *Node, name string) string {
	for parent != nil && parent.Embedded {
		parent = parent.Parent
	}
	if parent == nil {
		return name
	}
	return parent.Name + "." + name
}

// promoted reports whether an embedded field of type t has its fields
// promoted: a struct or a pointer to one, that is not stored as one scalar
// (time.Time, a TextMarshaler).
func promoted(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	_, err := ScalarCodec(t)
	return err != nil
}

func (m *Model) classify(n *Node, inPath map[reflect.Type]bool) error {
	unsupported := func(why string) error {
		return fmt.Errorf("%w: field %s of %s (%s): %s", errs.Unsupported, n.GoName, m.Type, n.Type, why)
	}
	t := n.Type
	if t.Kind() == reflect.Pointer {
		n.Ptr = true
		t = t.Elem()
		if t.Kind() == reflect.Pointer {
			return unsupported("pointers to pointers cannot be stored")
		}
	}
	if n.Ptr {
		n.elem = t
	}
	if c, err := ScalarCodec(t); err == nil {
		n.Kind, n.Value = Scalar, c
		m.Scalars = append(m.Scalars, n)
		return nil
	}
	if n.Ptr && (t.Kind() == reflect.Slice || t.Kind() == reflect.Map) {
		return unsupported("pointers to collections cannot be stored")
	}
	switch t.Kind() {
	case reflect.Struct:
		if inPath[t] {
			return unsupported("recursive struct types cannot be flattened")
		}
		n.Kind = Struct
		inPath[t] = true
		children, err := m.walk(t, n, inPath)
		delete(inPath, t)
		if err != nil {
			return err
		}
		n.Children = children
		if n.Ptr {
			n.zero = reflect.New(t).UnsafePointer()
			m.Markers = append(m.Markers, n)
		}
		return nil
	case reflect.Slice:
		c, err := ElemCodec(t.Elem())
		if err != nil {
			return unsupported(err.Error())
		}
		n.Kind, n.Value = List, c
		n.list = listOf(c)
	case reflect.Map:
		if why := classifyMap(n, t); why != "" {
			return unsupported(why)
		}
	default:
		return unsupported(fmt.Sprintf("%s fields cannot be stored", t.Kind()))
	}
	m.Collections = append(m.Collections, n)
	return nil
}

// classifyMap makes n, of map type t, a set (a map to struct{}) or a map,
// or says why it cannot be stored.
func classifyMap(n *Node, t reflect.Type) (why string) {
	k, err := ScalarCodec(t.Key())
	if err != nil {
		return "map keys must be scalars"
	}
	n.Key = k
	if t.Elem().Kind() == reflect.Struct && t.Elem().NumField() == 0 {
		n.Kind, n.Value = Set, k
	} else {
		c, err := ElemCodec(t.Elem())
		if err != nil {
			return err.Error()
		}
		n.Kind, n.Value = Map, c
	}
	n.hash = hashOf(t, n.Kind, n.Key, n.Value)
	return ""
}

// ValidName checks a stored field name: not empty, not reserved, and free of
// the characters the key layout gives meaning to.
func ValidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty field name", errs.Unsupported)
	case strings.HasPrefix(name, Reserved):
		return fmt.Errorf("%w: field name %q starts with the reserved %q", errs.Unsupported, name, Reserved)
	}
	return keys.CheckField(name)
}

// SnakeCase derives the default stored name from a Go name:
// "Balance" -> "balance", "CreatedAt" -> "created_at", "HTTPServer" -> "http_server", "UserID" -> "user_id".
// The plural of an acronym stays one word: "UserIDs" -> "user_ids".
func SnakeCase(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 {
				prevLower := unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				// "IDs", "URLsFor": the lone s ends the acronym before it.
				plural := nextLower && rs[i+1] == 's' && (i+2 == len(rs) || !unicode.IsLower(rs[i+2]))
				if prevLower || (nextLower && !plural && unicode.IsUpper(rs[i-1])) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
