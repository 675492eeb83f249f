// Package plan is the query planner of rapyer-go: it turns a predicate (is.Pred)
// and a query's order into the ranges of the indexes the query script walks,
// and keeps the query's cursor. It is pure Go: no server, no client.
//
// The planner only narrows candidates: the query script evaluates the whole
// predicate on every candidate with the batch interpreter's pred, so a query
// answers exactly what a guard of the same predicate would; except where the
// ranges are the predicate (Plan.Sure): the index holds each model's value,
// written in the same step, so a candidate of them holds it already.
package plan

// Access is the key to the insides of a predicate (is.Pred.Tree) and of a
// query (query.Query.Spec): a type of an internal package, so that no code
// outside this module can call them.
type Access struct{}

// Node is one node of a predicate, as the planner reads it.
type Node struct {
	// Op is the node's tag: and, or, not (over Kids), or a leaf: cmp (a
	// scalar field of the root hash), len (a length) or has (membership).
	Op   string
	Kids []*Node
	// Field is the stored name of the leaf's field: "address.city", or the
	// collection's name for has and len.
	Field string
	// Kind is the kind of a cmp (int, float, time, string), the Redis type
	// of a has's collection (set, list, hash).
	Kind string
	// Rel is the relation of a cmp or a len: eq ne lt le gt ge, or pre (the
	// text starts with Arg).
	Rel string
	// Arg is the operand as stored text; Zero the text an absent field
	// counts as.
	Arg, Zero string
	// Shown is the node, described (is.Pred.String).
	Shown string
}

// Index is one declared index as the planner needs it (internal/index.Field
// gives it).
type Index struct {
	// Field is the stored name of the indexed field (a collection's name for
	// Use 'm').
	Field string
	// Kind of the values: 'i' int, uint, duration; 'f' float; 's' string,
	// bytes, text; 'b' bool; 't' time.
	Kind byte
	// Use: 'o' On, 'p' Prefix, 'u' Unique, 'm' Members.
	Use byte
}

// Range is one range of an index the script walks: the members whose value
// relates to Arg by Op (eq lt le gt ge pre, or all for the whole index).
// The script encodes Arg with the index's Kind (IX.enc) into lexicographic
// bounds.
type Range struct {
	Index string
	Kind  byte
	Op    string
	Arg   string
}

// Spec is a query's insides (query.Query.Spec) for the model's methods.
type Spec struct {
	// Tree is the predicate, nil for every model.
	Tree *Node
	// Lower encodes the predicate for the interpreter's pred at a target
	// (is.Pred.Lower); nil for every model.
	Lower func(t any) ([]string, error)
	// Order is the stored name of the order field ("" for none).
	Order      string
	Desc, Scan bool
	// Limit is the most results (0 for no limit).
	Limit int
	// Tag is the one hash tag to ask (HasTag), for models with a hash tag.
	Tag    string
	HasTag bool
	// Shown is the query, described.
	Shown string
	// Pred is the is.Pred[S] of the query (nil for every model), for the
	// guard of DeleteWhere.
	Pred any
}
