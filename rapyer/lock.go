package rapyer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/tx"
)

// MaxAction is the longest lock action, in bytes.
const MaxAction = keys.MaxAction

// Held is one model for LockAll to lock: a model, an id, and the variable
// the model is loaded into. Model.Hold makes one; the zero Held is refused
// with ErrInvalid. LockAll writes the variable: give each model and each
// call its own (LockAll refuses two models held into one variable).
type Held struct {
	rdb    redis.UniversalClient
	root   string
	target tx.Target
	err    error
	// load reads the model into the variable under the lock (holdOf).
	load loader
	// move, if not nil, moves a model it misses from the layout without
	// indexes and reports whether to try again (move.go).
	move func(ctx context.Context) (bool, error)
	// gate, if not nil, refuses a Model whose slot groups are not the
	// stored ones (groups.go), before anything is taken.
	gate func(ctx context.Context) error
}

// Hold binds model id of m to v for LockAll: LockAll loads the model into *v
// under its lock, and saves what changed in *v when its function returns
// nil. A bad id or a nil v is reported by LockAll, before anything is taken.
func (m *Model[T]) Hold(id string, v *T) Held {
	root, err := m.Key(id)
	if err == nil && v == nil {
		err = fmt.Errorf("%w: Hold of %q needs a variable to load it into", errs.Invalid, id)
	}
	if err != nil {
		return Held{err: err}
	}
	return m.hold(id, root, v, new(holdOf[T]))
}

// hold is Hold of the model at root, with h as its loader's room.
func (m *Model[T]) hold(id, root string, v *T, h *holdOf[T]) Held {
	h.m, h.root, h.v = m, root, v
	return Held{rdb: m.rdb, root: root, target: m.targetAt(id, root), move: m.moverOf(id), gate: m.gateOf(), load: h}
}

// loader reads one model into its variable under its lock. queue queues
// the read on the pipeline of an acquisition attempt (each attempt has a
// fresh one: the last queue counts); once an attempt has won the lock, take
// stores what was read in the variable (ok is false for a missing model,
// and the variable is then left as it was); diff, after fn, is the op that
// saves what changed in the variable since take.
type loader interface {
	queue(p redis.Pipeliner)
	take() (ok bool, err error)
	diff() ops.Op
	// span is the variable's memory: its address and size
	span() (addr, size uintptr)
}

// holdOf is the loader of a model of m at root into *v, with everything its
// read keeps in one allocation (Model.Lock's is inside its lockOne: none),
// where closures over the read, the decoded value and the diff were one
// each.
type holdOf[T any] struct {
	m    *Model[T]
	root string
	v    *T
	// before is the model as read, a copy that fn cannot change: the base
	// of the diff (for a type whose copy shares something changeable, a
	// second decode, a deep enough copy: fn may change maps and slices of
	// *v in place)
	before T
	// words are the root hash's HGETALL, the key as *string (go-redis
	// writes it, and reads a cluster slot from it, as the string; boxing a
	// string costs an allocation)
	words [2]any
	cmd   *redis.RawCmd
	cols  []redis.Cmder // the collections' reads (queueCollections)
}

func (h *holdOf[T]) queue(p redis.Pipeliner) {
	h.words = [2]any{"hgetall", &h.root}
	h.cmd = redis.NewRawCmd(context.Background(), h.words[:]...)
	_ = p.Process(context.Background(), h.cmd)
	h.cols = h.m.queueCollections(p, h.root)
}

func (h *holdOf[T]) take() (bool, error) {
	_, ok, err := h.m.readInto(&h.before, h.root, h.cmd, h.cols)
	if err != nil || !ok {
		return ok, err
	}
	if h.m.flat {
		*h.v = h.before
	} else {
		_, _, _ = h.m.readInto(h.v, h.root, h.cmd, h.cols) // the same bytes: it cannot fail now
	}
	return true, nil
}

func (h *holdOf[T]) diff() ops.Op { return ops.Diff(h.before, *h.v) }

func (h *holdOf[T]) span() (uintptr, uintptr) {
	return reflect.ValueOf(h.v).Pointer(), reflect.TypeFor[T]().Size()
}

// Lock locks model id for action, loads it, and calls fn with it and with
// the lock's context. When fn returns nil, what fn changed in *v (and only
// that, field by field) is saved in one atomic batch fenced by the lock, and
// the lock is released in that same step: two round trips in all when
// nobody else holds the lock. The Result is that batch's. If the lock was
// lost meanwhile (its TTL ran out and another holder came), the save is
// refused with an error wrapping ErrLockLost and rapyer.ErrNotHeld, and
// nothing is stored; so too when the lock was lost with the model (a server
// restarted without persistence), not ErrNotFound.
//
// fn's context is cancelled when ctx is, or when the lock is known lost (the
// watchdog of WithAutoExtend found it gone, or its TTL ran out by the local
// clock; the cause then wraps rapyer.ErrNotHeld): work under the lock should
// use it. Different actions on one model run side by side; the same action
// on one model runs one at a time. Keep fn within the lock's TTL, or pass
// WithAutoExtend(). When fn returns an error, panics or calls
// runtime.Goexit (as t.FailNow does) nothing is saved and the lock is
// released (the panic goes on); so too when the model type's MarshalText
// panics in the save. The lock is not reentrant: a Lock of the same model
// and action inside fn waits like any other caller, and ends with
// rapyer.ErrNotAcquired when its wait does. A stored value on which the type's
// UnmarshalText (or UnmarshalJSON) panics reads as ErrCorrupt, as in Get,
// and the lock is released. A missing model gives
// ErrNotFound (with SkipIfMissing: a Skipped Result, and fn is not called);
// a lock still held by another after the wait gives rapyer.ErrNotAcquired.
// opt edit the call's options, starting as the model's (see Option). Lock is LockAll of
// one model.
func (m *Model[T]) Lock(ctx context.Context, id, action string, fn func(ctx context.Context, v *T) error, opt ...Option) (*tx.Result, error) {
	if err := m.ready(ctx, "Model.Lock"); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: Lock: nil function", errs.Invalid)
	}
	one := &lockOne[T]{fn: fn}
	if root, err := m.Key(id); err != nil {
		one.held[0] = Held{err: err} // reported by lockAll, in its order
	} else {
		one.held[0] = m.hold(id, root, &one.v, &one.hold)
	}
	c, err := m.opts.call(opt)
	if err != nil {
		return nil, err
	}
	return lockAll(ctx, action, one.held[:], one.run, c, &one.room)
}

// lockOne is what Lock passes to lockAll, in one allocation: the variable
// the model is loaded into, its Held and the Held's loader, fn, and the room
// of what lockAll takes (a new(T), a one-element slice, a closure over both,
// the loader, the taken and the slice of them were six).
type lockOne[T any] struct {
	v    T
	held [1]Held
	hold holdOf[T]
	room takenRoom
	fn   func(ctx context.Context, v *T) error
}

// run is lockAll's function: fn with the loaded variable.
func (o *lockOne[T]) run(ctx context.Context) error { return o.fn(ctx, &o.v) }

// LockAll is Lock over several models, of one type or of many: it locks each
// model of held for action, in one global order of their keys, so that two
// callers locking the same models in opposite orders (a transfer A->B and
// B->A) cannot deadlock; loads each into its variable; calls fn; and saves
// what fn changed in the variables, fenced by the locks, releasing them in
// the same step:
//
//	var a Account
//	var o Order
//	_, err := rapyer.LockAll(ctx, "checkout", []rapyer.Held{accounts.Hold("alice", &a), orders.Hold("o1", &o)},
//		func(ctx context.Context) error { a.Balance -= o.Total; o.Paid = true; return nil })
//
// On one server, or on a cluster when the models share a hash tag, the save
// is one atomic batch: a lost lock or a failed check saves none of them.
// Otherwise it is one atomic batch per model (each fenced by its own lock),
// in key order; the Result is the last's and the error the first. A lock
// known lost before the first of those (see lock.Lock.Context) saves none:
// ErrLockLost. Once one of them may have stored its model, the others run
// even if ctx ends, and an error after a model was stored wraps
// ErrPartlyApplied. fn's
// context is cancelled when ctx is, or when any of the locks is known lost.
// Every model must use the same client, a model may appear once, and each
// needs a variable of its own (not shared with, nor overlapping, another
// model's); otherwise LockAll fails with ErrInvalid before taking anything.
//
// LockAll's options start from a zero Call (not any model's options) with opt
// applied: pass WithLockTTL, WithAutoExtend and the like for this call.
func LockAll(ctx context.Context, action string, held []Held, fn func(ctx context.Context) error, opt ...Option) (*tx.Result, error) {
	if err := errs.NilContext(ctx, "LockAll"); err != nil {
		return nil, err
	}
	c, err := Options{}.call(opt)
	if err != nil {
		return nil, err
	}
	return lockAll(ctx, action, held, fn, c, nil)
}

// taken is one model locked and loaded.
type taken struct {
	held *Held
	lock *lock.Lock
}

// diff is the op that saves what fn changed in the model's variable.
func (t *taken) diff() ops.Op { return t.held.load.diff() }

// takenRoom is room for the taken of one model and the slice of it, and
// for fn's context, so that Model.Lock allocates none of them.
type takenRoom struct {
	t   taken
	ts  [1]*taken
	ctx lockedCtx
}

// lockAll is LockAll with its options merged. room, if not nil, is where
// the taken of a single model goes.
func lockAll(ctx context.Context, action string, held []Held, fn func(ctx context.Context) error, o Call, room *takenRoom) (*tx.Result, error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: LockAll: nil function", errs.Invalid)
	}
	order, err := keyOrder(action, held)
	if err != nil {
		return nil, err
	}
	for i := range held {
		if g := held[i].gate; g != nil {
			if err := g(ctx); err != nil {
				return nil, err
			}
		}
	}
	ts, err := acquireAll(ctx, held, order, action, o, room)
	if err != nil || ts == nil {
		if err == nil { // a model was missing, with SkipIfMissing
			return &tx.Result{Skipped: true, Attempts: 1}, nil
		}
		return nil, err
	}
	return runAndSave(ctx, ts, fn, room, o.Exec)
}

// runAndSave calls fn under the locks of ts (runLocked) and saves what it
// changed (saveAll), or lets the locks go when fn fails. User code that
// leaves without returning, a panic or runtime.Goexit (t.FailNow does that)
// in fn or in the MarshalText of a model's type during the save, lets the
// locks go too, and stops their watchdogs, as it leaves; a panic goes on.
// (Until session 24 only a recovered panic did: after a Goexit the locks
// stayed held, and an AutoExtend watchdog kept them for ever.) A lock saved
// and released already is not sent again (Release of a released lock is a
// no-op).
func runAndSave(ctx context.Context, ts []*taken, fn func(ctx context.Context) error, room *takenRoom, o tx.Options) (*tx.Result, error) {
	returned := false
	defer func() {
		if !returned {
			releaseAll(ts)
		}
	}()
	var fctx *lockedCtx
	if room != nil {
		fctx = &room.ctx
	}
	if err := runLocked(ctx, ts, fn, fctx); err != nil {
		returned = true
		releaseAll(ts)
		return nil, err
	}
	res, err := saveAll(ctx, ts, o)
	returned = true
	return res, err
}

// keyOrder checks held and action, and returns the order in which LockAll
// takes the locks: the order of the models' root keys, one global order for
// every caller.
func keyOrder(action string, held []Held) ([]int, error) {
	if len(held) == 0 {
		return nil, fmt.Errorf("%w: LockAll: no models to lock", errs.Invalid)
	}
	if err := keys.CheckAction(action); err != nil {
		return nil, err
	}
	for i, h := range held {
		if h.err != nil {
			return nil, h.err
		}
		if h.load == nil {
			return nil, fmt.Errorf("%w: LockAll: model %d is a zero Held; make it with Model.Hold", errs.Invalid, i+1)
		}
		if !sameClient(h.rdb, held[0].rdb) {
			return nil, fmt.Errorf("%w: LockAll: %s and %s use different clients", errs.Invalid, held[0].root, h.root)
		}
	}
	if len(held) == 1 {
		return oneOrder, nil // read only: one model needs no slice of its own
	}
	order := make([]int, len(held))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(held[a].root, held[b].root) })
	for k := 1; k < len(order); k++ {
		if held[order[k]].root == held[order[k-1]].root {
			return nil, fmt.Errorf("%w: LockAll: %s twice", errs.Invalid, held[order[k]].root)
		}
	}
	return order, sharedVariables(held)
}

// sharedVariables refuses models of held loaded into one variable, or into
// variables that overlap (a struct and its field): each load would
// overwrite the other's, and the save would write one model's fields into
// the other. Variables of size zero hold nothing to mix up.
func sharedVariables(held []Held) error {
	type span struct {
		lo, hi uintptr
		i      int
	}
	spans := make([]span, 0, len(held))
	for i := range held {
		if lo, n := held[i].load.span(); n > 0 {
			spans = append(spans, span{lo, lo + n, i})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	for k := 1; k < len(spans); k++ {
		if spans[k].lo < spans[k-1].hi {
			a, b := held[spans[k-1].i].root, held[spans[k].i].root
			return fmt.Errorf("%w: LockAll: %s and %s are held into one variable (or overlapping ones); give each model its own", errs.Invalid, a, b)
		}
	}
	return nil
}

// oneOrder is keyOrder's order of one model.
var oneOrder = []int{0}

// sameClient reports whether a and b are the same client.
func sameClient(a, b redis.UniversalClient) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// acquireAll locks and loads the models of held in order, and returns them
// in the order they were locked. When one fails, or is missing, the locks
// taken are released: a missing model gives ErrNotFound, or nothing at all
// with SkipIfMissing.
func acquireAll(ctx context.Context, held []Held, order []int, action string, o Call, room *takenRoom) ([]*taken, error) {
	var ts []*taken
	if room != nil && len(order) == 1 {
		ts = room.ts[:0]
	} else {
		room, ts = nil, make([]*taken, 0, len(order))
	}
	// user code that leaves without returning while a model loads (a
	// panic the codec does not turn into ErrCorrupt, a runtime.Goexit in
	// UnmarshalText, which no recover sees) lets the locks taken go; a
	// panic goes on
	returned := false
	defer func() {
		if !returned {
			releaseAll(ts)
		}
	}()
	for _, i := range order {
		var t *taken
		if room != nil {
			t = &room.t
		} else {
			t = new(taken)
		}
		t, err := acquire(ctx, &held[i], action, o.Lock, t)
		if err == nil && t == nil && o.Exec.IfMissing != tx.SkipIfMissing {
			err = fmt.Errorf("%w: %s", errs.NotFound, held[i].root)
		}
		if err != nil || t == nil {
			returned = true
			releaseAll(ts)
			return nil, err
		}
		ts = append(ts, t)
	}
	returned = true
	return ts, nil
}

// acquire locks the model of h for action and loads it in the same round
// trip into t, which it returns; a missing model gives nil and no lock.
func acquire(ctx context.Context, h *Held, action string, o lock.Options, t *taken) (*taken, error) {
	o.Load = h.load.queue
	// the save is fenced by the lock's token (ops.Fenced), in its own
	// atomic step: no fencing number to give out
	o.NoFence = true
	for try := 0; ; try++ {
		l, err := lock.Acquire(ctx, h.rdb, keys.Lock(h.root, action), o)
		if err != nil {
			return nil, err
		}
		ok, err := takeOrRelease(h, l)
		if err == nil && !ok && try == 0 && h.move != nil {
			release(l)
			again, merr := h.move(ctx)
			if merr != nil || again {
				if merr != nil {
					return nil, merr
				}
				continue
			}
			return nil, nil
		}
		if err != nil || !ok {
			release(l)
			return nil, err
		}
		t.held, t.lock = h, l
		return t, nil
	}
}

// takeOrRelease is h's load.take, which lets l go should the load leave
// without returning: a panic the codec does not turn into ErrCorrupt, or a
// runtime.Goexit in a type's UnmarshalText (which no recover sees); a
// panic goes on.
func takeOrRelease(h *Held, l *lock.Lock) (bool, error) {
	returned := false
	defer func() {
		if !returned {
			release(l)
		}
	}()
	ok, err := h.load.take()
	returned = true
	return ok, err
}

// runLocked calls fn with a context that ends with ctx, or when one of the
// locks is known lost (cause rapyer.ErrNotHeld), in fctx (nil for a new
// one). A panic or Goexit in fn goes on (runAndSave lets the locks go).
func runLocked(ctx context.Context, ts []*taken, fn func(ctx context.Context) error, fctx *lockedCtx) error {
	// each lock's Bind wraps the one before: fctx ends when any does; it
	// is bound when first asked for (lockedCtx)
	if fctx == nil {
		fctx = new(lockedCtx)
	}
	fctx.parent, fctx.ts = ctx, ts
	defer fctx.end()
	return fn(fctx)
}

// saveAll saves what changed in the models taken, fenced by their locks,
// and releases the locks in the same step: one batch when they share a slot
// (or the client is not a cluster's), else one batch per model in key
// order, reporting the last result and the first error. Across slots, a
// lock known lost before the first save saves none (ErrLockLost); once a
// save may have stored its model the others run whatever ctx says, and an
// error after a model was stored wraps ErrPartlyApplied.
func saveAll(ctx context.Context, ts []*taken, o tx.Options) (*tx.Result, error) {
	// one model's batch (most locks) needs no slice of batches and no Join
	var one [1]tx.Batch
	batches := one[:]
	if len(ts) > 1 {
		batches = make([]tx.Batch, len(ts))
	}
	oneSlot := true
	for i, t := range ts {
		batches[i] = tx.On(t.held.target, ops.Fenced(t.lock), t.diff(), ops.Unlock(t.lock))
		oneSlot = oneSlot && (len(ts) == 1 || keys.Slot(t.held.root) == keys.Slot(ts[0].held.root))
	}
	rdb := ts[0].held.rdb
	if _, cluster := rdb.(*redis.ClusterClient); !cluster || oneSlot {
		b := batches[0]
		if len(batches) > 1 {
			b = tx.Join(batches...)
		}
		res, err := tx.Exec(ctx, rdb, b, o)
		return res, finish(ts, res, err)
	}
	if err := knownLost(ts); err != nil {
		// a lock known lost before the first save: save none, rather
		// than the models whose locks held and leave the call half done
		releaseAll(ts)
		return nil, fmt.Errorf("%w: LockAll saved none of its %d models (in different slots, one batch each): %w", errs.LockLost, len(ts), err)
	}
	var res *tx.Result
	var firstErr error
	saved := 0
	sctx := ctx
	for i, b := range batches {
		r, err := tx.Exec(sctx, rdb, b, o)
		if err == nil || errors.Is(err, errs.UnknownOutcome) {
			// A model may be stored: finish the others under the locks
			// still held whatever ctx says now, rather than leave half of
			// the call stored behind an error that says nothing was sent.
			sctx = context.WithoutCancel(ctx)
		}
		if err := finish(ts[i:i+1], r, err); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !r.Skipped {
			saved++
		}
		res = r
	}
	if firstErr != nil && saved > 0 {
		// the failed model's own error says nothing of it was written,
		// which is true of it alone: the call is partly applied
		firstErr = fmt.Errorf("%w: LockAll saved %d of %d models (in different slots, one batch each), and then: %w",
			errs.PartlyApplied, saved, len(batches), firstErr)
	}
	return res, firstErr
}

// knownLost returns why a lock of ts is known lost (its watchdog or an
// extension found the key gone, or its TTL passed by the local clock), or
// nil.
func knownLost(ts []*taken) error {
	for _, t := range ts {
		if err := context.Cause(t.lock.Context()); errors.Is(err, errs.NotHeld) {
			return err
		}
	}
	return nil
}

// finish stops the locks' watchdogs after a fenced save that released them,
// or releases them when the save failed or was skipped (a model deleted
// under the lock, with SkipIfMissing). A save refused or skipped for a
// missing model, whose lock that release finds lost, was lost with its lock
// (a restart without persistence, a flush): the batch checks the model
// before the lock, so that is ErrLockLost, not ErrNotFound, nor a Skipped
// result without an error.
func finish(ts []*taken, res *tx.Result, err error) error {
	missing := errors.Is(err, errs.NotFound) || (err == nil && res.Skipped)
	for _, t := range ts {
		if err == nil && !res.Skipped {
			t.lock.Forget()
			continue
		}
		if rerr := t.lock.Release(context.Background()); missing && errors.Is(rerr, errs.NotHeld) {
			err, missing = lostWithTheModel(t, err), false
		}
	}
	return err
}

// lostWithTheModel is the error of a save that found a model missing (err,
// or nil when it skipped it) and whose lock t's release found lost.
func lostWithTheModel(t *taken, err error) error {
	seen := "skipped a missing model"
	if err != nil {
		seen = "found a model missing (" + err.Error() + ")"
	}
	return fmt.Errorf("%w: the save %s, and the lock %s was no longer held: lost with the model (a restart without persistence, a flush)",
		errs.LockLost, seen, t.lock.Key())
}

// releaseAll lets the locks of ts go.
func releaseAll(ts []*taken) {
	for _, t := range ts {
		release(t.lock)
	}
}

// copiesByValue reports whether a value of type t copied by assignment
// shares nothing that can be changed in place: no map, slice, pointer,
// interface, channel or function anywhere in it (a string cannot be
// changed).
func copiesByValue(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			if !copiesByValue(t.Field(i).Type) {
				return false
			}
		}
		return true
	case reflect.Array:
		return copiesByValue(t.Elem())
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return false
	}
	return true
}

// release lets a lock go, whatever the caller's context says.
func release(l *lock.Lock) { _ = l.Release(context.Background()) }
