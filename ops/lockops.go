package ops

import (
	"fmt"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/lock"
)

type diffOp[S any] struct {
	modelOp[S]
	before, after S
}

func (o *diffOp[S]) String() string { return fmt.Sprintf("Diff(%s)", o.model.Name()) }

func (o *diffOp[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.check(t); err != nil {
		return err
	}
	return codec.EmitDiff(b, t, unsafe.Pointer(&o.before), unsafe.Pointer(&o.after))
}

// DiffValues are the values the op compares (prog.Diffed).
func (o *diffOp[S]) DiffValues(t prog.Target) (unsafe.Pointer, unsafe.Pointer, bool) {
	if o.check(t) != nil {
		return nil, nil, false
	}
	return unsafe.Pointer(&o.before), unsafe.Pointer(&o.after), true
}

// Diff writes what changed from before to after, field by field: changed
// scalars; for a list, the new tail of one that only grew at its end
// (RPUSH), the cut of one that only shrank at its end (LTRIM), or the
// elements that changed, one by one (LSET), when few did (at most 4, or a
// sixteenth of the elements before and after share), then its new tail or
// its cut; the items of a map or set that changed. Other changed lists are
// replaced whole: a server cost in proportion to the elements sent, not
// counted against the batch's budget. Fields that did not change are not
// written, so a concurrent writer of other fields is not overwritten. It is
// what a model lock saves; under the lock the stored list is the before
// value, and if it has become shorter than an index Diff sets, the batch
// fails with rapyer.ErrOutOfRange and writes nothing.
func Diff[S any](before, after S) Op {
	return &diffOp[S]{modelOp: newModelOp[S](), before: before, after: after}
}

type lockOp struct {
	name   string
	unlock bool // Unlock, else Fenced
	key    string
	token  string
}

// LockOf is the op's lock (prog.Locking).
func (o *lockOp) LockOf() (string, string, bool) { return o.key, o.token, o.unlock }

func (o *lockOp) String() string { return fmt.Sprintf("%s(%s)", o.name, o.key) }

func (o *lockOp) Compile(b *prog.Builder, t prog.Target) error {
	if o.key == "" {
		return fmt.Errorf("%w: a nil or zero *lock.Lock: pass the one lock.Acquire returned", errs.Invalid)
	}
	if o.unlock {
		b.Unlock(o.key, o.token, lock.WakeChannel(o.key))
		return nil
	}
	b.GuardLock(o.key, o.token)
	return nil
}

// Fenced guards that lock l is still held: when it was lost (expired, taken
// over), the batch fails with an error wrapping rapyer.ErrLockLost and rapyer.ErrNotHeld,
// and nothing is written. The lock key must be in the batch's cluster slot
// (model locks are). A nil or zero l fails the batch with
// rapyer.ErrInvalid before anything is sent.
func Fenced(l *lock.Lock) Op {
	return &lockOp{name: "Fenced", key: l.Key(), token: l.Token()}
}

// Unlock releases lock l in the batch's atomic step, if it still holds it,
// and wakes its waiters; after the batch ran, call l.Forget to stop its
// watchdog. A nil or zero l fails the batch with rapyer.ErrInvalid
// before anything is sent.
func Unlock(l *lock.Lock) Op {
	return &lockOp{name: "Unlock", unlock: true, key: l.Key(), token: l.Token()}
}
