package rapyer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/tx"
)

// LockOption changes how one model lock is taken.
type LockOption func(*lock.Options)

// WithLock sets every lock option at once (TTL, wait, backoff, auto-extend).
func WithLock(opts lock.Options) LockOption {
	return func(o *lock.Options) {
		load := o.Load
		*o = opts
		o.Load = load
	}
}

// MaxAction is the longest lock action, in bytes.
const MaxAction = keys.MaxAction

// held is one model locked and loaded.
type held[T any] struct {
	id     string
	root   string
	lock   *lock.Lock
	before T
	value  T
}

// acquire locks model id for action and loads it in the same round trip.
func (m *Model[T]) acquire(ctx context.Context, id, action string, opt []LockOption) (*held[T], error) {
	root, err := m.Key(id)
	if err != nil {
		return nil, err
	}
	if err := keys.CheckAction(action); err != nil {
		return nil, err
	}
	var read func() (T, bool, error)
	o := m.opts.Lock
	for _, f := range opt {
		f(&o)
	}
	o.Load = func(p redis.Pipeliner) { read = m.queueRead(p, root) }
	l, err := lock.Acquire(ctx, m.rdb, keys.Lock(root, action), o)
	if err != nil {
		return nil, err
	}
	v, ok, err := read()
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s", errs.NotFound, root)
	}
	if err != nil {
		_ = l.Release(ctx)
		return nil, err
	}
	// before is a deep enough copy: the diff compares it with what fn leaves,
	// and fn may change maps and slices in place.
	before, _, _ := read()
	return &held[T]{id: id, root: root, lock: l, before: before, value: v}, nil
}

// Lock locks model id for action, loads it, and calls fn with it. When fn
// returns nil, what fn changed in *v (and only that, field by field) is saved
// in one atomic batch fenced by the lock, and the lock is released in that
// same step: two round trips in all when nobody else holds the lock. If the
// lock was lost meanwhile (its TTL ran out and another holder came), the save
// is refused with an error wrapping ErrLockLost and rapyer.ErrNotHeld, and
// nothing is stored.
//
// Different actions on one model run side by side; the same action on one
// model runs one at a time. fn runs while the lock is held: keep it within
// the lock's TTL, or pass WithLock(lock.Options{AutoExtend: true}). When fn
// returns an error or panics nothing is saved and the lock is released (the
// panic goes on). A missing model gives ErrNotFound; a lock still held by
// another after the wait gives rapyer.ErrNotAcquired.
func (m *Model[T]) Lock(ctx context.Context, id, action string, fn func(v *T) error, opt ...LockOption) error {
	if fn == nil {
		return fmt.Errorf("%w: nil function", errs.Invalid)
	}
	_, err := m.lockMany(ctx, []string{id}, action, func(_ context.Context, vs []*T) error { return fn(vs[0]) }, opt)
	return err
}

// LockContext is Lock for work that should stop when the lock is lost: fn
// gets a context that is cancelled when ctx is, or when the lock is known
// lost (its watchdog, with lock.Options.AutoExtend, found it gone; the
// cause is then rapyer.ErrNotHeld).
func (m *Model[T]) LockContext(ctx context.Context, id, action string, fn func(ctx context.Context, v *T) error, opt ...LockOption) error {
	if fn == nil {
		return fmt.Errorf("%w: nil function", errs.Invalid)
	}
	_, err := m.lockMany(ctx, []string{id}, action, func(ctx context.Context, vs []*T) error { return fn(ctx, vs[0]) }, opt)
	return err
}

// LockUpdate is the functional variant of Lock: fn returns the batch to run
// on the model, which runs fenced by the lock and releases it in the same
// step. The batch's results are returned.
func (m *Model[T]) LockUpdate(ctx context.Context, id, action string, fn func(v T) (tx.Batch, error), opt ...LockOption) (*tx.Result, error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: nil function", errs.Invalid)
	}
	h, err := m.acquire(ctx, id, action, opt)
	if err != nil {
		return nil, err
	}
	b, err := protect(func() { release(h.lock) }, func() (tx.Batch, error) { return fn(h.value) })
	if err != nil {
		release(h.lock)
		return nil, err
	}
	t := m.Target(id)
	res, err := tx.Exec(ctx, m.rdb, tx.Join(tx.On(t, ops.Fenced(h.lock)), b, tx.On(t, ops.Unlock(h.lock))), m.execOptions(t))
	return res, m.finish([]*held[T]{h}, guardFrom(err, 1))
}

// LockMany locks several models of this type for action, in one global
// order of their keys, so that two callers locking the same models in
// opposite orders (a transfer A->B and B->A) cannot deadlock; loads them;
// calls fn with all of them; and saves what fn changed, fenced by the locks,
// releasing them in the same step. On one server, or on a cluster when the
// models share a hash tag, the save is one atomic batch; otherwise it is one
// atomic batch per model (each fenced by its own lock), in key order, and
// Result reports the last.
func (m *Model[T]) LockMany(ctx context.Context, ids []string, action string, fn func(vs []*T) error, opt ...LockOption) (*tx.Result, error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: LockMany needs a function", errs.Invalid)
	}
	return m.lockMany(ctx, ids, action, func(_ context.Context, vs []*T) error { return fn(vs) }, opt)
}

func (m *Model[T]) lockMany(ctx context.Context, ids []string, action string, fn func(ctx context.Context, vs []*T) error, opt []LockOption) (*tx.Result, error) {
	order, err := m.keyOrder(ids)
	if err != nil {
		return nil, err
	}
	hs, taken, err := m.acquireAll(ctx, ids, order, action, opt)
	if err != nil {
		return nil, err
	}
	releaseAll := func() {
		for _, h := range taken {
			release(h.lock)
		}
	}
	vs := make([]*T, len(hs))
	for i, h := range hs {
		vs[i] = &h.value
	}
	// fn's context ends with the caller's, or when a lock is known lost.
	fctx, cancel := context.WithCancelCause(ctx)
	for _, h := range taken {
		stop := context.AfterFunc(h.lock.Context(), func() { cancel(ErrNotHeld) })
		defer stop()
	}
	defer cancel(nil)
	if _, err := protect(releaseAll, func() (tx.Batch, error) { return tx.Batch{}, fn(fctx, vs) }); err != nil {
		releaseAll()
		return nil, err
	}
	return m.saveAll(ctx, taken)
}

// keyOrder is the order in which LockMany takes the locks of ids: the order
// of their root keys, one global order for every caller. An id given twice
// is refused.
func (m *Model[T]) keyOrder(ids []string) ([]int, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: LockMany needs ids", errs.Invalid)
	}
	order := make([]int, len(ids))
	roots := make([]string, len(ids))
	for i, id := range ids {
		order[i] = i
		r, err := m.Key(id)
		if err != nil {
			return nil, err
		}
		roots[i] = r
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(roots[a], roots[b]) })
	for k := 1; k < len(order); k++ {
		if roots[order[k]] == roots[order[k-1]] {
			return nil, fmt.Errorf("%w: LockMany: id %q twice", errs.Invalid, ids[order[k]])
		}
	}
	return order, nil
}

// acquireAll locks and loads the models of ids in order: hs in the order of
// ids, taken in the order they were locked. When one fails, the locks taken
// are released.
func (m *Model[T]) acquireAll(ctx context.Context, ids []string, order []int, action string, opt []LockOption) (hs, taken []*held[T], err error) {
	hs = make([]*held[T], len(ids))
	for _, i := range order {
		h, err := m.acquire(ctx, ids[i], action, opt)
		if err != nil {
			for _, h := range taken {
				release(h.lock)
			}
			return nil, nil, err
		}
		hs[i] = h
		taken = append(taken, h)
	}
	return hs, taken, nil
}

// saveAll saves what changed in the models taken, fenced by their locks,
// and releases the locks in the same step: one batch when they share a slot
// (or the client is not a cluster's), else one batch per model in key
// order, reporting the last result and the first error.
func (m *Model[T]) saveAll(ctx context.Context, taken []*held[T]) (*tx.Result, error) {
	batches := make([]tx.Batch, len(taken))
	for i, h := range taken {
		t := m.Target(h.id)
		batches[i] = tx.On(t, ops.Fenced(h.lock), ops.Diff(h.before, h.value), ops.Unlock(h.lock))
	}
	_, cluster := m.rdb.(*redis.ClusterClient)
	oneSlot := true
	for _, h := range taken[1:] {
		oneSlot = oneSlot && keys.Slot(h.root) == keys.Slot(taken[0].root)
	}
	if !cluster || oneSlot {
		res, err := tx.Exec(ctx, m.rdb, tx.Join(batches...), m.opts.Exec)
		return res, m.finish(taken, err)
	}
	var res *tx.Result
	var firstErr error
	for i, b := range batches {
		r, err := tx.Exec(ctx, m.rdb, b, m.opts.Exec)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			release(taken[i].lock)
			continue
		}
		taken[i].lock.Forget()
		res = r
	}
	return res, firstErr
}

// finish stops the locks' watchdogs after a fenced save that released them,
// or releases them when the save failed.
func (m *Model[T]) finish(hs []*held[T], err error) error {
	for _, h := range hs {
		if err == nil {
			h.lock.Forget()
		} else {
			release(h.lock)
		}
	}
	return err
}

// release lets a lock go, whatever the caller's context says.
func release(l *lock.Lock) { _ = l.Release(context.Background()) }

// protect runs fn; a panic runs cleanup (releasing locks) and goes on.
func protect(cleanup func(), fn func() (tx.Batch, error)) (b tx.Batch, err error) {
	defer func() {
		if r := recover(); r != nil {
			cleanup()
			panic(r)
		}
	}()
	return fn()
}
