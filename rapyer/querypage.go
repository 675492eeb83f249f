package rapyer

import (
	"context"
	"slices"
	"strings"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/plan"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// qgroup is one group's part of a page being collected.
type qgroup struct {
	after string
	done  bool
	hits  []qhit
}

// collect runs the query from the sort key after ("" for the start) until
// it holds the first limit results of every group merged in order. Each
// round is one pipeline of one call per group that may still hold one of
// them; a call stops at its limit or at the script's budget, and says how
// far it looked. It returns the results, and whether more may follow.
func (r *qrun[T]) collect(ctx context.Context, what, after string, limit int) ([]qhit, bool, error) {
	gs := make([]*qgroup, len(r.bases))
	for i := range gs {
		gs[i] = &qgroup{after: after}
	}
	for {
		var reqs []qreq
		var at []int
		for i, g := range gs {
			if !g.done && len(g.hits) < limit {
				reqs = append(reqs, qreq{base: r.bases[i], after: g.after, limit: limit - len(g.hits)})
				at = append(at, i)
			}
		}
		if len(reqs) == 0 {
			break
		}
		reps, err := r.call(ctx, what, reqs)
		if err != nil {
			return nil, false, err
		}
		for j, rep := range reps {
			g := gs[at[j]]
			g.hits, g.done = append(g.hits, rep.hits...), rep.done
			if rep.upto != "" {
				g.after = rep.upto
			}
		}
		if r.enough(gs, limit) {
			break
		}
	}
	return r.merge(gs, limit)
}

// before reports whether sort key a comes before b in the query's order.
func (r *qrun[T]) before(a, b string) bool {
	if r.spec.Desc {
		return a > b
	}
	return a < b
}

// enough reports whether the first limit results are known: every group
// that may hold more has looked past the limit-th result.
func (r *qrun[T]) enough(gs []*qgroup, limit int) bool {
	frontier, open := "", false
	for _, g := range gs {
		if !g.done && len(g.hits) < limit && (!open || r.before(g.after, frontier)) {
			frontier, open = g.after, true
		}
	}
	if !open {
		return true
	}
	n := 0
	for _, g := range gs {
		for _, h := range g.hits {
			if !r.before(frontier, h.key) {
				n++
			}
		}
	}
	return n >= limit
}

func (r *qrun[T]) merge(gs []*qgroup, limit int) ([]qhit, bool, error) {
	var all []qhit
	more := false
	for _, g := range gs {
		all = append(all, g.hits...)
		more = more || !g.done
	}
	slices.SortFunc(all, func(a, b qhit) int {
		c := strings.Compare(a.key, b.key)
		if r.spec.Desc {
			return -c
		}
		return c
	})
	if len(all) > limit {
		all, more = all[:limit], true
	}
	return all, more, nil
}

// page runs one page of the query after cursor ("" for the first) with
// what ("ids" or "models"), limit results at most: the results, and the
// cursor of the next page ("" when no page follows).
func (r *qrun[T]) page(ctx context.Context, what, cursor string, limit int) ([]qhit, string, error) {
	after := ""
	if cursor != "" {
		var err error
		if after, err = plan.DecodeCursor(r.fp, cursor); err != nil {
			return nil, "", err
		}
	}
	hits, more, err := r.collect(ctx, what, after, limit)
	if err != nil || !more || len(hits) == 0 {
		return hits, "", err
	}
	return hits, plan.EncodeCursor(r.fp, hits[len(hits)-1].key), nil
}

// value decodes the model of a hit of a models query; ok is false for a
// model that was gone when the script read it.
func (r *qrun[T]) value(h qhit) (T, bool, error) {
	root, _ := r.m.Key(h.id)
	d := codec.Data{Root: pairs(h.parts[0]), Collections: make(map[string]any, len(h.parts)-1)}
	for i, n := range r.m.schema.Collections {
		if n.Kind == schema.Map {
			d.Collections[n.Name] = pairs(h.parts[i+1])
		} else {
			d.Collections[n.Name] = strs(h.parts[i+1])
		}
	}
	v, _, ok, err := r.m.decode(root, d)
	return v, ok, err
}
