package is

import (
	"slices"

	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

// Membership reads "e is a member of f", "e is an element of f", "k is a
// key of f": the word names the kind of collection, as Go cannot infer the
// element of one function over slices and maps. Negate with Not.

// Member holds where the set field f holds e.
func Member[S any, M ~map[E]struct{}, E comparable](f lens.Field[S, M], e E) Pred[S] {
	return has("Member", resolve(f, schema.Set), e, func(v S) bool { _, ok := f.Get(v)[e]; return ok })
}

// Element holds where the list field f holds an element equal to e. Server
// cost: O(n) in a list of n (LPOS scans it).
func Element[S any, L ~[]E, E comparable](f lens.Field[S, L], e E) Pred[S] {
	return has("Element", resolve(f, schema.List), e, func(v S) bool { return slices.Contains(f.Get(v), e) })
}

// Key holds where the map field f has the key k.
func Key[S any, M ~map[K]V, K comparable, V any](f lens.Field[S, M], k K) Pred[S] {
	return has("Key", resolve(f, schema.Map), k, func(v S) bool { _, ok := f.Get(v)[k]; return ok })
}

func has[S any](name string, r resolved, e any, local func(S) bool) Pred[S] {
	n := &node[S]{tag: "has", field: r.node, err: r.err, holds: local}
	n.shown = name + "(" + r.path() + ", " + show(e) + ")"
	if n.err == nil {
		n.typ = r.node.Kind.RedisType()
		c := r.node.Key
		if r.node.Kind == schema.List {
			c = r.node.Value
		}
		n.arg, n.err = c.EncodeAny(e)
	}
	return Pred[S]{n}
}
