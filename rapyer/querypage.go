package rapyer

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/lua"
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

// earlier reports whether a group that looked up to sort key a is behind
// one that looked up to b: "" is a group that has looked at nothing, at
// the start of the order in either direction (in a descending order it is
// not the least key but above every key).
func (r *qrun[T]) earlier(a, b string) bool {
	if a == "" || b == "" {
		return a == "" && b != ""
	}
	return r.before(a, b)
}

// reached reports whether a result of sort key key comes at or before
// frontier, the least point an open group has looked up to: it is then
// known to be in its place. Nothing is before "" (a group that has looked
// at nothing yet).
func (r *qrun[T]) reached(frontier, key string) bool {
	return frontier != "" && !r.before(frontier, key)
}

// enough reports whether the first limit results are known: every group
// that may hold more has looked past the limit-th result.
func (r *qrun[T]) enough(gs []*qgroup, limit int) bool {
	frontier, open := "", false
	for _, g := range gs {
		if !g.done && len(g.hits) < limit && (!open || r.earlier(g.after, frontier)) {
			frontier, open = g.after, true
		}
	}
	if !open {
		return true
	}
	n := 0
	for _, g := range gs {
		for _, h := range g.hits {
			if r.reached(frontier, h.key) {
				n++
			}
		}
	}
	return n >= limit
}

// order compares two results in the query's order.
func (r *qrun[T]) order(a, b qhit) int {
	c := strings.Compare(a.key, b.key)
	if r.spec.Desc {
		return -c
	}
	return c
}

func (r *qrun[T]) merge(gs []*qgroup, limit int) ([]qhit, bool, error) {
	var all []qhit
	more := false
	for _, g := range gs {
		all = append(all, g.hits...)
		more = more || !g.done
	}
	slices.SortFunc(all, r.order)
	if len(all) > limit {
		all, more = all[:limit], true
	}
	return all, more, nil
}

// page runs one page of the query after cursor ("" for the first) with
// what ("ids" or "models"), limit results at most: the results, and the
// cursor of the next page ("" when no result follows the page's last).
func (r *qrun[T]) page(ctx context.Context, what, cursor string, limit int) ([]qhit, string, error) {
	after := ""
	if cursor != "" {
		var err error
		if after, err = r.resume(cursor); err != nil {
			return nil, "", err
		}
	}
	// one result past the page: a page is the last when no result
	// follows it, which the server then knows, and its cursor is "" (the
	// page before an empty one used to give a cursor). collect holds fewer
	// than limit+1 results only when every group is done. A limit of
	// math.MaxInt asks for itself (limit+1 would wrap to math.MinInt): no
	// page follows a page that large.
	hits, _, err := r.collect(ctx, what, after, limit+min(1, math.MaxInt-limit))
	if err != nil || len(hits) <= limit {
		return hits, "", err
	}
	hits = hits[:limit]
	return hits, plan.EncodeCursor(r.fp, hits[len(hits)-1].key), nil
}

// resume is the sort key that cursor, of a page of the query, resumes
// after. A query that may scan (query.Scan) reads every model while an
// index it needs is being built (rescan), and its cursors are of that
// plan: such a cursor goes on as a scan after the rebuild too, so that a
// paging begun during a rebuild ends as it began, each model once.
func (r *qrun[T]) resume(cursor string) (string, error) {
	after, err := plan.DecodeCursor(r.fp, cursor)
	if err == nil || !r.mayRescan() {
		return after, err
	}
	was := r.plan
	r.setPlan(plan.Plan{Mode: plan.All})
	if scan, err := plan.DecodeCursor(r.fp, cursor); err == nil {
		return scan, nil
	}
	r.setPlan(was)
	return "", err
}

// value decodes the model of a hit of a models query; ok is false for a
// model that was gone when the script read it.
func (r *qrun[T]) value(h qhit) (T, bool, error) {
	var zero T
	names := r.rootNames()
	if r.root == nil {
		r.root = make(map[string]string, 1+len(names))
	}
	clear(r.root)
	at := h.at
	for i := -1; i < len(names); i++ {
		kind, s, _, next, ok := lua.MsgNext(h.raw, at)
		if !ok || kind == lua.MsgArray {
			return zero, false, r.corrupt()
		}
		if at = next; kind == lua.MsgNone {
			continue
		}
		if i < 0 {
			r.root[schema.Reserved+"v"] = s
		} else {
			r.root[names[i]] = s
		}
	}
	d := codec.Data{Root: r.root}
	if cols := r.m.schema.Collections; len(cols) > 0 {
		d.Collections = make(map[string]any, len(cols))
		for _, n := range cols {
			var c []string
			var ok bool
			if c, at, ok = msgTexts(h.raw, at); !ok {
				return zero, false, r.corrupt()
			}
			if n.Kind == schema.Map {
				d.Collections[n.Name] = textPairs(c)
			} else {
				d.Collections[n.Name] = c
			}
		}
	}
	if _, ok := r.root[schema.Reserved+"v"]; !ok {
		return zero, false, nil
	}
	// decoded in place of r.val, not a new T of the heap each model
	if r.val == nil {
		r.val = new(T)
	}
	*r.val = zero
	if err := codec.Decode(r.m.schema, d, unsafe.Pointer(r.val)); err != nil {
		root, _ := r.m.Key(h.id)
		return zero, false, errs.At(root, err)
	}
	return *r.val, true, nil
}

// msgTexts reads the array of texts at raw[at:] (a collection of a
// result), and returns where it ends.
func msgTexts(raw string, at int) ([]string, int, bool) {
	kind, _, n, at, ok := lua.MsgNext(raw, at)
	if !ok || kind != lua.MsgArray || n > len(raw) {
		return nil, at, false
	}
	out := make([]string, n)
	for i := range out {
		var k int
		if k, out[i], _, at, ok = lua.MsgNext(raw, at); !ok || k != lua.MsgText {
			return nil, at, false
		}
	}
	return out, at, true
}

// textPairs is a hash's flat field, value list as a map.
func textPairs(a []string) map[string]string {
	out := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		out[a[i]] = a[i+1]
	}
	return out
}

// corrupt is the error of a reply of the query script that is not as it
// writes them.
func (r *qrun[T]) corrupt() error {
	return fmt.Errorf("%w: %s: unexpected reply of the query script", errs.Corrupt, r.spec.Shown)
}
