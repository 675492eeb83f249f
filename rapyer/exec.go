package rapyer

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/tx"
)

// ExecOption changes one execution.
type ExecOption func(*tx.Options)

// IgnoreIfDeleted makes a batch on a missing model do nothing and report
// Result.Skipped, instead of failing with ErrNotFound.
func IgnoreIfDeleted() ExecOption { return func(o *tx.Options) { o.IfMissing = tx.SkipIfMissing } }

// WithRetry bounds the attempts of an optimistic update.
func WithRetry(r tx.Retry) ExecOption { return func(o *tx.Options) { o.Retry = r } }

// WithBudget sets the work one execution may ask of the server (see
// tx.Budget; Options.Exec.Budget sets it for every execution of a model):
// WithBudget(tx.Budget{Moves: 1_000_000}) for an Insert into the middle of
// a long list, WithBudget(tx.Budget{Bytes: tx.Unlimited}) to lift the byte
// budget. A batch over its budget fails with ErrTooLarge and writes nothing.
func WithBudget(b tx.Budget) ExecOption { return func(o *tx.Options) { o.Budget = b } }

// Exec runs batch b on model id atomically: one round trip, all or nothing,
// guards checked on the server before the first write. Ops bound to other
// targets with tx.On run in the same step. A missing model fails with
// ErrNotFound and nothing is created (see IgnoreIfDeleted).
func (m *Model[T]) Exec(ctx context.Context, id string, b tx.Batch, opt ...ExecOption) (*tx.Result, error) {
	return m.exec(ctx, id, b, m.opts.RefreshTTL, opt...)
}

// exec is Exec, refreshing the model's TTL in the batch when refresh is
// set (not for Expire and Persist, which set the TTL themselves).
func (m *Model[T]) exec(ctx context.Context, id string, b tx.Batch, refresh bool, opt ...ExecOption) (*tx.Result, error) {
	t := m.Target(id)
	if !t.Valid() {
		return nil, t.Err()
	}
	o := m.execOptions(t)
	for _, f := range opt {
		f(&o)
	}
	if refresh && b.Len() > 0 {
		b = m.refresh(b, t)
	}
	return tx.Exec(ctx, m.rdb, b, o)
}

// ExecAll runs a batch whose ops are all bound to targets (tx.On) over
// several models, atomically. On a cluster the models must share a hash tag
// (Options.HashTag), or it fails with ErrCrossSlot before sending anything.
func (m *Model[T]) ExecAll(ctx context.Context, b tx.Batch, opt ...ExecOption) (*tx.Result, error) {
	o := m.opts.Exec
	for _, f := range opt {
		f(&o)
	}
	return tx.Exec(ctx, m.rdb, b, o)
}

// Update runs a read-decide-write update of model id, optimistically: it
// watches every key of the model and reads it (one round trip), calls decide
// with the value, and runs the batch decide returns atomically in MULTI/EXEC
// (the second round trip). When another client changed the model in
// between, it starts again after a jittered backoff; after the attempts of
// Options.Exec.Retry it fails with ErrConflict. decide may run more than once
// and should have no side effects; its error ends the update and is returned.
// A missing model gives ErrNotFound. Result.Attempts tells how many attempts
// ran.
func (m *Model[T]) Update(ctx context.Context, id string, decide func(v T) (tx.Batch, error), opt ...ExecOption) (*tx.Result, error) {
	return m.UpdateMany(ctx, []string{id}, func(vs []T) (tx.Batch, error) { return decide(vs[0]) }, opt...)
}

// UpdateMany is Update over several models of this type (a transfer between
// two accounts): decide gets their values in the order of ids and returns a
// batch whose ops are bound with tx.On to Target(id) (unbound ops go to
// ids[0]). On a cluster the models must share a hash tag.
func (m *Model[T]) UpdateMany(ctx context.Context, ids []string, decide func(vs []T) (tx.Batch, error), opt ...ExecOption) (*tx.Result, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: UpdateMany needs ids", errs.Invalid)
	}
	if decide == nil {
		return nil, fmt.Errorf("%w: nil decide function", errs.Invalid)
	}
	var watch, roots []string
	for _, id := range ids {
		ks, err := m.Keys(id)
		if err != nil {
			return nil, err
		}
		roots = append(roots, ks[0])
		watch = append(watch, ks...)
	}
	o := m.execOptions(m.Target(ids[0]))
	for _, f := range opt {
		f(&o)
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
			return b, nil
		}
	}
	res, err := tx.Optimistic(ctx, m.rdb, watch, read, o)
	var de *decideError
	switch {
	case errors.Is(err, errSkipped):
		return &tx.Result{Skipped: true, Attempts: 1}, nil
	case errors.As(err, &de):
		return nil, de.err
	}
	return res, err
}

var errSkipped = errors.New("skipped")

// decideError carries the caller's own error through the update loop
// untouched.
type decideError struct{ err error }

func (e *decideError) Error() string { return e.err.Error() }
func (e *decideError) Unwrap() error { return e.err }
