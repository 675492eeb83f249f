package rapyer

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/tx"
)

// Duplicate copies model id, collections included, to a new model and
// returns its id (Rapyer's aduplicate): to newID, or, when newID is empty,
// to an id made by Options.NewID. The copy gets the model's TTL
// (Options.TTL) if it has one, and a version of its own. A missing model
// gives ErrNotFound; a newID that exists already gives ErrExists, and
// nothing is written.
//
// On one server, and on a cluster when both ids are in one slot (a shared
// hash tag), the copy is atomic: it watches the model's keys and reads it
// (one round trip), then creates the copy in MULTI/EXEC (a second), and
// starts again, like Update, if the model changed in between, so the copy
// is the model as it was when the copy was made. On a cluster with the ids
// in different slots no transaction spans both: the copy is one consistent
// snapshot of the model, created atomically at the new id, and the model
// may have changed since the snapshot.
func (m *Model[T]) Duplicate(ctx context.Context, id, newID string) (string, error) {
	if err := m.ready(ctx, "Model.Duplicate"); err != nil {
		return "", err
	}
	if newID == "" {
		newID = m.opts.NewID()
	}
	if newID == id {
		return "", fmt.Errorf("%w: Duplicate of %q to itself", errs.Invalid, id)
	}
	src, dst := m.Target(id), m.Target(newID)
	for _, t := range []tx.Target{src, dst} {
		if !t.Valid() {
			return "", t.Err()
		}
	}
	if err := m.groupsOK(ctx); err != nil {
		return "", err
	}
	o := m.opts.Exec
	o.IfMissing = tx.MustBeNew
	if _, cluster := m.rdb.(*redis.ClusterClient); cluster && keys.Slot(src.Root()) != keys.Slot(dst.Root()) {
		v, _, err := m.get(ctx, src.Root())
		if err != nil {
			return "", err
		}
		if _, err := tx.Exec(ctx, m.rdb, m.replace(v).On(dst), o); err != nil {
			return "", err
		}
		return newID, nil
	}
	watch, err := m.Keys(id)
	if err != nil {
		return "", err
	}
	read := func(p redis.Pipeliner) func() (tx.Batch, error) {
		r := m.queueRead(p, src.Root())
		return func() (tx.Batch, error) {
			v, ok, err := r()
			if err != nil {
				return tx.Batch{}, err
			}
			if !ok {
				return tx.Batch{}, fmt.Errorf("%w: %s", errs.NotFound, src.Root())
			}
			return m.replace(v).On(dst), nil
		}
	}
	if _, err := tx.Optimistic(ctx, m.rdb, watch, read, o); err != nil {
		return "", err
	}
	return newID, nil
}
