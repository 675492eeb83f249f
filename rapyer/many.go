package rapyer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/tx"
)

// SaveMany writes several models, each replacing whatever was stored at its
// id, collections included (Save for many; Rapyer's ainsert(*models)). On
// one server it is one atomic batch in one round trip: all are written or
// none. On Redis Cluster it is one atomic batch per hash slot, the batches
// sent in parallel: each slot's models are written or none of them, but
// one slot may be written while another failed (the error says which
// failed, and then wraps ErrPartlyApplied); models that share a hash tag (Options.HashTag) share a slot. An
// id given twice is refused with ErrInvalid before anything is sent.
func (m *Model[T]) SaveMany(ctx context.Context, models []Entry[T]) error {
	if err := m.ready(ctx, "Model.SaveMany"); err != nil {
		return err
	}
	ids := make([]string, len(models))
	for i, e := range models {
		ids[i] = e.ID
	}
	groups, err := m.slots(ids)
	if err != nil {
		return err
	}
	if err := m.groupsOK(ctx); err != nil {
		return err
	}
	for _, id := range ids {
		if err := m.moveFirst(ctx, id); err != nil {
			return err
		}
	}
	return m.eachSlot(ctx, groups, func(ctx context.Context, at []int) error {
		var b tx.Batch
		for _, i := range at {
			b = tx.Join(b, tx.On(m.Target(ids[i]), m.replaceOps(models[i].Value)...))
		}
		_, err := tx.Exec(ctx, m.rdb, b, m.opts.Exec)
		return err
	})
}

// InsertMany writes several models under new ids made by Options.NewID and
// returns the ids, in the order of vs. It is atomic like SaveMany: one
// batch on one server, one per hash slot on a cluster (with a HashTag that
// maps every id to one tag, one in all). Should a new id exist already, its
// batch fails with ErrExists and writes nothing. When one slot's batch
// fails after another's was written, the error wraps ErrPartlyApplied and
// the ids are returned with "" for the models that were not stored.
func (m *Model[T]) InsertMany(ctx context.Context, vs ...T) ([]string, error) {
	if err := m.ready(ctx, "Model.InsertMany"); err != nil {
		return nil, err
	}
	ids := make([]string, len(vs))
	for i := range vs {
		ids[i] = m.opts.NewID()
	}
	groups, err := m.slots(ids)
	if err != nil {
		return nil, err
	}
	if err := m.groupsOK(ctx); err != nil {
		return nil, err
	}
	stored := make([]bool, len(ids))
	err = m.eachSlot(ctx, groups, func(ctx context.Context, at []int) error {
		var b tx.Batch
		for _, i := range at {
			b = tx.Join(b, tx.On(m.Target(ids[i]), m.replaceOps(vs[i])...))
		}
		o := m.opts.Exec
		o.IfMissing = tx.MustBeNew
		_, err := tx.Exec(ctx, m.rdb, b, o)
		for _, i := range at {
			stored[i] = err == nil
		}
		return err
	})
	if errors.Is(err, errs.PartlyApplied) {
		// some slots were written: their ids, so that no model is
		// stored under an id its caller never learns
		for i := range ids {
			if !stored[i] {
				ids[i] = ""
			}
		}
		return ids, err
	}
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// DeleteMany removes several models and every one of their keys (not their
// locks), and returns the ids of those that existed, in the order of ids
// (Rapyer's adelete_many; ids of missing models are passed over). Like
// Delete it is all or nothing per batch: a key of another Redis type than
// the model's fails it with ErrWrongType, nothing deleted. On one server
// it is one atomic batch; on a cluster one per hash slot, sent in parallel.
//
// When every model exists, that batch is one round trip. When one is
// missing the batch changes nothing, and DeleteMany reads which are
// missing and deletes, in one batch, the collection keys and index entries
// that those without their root hash left (as Delete does; two round
// trips); then it deletes those that exist optimistically: it watches
// their keys and reads which exist (one round trip), then deletes them in
// MULTI/EXEC (a second), retrying on a conflict like Update.
func (m *Model[T]) DeleteMany(ctx context.Context, ids ...string) ([]string, error) {
	if err := m.ready(ctx, "Model.DeleteMany"); err != nil {
		return nil, err
	}
	groups, err := m.slots(ids)
	if err != nil {
		return nil, err
	}
	if err := m.groupsOK(ctx); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := m.moveFirst(ctx, id); err != nil {
			return nil, err
		}
	}
	gone := make([]bool, len(ids))
	err = m.eachSlot(ctx, groups, func(ctx context.Context, at []int) error {
		var b tx.Batch
		for _, i := range at {
			b = tx.Join(b, tx.On(m.Target(ids[i]), ops.Delete[T]()))
		}
		_, err := tx.Exec(ctx, m.rdb, b, m.opts.Exec)
		if errors.Is(err, errs.NotFound) {
			if err = m.clearMissing(ctx, ids, at); err == nil {
				err = m.deleteExisting(ctx, ids, at, gone)
			}
		} else if err == nil {
			for _, i := range at {
				gone[i] = true
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for i, id := range ids {
		if gone[i] {
			out = append(out, id)
		}
	}
	return out, nil
}

// clearMissing deletes the leftovers of the models ids[at] that are
// missing (collection keys and index entries whose root is gone:
// docs/storage.md, "Keys without their root"), as Delete does, before
// deleteExisting deletes those that exist: one HEXISTS each, pipelined,
// then one batch of their deletes with SkipIfMissing (prog.Purge), which
// checks every key before it writes, so that a key of another type fails
// DeleteMany with nothing deleted. A model created since the read makes
// that batch a skip (nothing written), and deleteExisting deletes it.
func (m *Model[T]) clearMissing(ctx context.Context, ids []string, at []int) error {
	exists := make([]*redis.BoolCmd, len(at))
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j, i := range at {
			exists[j] = p.HExists(ctx, m.Target(ids[i]).Root(), versionField)
		}
		return nil
	})
	if err != nil {
		return reply.Read(err)
	}
	var b tx.Batch
	for j, i := range at {
		if !exists[j].Val() {
			b = tx.Join(b, tx.On(m.Target(ids[i]), ops.Delete[T]()))
		}
	}
	if b.Len() == 0 {
		return nil
	}
	o := m.opts.Exec
	o.IfMissing = tx.SkipIfMissing
	_, err = tx.Exec(ctx, m.rdb, b, o)
	return err
}

// deleteExisting deletes the models ids[at] that exist, in one optimistic
// update, and marks them in gone.
func (m *Model[T]) deleteExisting(ctx context.Context, ids []string, at []int, gone []bool) error {
	var watch []string
	for _, i := range at {
		ks, err := m.Keys(ids[i])
		if err != nil {
			return err
		}
		watch = append(watch, ks...)
	}
	var found []int
	read := func(p redis.Pipeliner) func() (tx.Batch, error) {
		exists := make([]*redis.BoolCmd, len(at))
		for j, i := range at {
			exists[j] = p.HExists(ctx, m.Target(ids[i]).Root(), versionField)
		}
		return func() (tx.Batch, error) {
			found = found[:0]
			var b tx.Batch
			for j, c := range exists {
				ok, err := c.Result()
				if err != nil {
					return tx.Batch{}, readErr(m.Target(ids[at[j]]).Root(), err)
				}
				if ok {
					found = append(found, at[j])
					b = tx.Join(b, tx.On(m.Target(ids[at[j]]), ops.Delete[T]()))
				}
			}
			return b, nil
		}
	}
	if _, err := tx.Optimistic(ctx, m.rdb, watch, read, m.opts.Exec); err != nil {
		return err
	}
	for _, i := range found {
		gone[i] = true
	}
	return nil
}

// slots checks ids and groups their indexes by the batch that can hold
// them: one group on one server, one per hash slot on a cluster (or with
// Options.Exec.StrictSlots). An id given twice is refused.
func (m *Model[T]) slots(ids []string) ([][]int, error) {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if _, err := m.Key(id); err != nil {
			return nil, err
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: id %q is given twice", errs.Invalid, id)
		}
		seen[id] = true
	}
	if len(ids) == 0 {
		return nil, nil
	}
	_, cluster := m.rdb.(*redis.ClusterClient)
	if !cluster && !m.opts.Exec.StrictSlots {
		all := make([]int, len(ids))
		for i := range all {
			all[i] = i
		}
		return [][]int{all}, nil
	}
	bySlot := map[int][]int{}
	var order []int
	for i, id := range ids {
		s := keys.Slot(m.Target(id).Root())
		if _, ok := bySlot[s]; !ok {
			order = append(order, s)
		}
		bySlot[s] = append(bySlot[s], i)
	}
	out := make([][]int, 0, len(order))
	for _, s := range order {
		out = append(out, bySlot[s])
	}
	return out, nil
}

// eachSlot runs f on every group, in parallel, and joins their errors.
// When some groups succeeded and others failed, the error wraps
// ErrPartlyApplied: each group's own error says that group wrote nothing,
// which is not true of the call.
func (m *Model[T]) eachSlot(ctx context.Context, groups [][]int, f func(context.Context, []int) error) error {
	if len(groups) == 1 {
		return f(ctx, groups[0])
	}
	fails := make([]error, len(groups))
	var wg sync.WaitGroup
	for g, at := range groups {
		wg.Go(func() { fails[g] = f(ctx, at) })
	}
	wg.Wait()
	failed := slices.DeleteFunc(fails, func(e error) bool { return e == nil })
	err := errors.Join(failed...)
	if n := len(groups) - len(failed); err != nil && n > 0 {
		return fmt.Errorf("%w: %d of %d slots were written (one batch each), and then: %w", errs.PartlyApplied, n, len(groups), err)
	}
	return err
}

// replaceOps are the ops of Save: the value, and the model's TTL if it has
// one.
func (m *Model[T]) replaceOps(v T) []ops.Op {
	o := []ops.Op{ops.Replace(v)}
	if m.opts.TTL > 0 {
		o = append(o, ops.Expire[T](m.opts.TTL))
	}
	return o
}
