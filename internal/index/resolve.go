package index

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// Resolve turns the declarations of a model type's indexes into Fields. It
// refuses, with errs.Unsupported naming the field, a lens of another type
// and a field that cannot be indexed (a struct, a map, JSON elements), and
// with errs.Invalid two indexes on one field.
func Resolve(m *schema.Model, decls []Decl) ([]Field, error) {
	out := make([]Field, 0, len(decls))
	seen := map[string]string{}
	for _, d := range decls {
		f, err := resolveOne(m, d)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[f.Name]; dup {
			return nil, fmt.Errorf("%w: Options.Indexes: %s and %s index one field, %s; keep one (Unique and Prefix serve On's queries too)", errs.Invalid, prev, describe(d), d.Shown)
		}
		seen[f.Name] = describe(d)
		out = append(out, f)
	}
	return out, nil
}

// describe is the declaration as it prints.
func describe(d Decl) string {
	name := map[byte]string{UseOn: "On", UsePrefix: "Prefix", UseUnique: "Unique", UseMembers: "Members"}[d.Use]
	return "index." + name + "(" + d.Shown + ")"
}

func resolveOne(m *schema.Model, d Decl) (Field, error) {
	if d.Err != nil {
		return Field{}, fmt.Errorf("%w: Options.Indexes: %s: %w", errs.Invalid, describe(d), d.Err)
	}
	if d.Model != m.Type {
		return Field{}, fmt.Errorf("%w: Options.Indexes: %s is a field of %s, not of the model's type %s", errs.Unsupported, describe(d), d.Model, m.Type)
	}
	n, ok := m.Lookup(d.Path)
	if !ok {
		return Field{}, fmt.Errorf("%w: Options.Indexes: %s: no stored field %q", errs.Unsupported, describe(d), d.Path)
	}
	refuse := func(why string) (Field, error) {
		return Field{}, fmt.Errorf("%w: Options.Indexes: %s: %s cannot be indexed: %s", errs.Unsupported, describe(d), n.GoName, why)
	}
	if strings.HasPrefix(n.Name, "@") {
		// a group's @meta holds an index's state under its name, beside
		// the library's own fields (@groups, @move, @reindex)
		return refuse("its stored name " + strconv.Quote(n.Name) + " starts with @, which the slot groups' @meta keeps for the library")
	}
	f := Field{Name: n.Name, Use: d.Use}
	switch {
	case d.Use == UseMembers:
		if n.Kind != schema.Set && n.Kind != schema.List {
			return refuse("Members takes a set (map[E]struct{}) or a list ([]E) of scalars; it is a " + n.Kind.String())
		}
		f.Coll = n.Kind.RedisType()
	case n.Kind != schema.Scalar:
		return refuse("it is a " + n.Kind.String() + "; index.On, Prefix and Unique take a scalar field (Members takes sets and lists)")
	}
	if n.Value == nil {
		return refuse("it has no scalar encoding")
	}
	k, ok := kindOf(n.Value.Kind)
	if !ok {
		return refuse("its values are " + n.Value.Kind.String() + ", which have no order")
	}
	f.Kind = k
	for p := n; p != nil && d.Use == UseUnique && !f.Null; p = p.Parent {
		if f.Null = p.Ptr; f.Null && p != n {
			f.Marker = p.Name
		}
	}
	if d.Use == UsePrefix && (k != KindString || n.Value.Kind == schema.Text) {
		return refuse("Prefix takes a string or []byte field")
	}
	return f, nil
}

// kindOf maps a scalar encoding to the kind IX.enc takes.
func kindOf(k schema.ScalarKind) (byte, bool) {
	switch k {
	case schema.Int, schema.Uint:
		return KindInt, true
	case schema.Float:
		return KindFloat, true
	case schema.String, schema.Bytes, schema.Text:
		return KindString, true
	case schema.Bool:
		return KindBool, true
	case schema.Time:
		return KindTime, true
	}
	return 0, false
}

// MakeDecl builds the declaration of an index on the field of S at path.
func MakeDecl(s, elem reflect.Type, path, shown string, use byte, err error) Decl {
	return Decl{Model: s, Path: path, Shown: shown, Elem: elem, Use: use, Err: err}
}
