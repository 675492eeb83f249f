package index

import (
	"fmt"
	"reflect"

	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/lens"
)

// Spec is one index of a model type, made by On, Prefix, Unique or Members
// and given to rapyer.Options.Indexes. It is an immutable value; it prints
// as it was made ("index.Unique(User.email)").
type Spec interface {
	fmt.Stringer
	decl() ix.Decl
}

type spec struct{ d ix.Decl }

func (s spec) decl() ix.Decl { return s.d }

func (s spec) String() string {
	name := map[byte]string{ix.UseOn: "On", ix.UsePrefix: "Prefix", ix.UseUnique: "Unique", ix.UseMembers: "Members"}[s.d.Use]
	return "index." + name + "(" + s.d.Shown + ")"
}

func init() {
	ix.Unwrap = func(x any) (ix.Decl, bool) {
		s, ok := x.(Spec)
		if !ok || s == nil {
			return ix.Decl{}, false
		}
		return s.decl(), true
	}
}

func newSpec[S, A any](f lens.Field[S, A], use byte) Spec {
	var err error
	if !f.Valid() {
		err = fmt.Errorf("%w: an invalid lens (the zero lens.Field)", errs.Invalid)
	}
	return spec{ix.MakeDecl(reflect.TypeFor[S](), reflect.TypeFor[A](), f.Path(), f.String(), use, err)}
}

// On indexes a scalar field for equality, ranges and order: strings, every
// int and uint kind, floats, time.Time, time.Duration, bool, []byte and
// TextMarshaler types (ordered by their text). A NaN is never indexed: a
// write that would index one fails with rapyer.ErrInvalid.
func On[S, A any](f lens.Field[S, A]) Spec { return newSpec(f, ix.UseOn) }

// Prefix indexes a string (or []byte) field for prefix queries; it serves
// On's queries too.
func Prefix[S, A any](f lens.Field[S, A]) Spec { return newSpec(f, ix.UsePrefix) }

// Unique indexes a scalar field as On does, and refuses a second model
// with the same value: the write that would make it fails with
// rapyer.ErrDuplicate (which wraps rapyer.ErrPrecondition) and writes
// nothing, in the same atomic step, on a cluster too. The check is of the
// batch's outcome: a value one model of a batch lets go (it sets another,
// or is deleted) another model of the batch may take. A model type with a
// Unique index keeps all its models in one slot group (Options.Groups 1).
//
// An absent value claims nothing, as SQL's NULL: a nil pointer field, a
// field under a nil pointer-to-struct (no field of it in the root hash,
// docs/storage.md). Any number of models may lack the value, and they do
// not block a model that sets the zero value ("", 0) explicitly, which
// then owns it. Queries and OrderBy still find an absent value under its
// zero, as they read every absent field. A claim of a model that no
// longer holds the value (or no longer exists) blocks nothing.
func Unique[S, A any](f lens.Field[S, A]) Spec { return newSpec(f, ix.UseUnique) }

// Members indexes the members of a set field (map[E]struct{}) or the
// elements of a list field ([]E) of scalars, for membership queries.
func Members[S, A any](f lens.Field[S, A]) Spec { return newSpec(f, ix.UseMembers) }
