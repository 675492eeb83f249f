package is

import (
	"fmt"
	"strings"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/plan"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

// Tree is the predicate as the query planner reads it (package query). Its
// argument's type is internal to this module, so no other code can call it.
func (p Pred[S]) Tree(plan.Access) (*plan.Node, error) {
	if err := p.Err(); err != nil {
		return nil, err
	}
	var walk func(n *node[S]) *plan.Node
	walk = func(n *node[S]) *plan.Node {
		out := &plan.Node{Op: n.tag, Shown: n.shown, Kind: n.kind, Rel: n.rel, Arg: n.arg, Zero: n.zero}
		if n.field != nil {
			out.Field = n.field.Name
		}
		if n.tag == "has" || n.tag == "len" {
			out.Kind = n.typ
		}
		for _, k := range n.kids {
			out.Kids = append(out.Kids, walk(k))
		}
		return out
	}
	return walk(p.root()), nil
}

// HasPrefix holds where the string or []byte field f starts with prefix
// (every value starts with ""); bytes compare as they are, not as UTF-8.
// An index.Prefix or index.On on f serves it in a query.
// Server cost: O(1) (HGET).
func HasPrefix[S any, T ~string | ~[]byte](f lens.Field[S, T], prefix T) Pred[S] {
	n := &node[S]{tag: "cmp", rel: "pre", kind: "string"}
	n.shown = "HasPrefix(" + resolve(f, schema.Scalar).path() + ", " + show(string(prefix)) + ")"
	n.holds = func(v S) bool { return strings.HasPrefix(string(f.Get(v)), string(prefix)) }
	r := resolve(f, schema.Scalar)
	switch {
	case r.err != nil:
		n.err = r.err
	case r.node.Ptr || (r.node.Value.Kind != schema.String && r.node.Value.Kind != schema.Bytes):
		n.err = fmt.Errorf("%w: %s: a prefix needs a string or []byte field stored as its text", errs.Invalid, n.shown)
	default:
		n.field, n.arg = r.node, string(prefix)
	}
	return Pred[S]{n}
}
