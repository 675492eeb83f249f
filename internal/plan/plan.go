package plan

import (
	"fmt"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// Mode is how the script finds a query's candidates.
type Mode string

const (
	// Walk walks the Ranges of one index in order; a result's sort key is
	// its index member (the encoded value, then the id).
	Walk Mode = "walk"
	// Gather visits the candidates of Ranges (of any indexes) once each,
	// in the order of their key, the id: the script merges ranges of one
	// value each (their members are in the order of the ids), gathers and
	// sorts few candidates, and else walks the group's ids against the
	// predicate, per group and call (query.lua, Q.run).
	Gather Mode = "gather"
	// Auto gathers the candidates of the Ranges and sorts them by their
	// member of the Order index when they are few, else walks the whole
	// Order index: the script decides on the counts, per group.
	Auto Mode = "auto"
	// All walks every model of the group (its @ids); the key is the id.
	All Mode = "all"
)

// Plan is what the query script does in every group.
type Plan struct {
	Mode   Mode
	Ranges []Range
	// Order is the index a query is ordered by (OrderBy), nil for none.
	Order *Index
	// Exact is set when the Ranges hold exactly the models the predicate
	// holds for, each once: Count counts them without reading a model. It
	// needs what Sure needs (an absent text field whose zero is not ""
	// sits under "" in the index, where the predicate does not read it).
	Exact bool
	// Sure is set when every candidate of the Ranges holds the predicate
	// (the predicate is one leaf, or an In, that the Ranges are): the script
	// reads the predicate again only for candidates of another walk (Auto's
	// walk of the Order index).
	Sure bool
	// Uses are the names of the indexes the plan reads, for the script's
	// check that none is being built.
	Uses []string
}

// Make plans a query: its predicate (nil for every model), the stored name
// of its order field ("" for none), whether it may scan, and the indexes of
// the model. A predicate no index serves fails with errs.NotIndexed, naming
// the field, unless scan is set.
func Make(pred *Node, order string, scan bool, ixs []Index) (Plan, error) {
	d := driver{ixs: ixs}
	r := d.drive(pred)
	if order != "" {
		return d.ordered(pred, order, scan, r)
	}
	var p Plan
	switch {
	case r.all:
		p = Plan{Mode: All, Exact: true}
	case r.err == nil:
		p = Plan{Mode: Gather, Ranges: r.ranges, Sure: d.sure(pred)}
		if one, ok := d.single(r.ranges); ok {
			p.Mode, p.Exact = Walk, one && d.sure(pred)
		}
	case scan:
		p = Plan{Mode: All}
	default:
		return Plan{}, r.err
	}
	p.Uses = uses(p)
	return p, nil
}

// ordered plans a query with an order: a walk of the order index over the
// predicate's ranges on the order field when it has some, else Auto over
// the predicate's ranges, else (a scan) a walk of the whole order index.
func (d driver) ordered(pred *Node, order string, scan bool, r result) (Plan, error) {
	o, ok := d.scalar(order)
	if !ok {
		return Plan{}, fmt.Errorf("%w: OrderBy(%s): no index orders by it (declare index.On)", errs.NotIndexed, order)
	}
	all := []Range{{Index: o.Field, Kind: o.Kind, Op: "all"}}
	p := Plan{Mode: Walk, Order: &o, Ranges: all}
	switch {
	case r.all:
		p.Exact = true
	case r.err == nil:
		if rs, ok := d.onField(pred, o.Field); ok {
			p.Ranges, p.Exact = rs, d.sure(pred)
		} else {
			p.Mode, p.Ranges = Auto, r.ranges
		}
		p.Sure = d.sure(pred)
	case !scan:
		return Plan{}, r.err
	}
	p.Uses = uses(p)
	return p, nil
}

// single reports whether the ranges all read one index, and whether a
// model comes once from them (one range, or ranges of a scalar index,
// which the script merges where they overlap).
func (d driver) single(rs []Range) (once, ok bool) {
	if len(rs) == 0 {
		return true, true
	}
	for _, r := range rs[1:] {
		if r.Index != rs[0].Index {
			return false, false
		}
	}
	if len(rs) > 1 && d.members(rs[0].Index) {
		return false, false
	}
	return true, true
}

func (d driver) members(name string) bool {
	for _, x := range d.ixs {
		if x.Field == name && x.Use == 'm' {
			return true
		}
	}
	return false
}

// isLeafOrIn reports whether the predicate is one leaf, or an Or of leaves
// (In): then the ranges the driver found for it are the predicate itself.
func isLeafOrIn(n *Node) bool {
	if n == nil {
		return true
	}
	if n.Op == "or" {
		for _, k := range n.Kids {
			if !isLeaf(k) {
				return false
			}
		}
		return true
	}
	return isLeaf(n)
}

// sure reports whether every model in the ranges the driver found for the
// predicate holds it: the predicate is one leaf or an In, and no leaf is on
// a text field whose absent value counts as a text other than "" (a
// text-marshalled type whose zero does not marshal to ""), which the index
// holds under "" (docs/queries.md, "Absent fields").
func (d driver) sure(n *Node) bool {
	if n == nil || !isLeafOrIn(n) {
		return false
	}
	leaves := []*Node{n}
	if n.Op == "or" {
		leaves = n.Kids
	}
	for _, k := range leaves {
		if k.Op != "cmp" {
			continue
		}
		if x, ok := d.scalar(k.Field); !ok || (x.Kind == 's' && k.Zero != "") {
			return false
		}
	}
	return true
}

func isLeaf(n *Node) bool { return n.Op == "cmp" || n.Op == "has" }

func uses(p Plan) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if p.Order != nil {
		add(p.Order.Field)
	}
	for _, r := range p.Ranges {
		add(r.Index)
	}
	return out
}
