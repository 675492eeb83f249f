package rapyer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/plan"
	"github.com/rapyer-go/rapyer/query"
)

// DefaultPageSize is the size of a page of Page for a query without a
// Limit.
const DefaultPageSize = 100

// streamPage is how many results Find and FindIDs read at a time from each
// group. A call's server work per model grows with the size of its reply
// (the script's heap): at a million models, 16 groups, 256 a call costs
// 0.57 of 500 a call in server instructions (docs/performance.md).
var streamPage = 256

// Page is one page of a query's results (Model.Page).
type Page[T any] struct {
	// Items are the page's models, in the query's order.
	Items []Entry[T]
	// Next is the cursor of the next page; "" when no page follows.
	Next string
}

// Find streams the models q finds, in its order, up to its Limit. It
// reads up to 256 results (or the Limit when smaller) of every group at a
// time, models and all: each round is one round trip per server (on a
// cluster one call per slot group, pipelined to each master, the masters in
// parallel; on one server that is not a cluster one call for all). Each
// group resumes where it stopped, and the results a group read ahead of the
// others wait for the next round, so no model is read twice. A model not
// changed while the iteration runs comes exactly once; a model changed
// meanwhile comes as the query finds it when its group is read.
// A query no index serves fails with ErrNotIndexed unless it asks for a
// scan (query.Scan). An error ends the iteration; so does the end of ctx,
// with ErrNotSent wrapping its cause, even where the next results were
// already read.
func (m *Model[T]) Find(ctx context.Context, q query.Query[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		m.stream(ctx, q, "models", func(r *qrun[T], h qhit) bool {
			v, ok, err := r.value(h)
			if err != nil {
				return yield(zero, err)
			}
			return !ok || yield(v, nil)
		}, func(err error) { yield(zero, err) })
	}
}

// FindIDs streams the ids of the models q finds, as Find does, without
// reading the models.
func (m *Model[T]) FindIDs(ctx context.Context, q query.Query[T]) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		m.stream(ctx, q, "ids", func(_ *qrun[T], h qhit) bool { return yield(h.id, nil) },
			func(err error) { yield("", err) })
	}
}

// prepareIn is prepare for a call with ctx, which must not be nil.
func (m *Model[T]) prepareIn(ctx context.Context, q query.Query[T]) (*qrun[T], error) {
	if err := errs.NilContext(ctx, "Model.Find"); err != nil {
		return nil, err
	}
	return m.prepare(q)
}

// stream runs q, giving each result to each until it returns false, and
// an error to fail. Each round is one pipeline of one call per group whose
// buffer holds fewer than a page of results; every group resumes after the
// last sort key it looked at, and every result up to the least of those
// keys (where the groups' results are all known) is given, in order. Results
// a group found beyond it wait in its buffer for the next round: no model
// is read twice.
func (m *Model[T]) stream(ctx context.Context, q query.Query[T], what string, each func(*qrun[T], qhit) bool, fail func(error)) {
	r, err := m.prepareIn(ctx, q)
	if err != nil {
		fail(err)
		return
	}
	if err := m.groupsOK(ctx); err != nil {
		fail(err)
		return
	}
	left, size := r.spec.Limit, streamPage
	if left > 0 && left < size {
		size = left
	}
	gs, given := r.groups(), false
	for {
		var reqs []qreq
		var at []int
		for i, g := range gs {
			if !g.done && len(g.hits) < size {
				reqs = append(reqs, qreq{base: r.bases[i], after: g.after, limit: size - len(g.hits)})
				at = append(at, i)
			}
		}
		if len(reqs) > 0 {
			reps, err := r.call(ctx, what, reqs)
			if !given && r.rescan(err) {
				gs = r.groups()
				continue
			}
			if err != nil {
				fail(err)
				return
			}
			for j, rep := range reps {
				g := gs[at[j]]
				g.hits, g.done = append(g.hits, rep.hits...), rep.done
				if rep.upto != "" {
					g.after = rep.upto
				}
			}
		}
		ready, open := r.known(gs)
		for _, h := range ready {
			if stopped(ctx, fail) {
				return
			}
			given = true
			if !each(r, h) {
				return
			}
			if left--; left == 0 {
				return
			}
		}
		if !open {
			return
		}
	}
}

// stopped reports whether ctx ended, and then gives fail ErrNotSent
// wrapping its error. Results read ahead wait in the buffers: a context
// that ended meanwhile ends the iteration, as a call would, instead of
// their being given without a word.
func stopped(ctx context.Context, fail func(error)) bool {
	err := ctx.Err()
	if err != nil {
		fail(fmt.Errorf("%w: the context ended during the iteration: %w", errs.NotSent, err))
	}
	return err != nil
}

// groups are the states of a query's groups before its first call.
func (r *qrun[T]) groups() []*qgroup {
	gs := make([]*qgroup, len(r.bases))
	for i := range gs {
		gs[i] = &qgroup{}
	}
	return gs
}

// known takes out of the groups' buffers the results that come before
// every result not read yet (those up to the least sort key an open group
// has looked at), in the query's order; open is false when no group may
// hold more.
func (r *qrun[T]) known(gs []*qgroup) (ready []qhit, open bool) {
	frontier := ""
	for _, g := range gs {
		if !g.done && (!open || r.earlier(g.after, frontier)) {
			frontier, open = g.after, true
		}
	}
	runs := make([][]qhit, 0, len(gs))
	for _, g := range gs {
		k := len(g.hits)
		if open {
			k = 0
			for k < len(g.hits) && r.reached(frontier, g.hits[k].key) {
				k++
			}
		}
		if k > 0 {
			runs = append(runs, g.hits[:k])
		}
		g.hits = g.hits[k:]
	}
	return r.mergeRuns(runs), open || slices.ContainsFunc(gs, func(g *qgroup) bool { return len(g.hits) > 0 })
}

// mergeRuns merges runs of results, each in the query's order (a group's
// results come in it), into one: pairs of runs at a time, about n log2(runs)
// comparisons where a sort of them all took n log2(n).
func (r *qrun[T]) mergeRuns(runs [][]qhit) []qhit {
	for len(runs) > 1 {
		next := runs[:0:0]
		for i := 0; i < len(runs); i += 2 {
			if i+1 == len(runs) {
				next = append(next, runs[i])
				continue
			}
			a, b := runs[i], runs[i+1]
			m := make([]qhit, 0, len(a)+len(b))
			for len(a) > 0 && len(b) > 0 {
				if r.order(b[0], a[0]) < 0 {
					m, b = append(m, b[0]), b[1:]
				} else {
					m, a = append(m, a[0]), a[1:]
				}
			}
			next = append(next, append(append(m, a...), b...))
		}
		runs = next
	}
	if len(runs) == 0 {
		return nil
	}
	return runs[0]
}

// pageScan is page, and for a query that may scan (query.Scan) whose index
// is being built, a page of a plan that reads every model instead.
func (r *qrun[T]) pageScan(ctx context.Context, what, cursor string, limit int) ([]qhit, string, error) {
	hits, next, err := r.page(ctx, what, cursor, limit)
	if !r.rescan(err) {
		return hits, next, err
	}
	if cursor != "" {
		// the cursor's place is in the order of the index, which a scan
		// does not follow
		return nil, "", fmt.Errorf("%w: %s: the cursor resumes pages read through an index that is being built now (Model.Reindex); page again from the start (a paging begun while it is built goes on to its end)", errs.BadCursor, r.spec.Shown)
	}
	return r.page(ctx, what, cursor, limit)
}

// rescan turns the plan into a scan of every model when err says an index
// it reads is being built and the query may scan, and reports whether it
// did. Cursors of the first plan are then refused (ErrBadCursor).
func (r *qrun[T]) rescan(err error) bool {
	if !errors.Is(err, errs.NotIndexed) || !r.mayRescan() {
		return false
	}
	r.setPlan(plan.Plan{Mode: plan.All})
	return true
}

// mayRescan reports whether the query may read every model instead of its
// plan's index (rescan).
func (r *qrun[T]) mayRescan() bool {
	return r.spec.Scan && r.spec.Order == "" && r.plan.Mode != plan.All
}

// Page reads one page of q: at most its Limit models (DefaultPageSize
// without one), after the page whose Next is cursor ("" for the first
// page). Paging is stable: a model not changed while a caller pages through
// comes on exactly one page. A cursor of another query, or one that was
// changed, fails with ErrBadCursor, as does one of a page read through an
// index that is being built now. A query with query.Scan whose index is not
// ready reads every model instead, and its cursors go on so to the end.
func (m *Model[T]) Page(ctx context.Context, q query.Query[T], cursor string) (Page[T], error) {
	if err := m.ready(ctx, "Model.Page"); err != nil {
		return Page[T]{}, err
	}
	r, err := m.prepare(q)
	if err != nil {
		return Page[T]{}, err
	}
	size := r.spec.Limit
	if size == 0 {
		size = DefaultPageSize
	}
	if err := m.groupsOK(ctx); err != nil {
		return Page[T]{}, err
	}
	hits, next, err := r.pageScan(ctx, "models", cursor, size)
	if err != nil {
		return Page[T]{}, err
	}
	p := Page[T]{Next: next}
	for _, h := range hits {
		v, ok, err := r.value(h)
		if err != nil {
			return Page[T]{}, err
		}
		if ok {
			p.Items = append(p.Items, Entry[T]{ID: h.id, Value: v})
		}
	}
	return p, nil
}
