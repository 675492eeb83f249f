// Package index is the resolved form of a model type's indexes (package
// index declares them, rapyer.Options.Indexes carries them): which stored
// fields are indexed and how, the slot groups of the type, and the names of
// the keys every group holds. It is pure: no Redis client, nothing run.
//
// Layout (docs/storage.md). A model type with at least one index is
// grouped: each model lives in one of Groups slot groups, chosen by its id
// (Group), and its keys carry the group's tag, <prefix>#<g>, as their hash
// tag (with rapyer.Options.HashTag, the user's tag is the group). Per group,
// with base = <prefix>:{<tag>}, every key in the group's one slot:
//
//	<base>:@ids        zset, score 0, member id: every model of the group
//	<base>:@i:<name>   zset, score 0, member enc(value) .. id, per index
//	<base>:@u:<name>   hash enc(value) -> id, per Unique index
//	<base>:@back       hash id -> the model's current entries, packed
//	<base>:@exp        zset, score deadline in ms, member id (models with a TTL)
//	<base>:@meta       hash: per index name its state ("ready", "building")
//
// The encoding enc (internal/lua/index.lua, IX.enc) orders entries as their
// values order, and ends where its value ends, so a range of values is a
// range of members (ZRANGEBYLEX).
package index

import (
	"reflect"
	"strconv"
)

// The kinds of indexed value, as IX.enc takes them.
const (
	KindInt    byte = 'i' // every int and uint kind, time.Duration
	KindFloat  byte = 'f' // float32, float64
	KindString byte = 's' // strings, []byte, TextMarshaler types
	KindBool   byte = 'b'
	KindTime   byte = 't' // time.Time
)

// The uses of an index.
const (
	UseOn      byte = 'o' // equality, range and order
	UsePrefix  byte = 'p' // On, and prefixes of strings
	UseUnique  byte = 'u' // On, and no two models with one value
	UseMembers byte = 'm' // membership of a set's members or a list's elements
)

// DefaultGroups is the number of slot groups of a grouped type whose
// Options.Groups is 0.
const DefaultGroups = 16

// MaxGroups is the most slot groups a type may have (the cluster's slots).
const MaxGroups = 16384

// MaxValue is the longest value an index takes, in bytes: a write that
// would index a longer one fails with ErrTooLarge and writes nothing.
const MaxValue = 1024

// Field is one index: the stored field it reads and how.
type Field struct {
	// Name is the stored path: "email", "address.city", or a collection's
	// path ("tags"); it names the index's keys.
	Name string
	// Kind is how the values are encoded (KindInt ...).
	Kind byte
	// Use is what the index serves (UseOn ...).
	Use byte
	// Coll is "" for a scalar field of the root hash, "list" or "set" for
	// the elements of a collection field (UseMembers).
	Coll string
	// Null: a pointer lies on the path of a Unique index's field (a
	// *scalar, or a field under a *struct), so the field may be absent,
	// and an absent one claims nothing (index.lua, IX.claim); a missing
	// field of another path is its zero, stored or not.
	Null bool
	// Marker is, for a Null field whose nearest pointer is a *struct on
	// its path (Profile of Profile.Age), the stored name of that struct's
	// marker (docs/storage.md): while the marker is set, Get reads the
	// struct, and the field is present, its zero when not stored (an op
	// on another field allocated the struct), and claims it. "" for a
	// field that is itself a pointer (absent when not stored).
	Marker string
}

// UseWord is the use of f as the scripts take it: the use byte, then, for
// a Null field, "*" and its Marker (index.lua, IX.use).
func (f Field) UseWord() string {
	if f.Null {
		return string(f.Use) + "*" + f.Marker
	}
	return string(f.Use)
}

// Set is the resolved indexes of one model type (one rapyer.Model).
type Set struct {
	// Prefix is the model's key prefix.
	Prefix string
	// Fields are the indexes, in the order they were declared.
	Fields []Field
	// Groups is the number of slot groups (1 for a type with a Unique
	// index); with a user's hash tag (Tagged) the tags are the groups and
	// Groups is 0.
	Groups int
	// Tagged: the user's Options.HashTag picks the group of an id.
	Tagged bool
	tag    func(id string) string
}

// NewSet makes the Set of a model type. tag is the user's hash-tag
// function, or nil: then groups (1..MaxGroups) slot groups.
func NewSet(prefix string, fields []Field, groups int, tag func(id string) string) *Set {
	s := &Set{Prefix: prefix, Fields: fields, Groups: groups, tag: tag, Tagged: tag != nil}
	if tag != nil {
		s.Groups = 0
	}
	return s
}

// Field finds an index by its stored name.
func (s *Set) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Group is the slot group of id among groups: FNV-1a (32 bits) of the id,
// modulo groups. It is stable forever: stored models are where it says.
func Group(id string, groups int) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int(h % uint32(groups))
}

// GroupTag is the hash tag of group g of the type with prefix.
func GroupTag(prefix string, g int) string { return prefix + "#" + strconv.Itoa(g) }

// Tag is the hash tag of the model id: the user's, or its group's.
func (s *Set) Tag(id string) string {
	if s.tag != nil {
		return s.tag(id)
	}
	return GroupTag(s.Prefix, Group(id, s.Groups))
}

// TagFunc is Tag as a function, for keys.Layout.
func (s *Set) TagFunc() func(id string) string { return s.Tag }

// Base is the name every key of group tag starts with: <prefix>:{<tag>}.
func Base(prefix, tag string) string { return prefix + ":{" + tag + "}" }

// Bases lists the base of every group, in group order; nil for a Tagged
// set, whose groups are the user's tags (a query names its tag).
func (s *Set) Bases() []string {
	if s.Tagged {
		return nil
	}
	out := make([]string, s.Groups)
	for g := range out {
		out[g] = Base(s.Prefix, GroupTag(s.Prefix, g))
	}
	return out
}

// The keys of a group, from its base.

// IDs is the group's listing: every model of the group.
func IDs(base string) string { return base + ":@ids" }

// Index is the zset of index name.
func Index(base, name string) string { return base + ":@i:" + name }

// Unique is the hash value -> id of the Unique index name.
func Unique(base, name string) string { return base + ":@u:" + name }

// Back is the hash id -> the model's current entries.
func Back(base string) string { return base + ":@back" }

// Exp is the zset of the deadlines of the group's models with a TTL.
func Exp(base string) string { return base + ":@exp" }

// Meta is the hash of the states of the group's indexes.
func Meta(base string) string { return base + ":@meta" }

// Root is the root key of model id in the group at base (keys.Layout.Root
// with the group's tag).
func Root(base, id string) string { return base + ":{" + id + "}" }

// Target is one model of an indexed type, as a batch touches it.
type Target struct {
	Set  *Set
	ID   string
	Base string
}

// Of is the Target of model id.
func (s *Set) Of(id string) *Target {
	return &Target{Set: s, ID: id, Base: Base(s.Prefix, s.Tag(id))}
}

// Words lays out the tail of the interpreter's ix instruction for the
// model at root (prog.Builder.Index): per index its name, kind, use,
// collection kind, its zset's key and an aux key (the Unique hash, the
// collection's key, or the zset again). collKey gives a collection
// field's key.
func (t *Target) Words(collKey func(name string) string) []string {
	out := make([]string, 0, 6*len(t.Set.Fields))
	for _, f := range t.Set.Fields {
		z := Index(t.Base, f.Name)
		aux := z
		switch {
		case f.Use == UseUnique:
			aux = Unique(t.Base, f.Name)
		case f.Coll != "":
			aux = collKey(f.Name)
		}
		out = append(out, f.Name, string(f.Kind), f.UseWord(), f.Coll, z, aux)
	}
	return out
}

// Decl is an index as package index declares it, before New resolves it
// against the model's type.
type Decl struct {
	// Model is the struct type of the lens.
	Model reflect.Type
	// Path is the lens's stored path; Shown how it prints ("User.email").
	Path, Shown string
	// Elem is the Go type the lens points at.
	Elem reflect.Type
	Use  byte
	// Err is the lens's own error (an invalid lens).
	Err error
}

// Unwrap gives the Decl of a public index.Spec; package index sets it.
var Unwrap func(spec any) (Decl, bool)

// WithIndex returns the tx.Target t (an any: package tx imports this one)
// carrying target, so that every batch on it keeps the indexes; package
// tx sets it.
var WithIndex func(t any, target *Target) any
