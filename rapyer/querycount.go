package rapyer

import (
	"context"
	"errors"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/tx"
)

// Count counts the models q finds (its Limit aside), reading no model
// where the indexes answer alone: a query of one leaf on an index, or an In
// on one field, or every model, counts the index's entries (ZLEXCOUNT,
// ZCARD); any other query is counted by the server, which evaluates its
// predicate on each candidate and sends back only the count.
func (m *Model[T]) Count(ctx context.Context, q query.Query[T]) (int, error) {
	if err := m.ready(ctx, "Model.Count"); err != nil {
		return 0, err
	}
	r, err := m.prepare(q)
	if err != nil {
		return 0, err
	}
	if err := m.groupsOK(ctx); err != nil {
		return 0, err
	}
	n, err := r.count(ctx)
	if r.rescan(err) {
		n, err = r.count(ctx)
	}
	return n, err
}

// count sums the counts of every group; a group whose call stopped at the
// script's budget is asked again from where it stopped.
func (r *qrun[T]) count(ctx context.Context) (int, error) {
	reqs := make([]qreq, len(r.bases))
	for i, b := range r.bases {
		reqs[i] = qreq{base: b, limit: 1}
	}
	total := 0
	for len(reqs) > 0 {
		reps, err := r.call(ctx, "count", reqs)
		if err != nil {
			return 0, err
		}
		next := reqs[:0]
		for i, rep := range reps {
			total += rep.n
			if !rep.done {
				next = append(next, qreq{base: reqs[i].base, after: rep.upto, limit: 1})
			}
		}
		reqs = next
	}
	return total, nil
}

// DeleteWhere deletes the models q finds (up to its Limit), and returns how
// many it deleted. Each model is deleted by a batch of its own that
// requires the predicate again (ops.Require), so a model changed since the
// query found it is deleted only if it still matches. It is not one atomic
// step: it stops at the first error, with the models deleted so far
// counted. Before the query (whose purge of dead models' entries writes)
// it asks the server's ACL for what the deletes send, and sends an empty
// batch in MULTI/EXEC (mayClear): a user denied one of them gets
// ErrNoPermission and nothing written. Cost: two round trips, the query,
// then one round trip per model.
func (m *Model[T]) DeleteWhere(ctx context.Context, q query.Query[T]) (int, error) {
	if err := m.ready(ctx, "Model.DeleteWhere"); err != nil {
		return 0, err
	}
	r, err := m.prepare(q)
	if err != nil {
		return 0, err
	}
	// the query's purge of dead models is a write too
	if err := m.mayClear(ctx, "DeleteWhere", "delete"); err != nil {
		return 0, err
	}
	var ids []string
	for id, err := range m.FindIDs(ctx, q) {
		if err != nil {
			return 0, err
		}
		ids = append(ids, id)
	}
	o := m.opts.Exec
	o.IfMissing = tx.SkipIfMissing
	n := 0
	for _, id := range ids {
		t := m.Target(id)
		b := []ops.Op{ops.Delete[T]()}
		if p, ok := r.spec.Pred.(is.Pred[T]); ok {
			b = append([]ops.Op{ops.Require(p)}, b...)
		}
		res, err := tx.Exec(ctx, m.rdb, tx.On(t, b...), o)
		switch {
		case errors.Is(err, errs.Precondition):
		case err != nil:
			return n, err
		case !res.Skipped:
			n++
		}
	}
	return n, nil
}
