package rapyer

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/tx"
)

// Exec runs batch b on model id atomically: one round trip, all or nothing,
// guards checked on the server before the first write. b's unbound ops run
// on model id; ops bound to other targets with tx.On run in the same step (a
// batch whose ops are all bound runs with tx.Exec itself). A missing model
// fails with ErrNotFound and nothing is created (see SkipIfMissing). opt
// edit the call's options, starting as the model's (see Option).
func (m *Model[T]) Exec(ctx context.Context, id string, b tx.Batch, opt ...Option) (*tx.Result, error) {
	if err := m.ready(ctx, "Model.Exec"); err != nil {
		return nil, err
	}
	return m.exec(ctx, id, b, m.opts.RefreshTTL, opt)
}

// exec is Exec, refreshing the model's TTL in the batch when refresh is
// set (not for Expire and Persist, which set the TTL themselves).
func (m *Model[T]) exec(ctx context.Context, id string, b tx.Batch, refresh bool, opt []Option) (*tx.Result, error) {
	t := m.Target(id)
	if !t.Valid() {
		return nil, t.Err()
	}
	if err := m.groupsOK(ctx); err != nil {
		return nil, err
	}
	o, err := m.opts.call(opt)
	if err != nil {
		return nil, err
	}
	if refresh && b.Len() > 0 {
		b = m.refresh(b, t)
	}
	res, err := tx.Exec(ctx, m.rdb, b.On(t), o.Exec)
	if again, merr := m.moveAgain(ctx, id, missed(res, err)); merr != nil {
		return nil, merr
	} else if again {
		return tx.Exec(ctx, m.rdb, b.On(t), o.Exec)
	}
	return res, err
}

// Update runs a read-decide-write update of model id, optimistically: it
// watches every key of the model and reads it (one round trip), calls decide
// with the value, and runs the batch decide returns atomically in MULTI/EXEC
// (the second round trip). When another client changed the model in
// between, it starts again after a jittered backoff; after the attempts of
// Options.Exec.Retry (WithRetry) it fails with ErrConflict. decide may run
// more than once and should have no side effects; its error ends the update
// and is returned. A missing model gives ErrNotFound (see SkipIfMissing).
// Result.Attempts tells how many attempts ran.
func (m *Model[T]) Update(ctx context.Context, id string, decide func(v T) (tx.Batch, error), opt ...Option) (*tx.Result, error) {
	if err := m.ready(ctx, "Model.Update"); err != nil {
		return nil, err
	}
	if decide == nil {
		return nil, fmt.Errorf("%w: Update: nil function", errs.Invalid)
	}
	return m.UpdateMany(ctx, []string{id}, func(vs []T) (tx.Batch, error) { return decide(vs[0]) }, opt...)
}

// UpdateMany is Update over several models of this type (a transfer between
// two accounts): decide gets their values in the order of ids and returns a
// batch whose ops are bound with tx.On to Target(id) (unbound ops go to
// ids[0]). On a cluster the models must share a hash tag. An id given
// twice is refused with ErrInvalid before anything is sent (decide would
// see one model as two values, and only one of its writes could hold).
func (m *Model[T]) UpdateMany(ctx context.Context, ids []string, decide func(vs []T) (tx.Batch, error), opt ...Option) (*tx.Result, error) {
	if err := m.ready(ctx, "Model.UpdateMany"); err != nil {
		return nil, err
	}
	if len(ids) == 0 { // a nil or zero Model: watched's Keys reports it
		return nil, fmt.Errorf("%w: UpdateMany: no ids", errs.Invalid)
	}
	if decide == nil {
		return nil, fmt.Errorf("%w: Update: nil decide function", errs.Invalid)
	}
	watch, roots, o, err := m.watched(ctx, ids, opt)
	if err != nil {
		return nil, err
	}
	read := func(p redis.Pipeliner) func() (tx.Batch, error) {
		reads := make([]func() (T, bool, error), len(roots))
		for i, root := range roots {
			reads[i] = m.queueRead(p, root)
		}
		return func() (tx.Batch, error) {
			vs := make([]T, len(reads))
			for i, r := range reads {
				v, ok, err := r()
				if err != nil {
					return tx.Batch{}, err
				}
				if !ok {
					if o.IfMissing == tx.SkipIfMissing {
						return tx.Batch{}, errSkipped
					}
					return tx.Batch{}, fmt.Errorf("%w: %s", errs.NotFound, roots[i])
				}
				vs[i] = v
			}
			b, err := decide(vs)
			if err != nil {
				return tx.Batch{}, &decideError{err}
			}
			for _, id := range ids {
				b = m.refresh(b, m.Target(id))
			}
			return b.On(m.Target(ids[0])), nil
		}
	}
	res, err := tx.Optimistic(ctx, m.rdb, watch, read, o)
	var de *decideError
	missing := !errors.As(err, &de) && (errors.Is(err, errSkipped) || errors.Is(err, errs.NotFound))
	if again, merr := m.moveAnyAgain(ctx, ids, missing); merr != nil {
		return nil, merr
	} else if again {
		res, err = tx.Optimistic(ctx, m.rdb, watch, read, o)
	}
	switch {
	case errors.Is(err, errSkipped):
		return &tx.Result{Skipped: true, Attempts: 1}, nil
	case errors.As(err, &de):
		return nil, de.err
	}
	return res, err
}

// watched lists the keys of the models of ids, and their root keys, once
// the Model's slot groups are checked (groups.go), and the call's Exec
// options (opt applied).
func (m *Model[T]) watched(ctx context.Context, ids []string, opt []Option) (watch, roots []string, o tx.Options, err error) {
	for i, id := range ids {
		ks, err := m.Keys(id)
		if err != nil {
			return nil, nil, o, err
		}
		if slices.Contains(ids[:i], id) {
			return nil, nil, o, fmt.Errorf("%w: UpdateMany: id %q is given twice", errs.Invalid, id)
		}
		roots = append(roots, ks[0])
		watch = append(watch, ks...)
	}
	if o, err = m.opts.execCall(opt); err != nil {
		return nil, nil, o, err
	}
	return watch, roots, o, m.groupsOK(ctx)
}

var errSkipped = errors.New("skipped")

// decideError carries the caller's own error through the update loop
// untouched.
type decideError struct{ err error }

func (e *decideError) Error() string { return e.err.Error() }
func (e *decideError) Unwrap() error { return e.err }
