package plan

import (
	"fmt"
	"strings"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// driver finds the ranges of the indexes that hold every model a predicate
// holds for.
type driver struct{ ixs []Index }

// result is what drives a node: ranges, or all (every model: And()), or
// err (no index serves it).
type result struct {
	ranges []Range
	all    bool
	err    error
}

func (d driver) drive(n *Node) result {
	if n == nil {
		return result{all: true}
	}
	switch n.Op {
	case "and":
		return d.and(n)
	case "or":
		var out []Range
		for _, k := range n.Kids {
			r := d.drive(k)
			if r.err != nil || r.all {
				return r
			}
			out = append(out, r.ranges...)
		}
		return result{ranges: out}
	case "cmp":
		return d.cmp(n)
	case "has":
		for _, x := range d.ixs {
			if x.Field == n.Field && x.Use == 'm' && (n.Kind == "set" || n.Kind == "list") {
				return result{ranges: []Range{{Index: x.Field, Kind: x.Kind, Op: "eq", Arg: n.Arg}}}
			}
		}
		return refuse(n, "no index.Members serves it")
	case "len":
		return refuse(n, "no index holds lengths")
	}
	return refuse(n, "a negation cannot use an index")
}

// and is driven by its first child that an index serves; And() holds for
// every model.
func (d driver) and(n *Node) result {
	var first *result
	for _, k := range n.Kids {
		r := d.drive(k)
		switch {
		case r.err == nil && !r.all:
			return r
		case r.err != nil && first == nil:
			first = &r
		}
	}
	if first != nil {
		return *first
	}
	return result{all: true}
}

func (d driver) cmp(n *Node) result {
	x, ok := d.scalar(n.Field)
	switch {
	case !ok:
		return refuse(n, "no index serves it")
	case n.Rel == "ne":
		return refuse(n, "NotEqual cannot use an index")
	case n.Rel == "pre" && x.Kind != 's':
		return refuse(n, "a prefix needs a text index")
	}
	rs := []Range{{Index: x.Field, Kind: x.Kind, Op: n.Rel, Arg: n.Arg}}
	if x.Kind == 's' && n.Zero != "" && zeroHolds(n) {
		// an absent value of a text whose zero is not "" sits under ""
		// in the index, and the leaf holds for it (docs/queries.md,
		// "Absent fields"): its candidates are read against the leaf
		rs = append(rs, Range{Index: x.Field, Kind: x.Kind, Op: "eq", Arg: ""})
	}
	return result{ranges: rs}
}

// zeroHolds reports whether a text leaf holds for its Zero (byte by byte,
// as the script compares texts).
func zeroHolds(n *Node) bool {
	c := strings.Compare(n.Zero, n.Arg)
	switch n.Rel {
	case "pre":
		return strings.HasPrefix(n.Zero, n.Arg)
	case "eq":
		return c == 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "gt":
		return c > 0
	}
	return c >= 0 // ge
}

// scalar is the index of a scalar field (On, Prefix or Unique).
func (d driver) scalar(field string) (Index, bool) {
	for _, x := range d.ixs {
		if x.Field == field && x.Use != 'm' {
			return x, true
		}
	}
	return Index{}, false
}

// onField returns the ranges of the order field's index that a predicate's
// leaf (or In) on it gives, when the predicate is that leaf or an And
// holding it.
func (d driver) onField(n *Node, field string) ([]Range, bool) {
	if n == nil {
		return nil, false
	}
	on := func(k *Node) ([]Range, bool) {
		if !isLeafOrIn(k) {
			return nil, false
		}
		r := d.drive(k)
		if r.err != nil || r.all || len(r.ranges) == 0 {
			return nil, false
		}
		for _, x := range r.ranges {
			if x.Index != field {
				return nil, false
			}
		}
		return r.ranges, true
	}
	if n.Op != "and" {
		return on(n)
	}
	for _, k := range n.Kids {
		if rs, ok := on(k); ok {
			return rs, true
		}
	}
	return nil, false
}

func refuse(n *Node, why string) result {
	field := n.Field
	if field == "" {
		field = n.Shown
	}
	return result{err: fmt.Errorf("%w: %s in %s: %s (declare an index on it, or ask query.Scan)", errs.NotIndexed, field, n.Shown, why)}
}
