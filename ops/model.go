package ops

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
)

type replaceOp[S any] struct {
	modelOp[S]
	v S
}

func (o *replaceOp[S]) String() string { return fmt.Sprintf("Replace(%s)", o.model.Name()) }

func (o *replaceOp[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.check(t); err != nil {
		return err
	}
	return codec.EmitModel(b, t, unsafe.Pointer(&o.v))
}

// WholeValue is the value the op writes (prog.Whole).
func (o *replaceOp[S]) WholeValue(t prog.Target) (unsafe.Pointer, bool) {
	if o.check(t) != nil {
		return nil, false
	}
	return unsafe.Pointer(&o.v), true
}

// Replace writes the whole model, collections included, creating it if it
// does not exist. Like a SET of a key, it removes a TTL the model had: add
// ops.Expire to the batch to give it one (Model.Save does so when
// rapyer.Options.TTL is set). Its version goes on counting from where it was.
func Replace[S any](v S) Op { return &replaceOp[S]{modelOp: newModelOp[S](), v: v} }

type deleteOp[S any] struct{ modelOp[S] }

func (o *deleteOp[S]) String() string { return fmt.Sprintf("Delete(%s)", o.model.Name()) }

func (o *deleteOp[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.check(t); err != nil {
		return err
	}
	// Each collection key with its Redis type: the interpreter refuses,
	// before deleting anything, a key that holds another type.
	kt := make([]string, 0, 2*len(t.Model.Collections))
	for _, n := range t.Model.Collections {
		kt = append(kt, t.Key(n), n.Kind.RedisType())
	}
	b.Drop(t.Root, kt...)
	return nil
}

// Delete removes the model and every one of its keys. When the root key or a
// collection key holds another Redis type than the model's, the batch fails
// with rapyer.ErrWrongType and deletes nothing. It means what rapyer's Model.Delete
// means (which runs it, skipping a missing model): Delete in a batch, beside
// other ops and guards, is the same deletion.
func Delete[S any]() Op { return &deleteOp[S]{newModelOp[S]()} }

// ttlOp is Expire (d) or Persist (persist): a separate flag, so that an
// Expire of a zero duration (a TTL left unset by a caller) is refused as
// every other TTL under a millisecond is, and never removes the TTL.
type ttlOp[S any] struct {
	modelOp[S]
	d       time.Duration
	persist bool
}

func (o *ttlOp[S]) String() string {
	if o.persist {
		return fmt.Sprintf("Persist(%s)", o.model.Name())
	}
	return fmt.Sprintf("Expire(%s, %s)", o.model.Name(), o.d)
}

func (o *ttlOp[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.check(t); err != nil {
		return err
	}
	if !o.persist && o.d < time.Millisecond {
		return fmt.Errorf("%w: %s: a TTL must be at least a millisecond; use Persist to remove one", errs.Invalid, o)
	}
	if o.persist {
		b.Lifetime(t.Root, prog.Persist, 0)
	} else {
		b.Lifetime(t.Root, prog.SetTTL, o.d.Milliseconds())
	}
	return nil
}

// LifetimeOf is what the op does to the model's TTL (prog.Lifetimed).
func (o *ttlOp[S]) LifetimeOf(t prog.Target) (prog.TTL, int64, bool) {
	switch {
	case o.check(t) != nil || (!o.persist && o.d < time.Millisecond):
		return "", 0, false
	case o.persist:
		return prog.Persist, 0, true
	}
	return prog.SetTTL, o.d.Milliseconds(), true
}

// Expire sets (or refreshes) the model's time to live, for every one of its
// keys, in the same step as the rest of the batch. A d under a millisecond,
// zero and negative ones included, fails the batch with rapyer.ErrInvalid
// before anything is sent (Persist removes a TTL).
func Expire[S any](d time.Duration) Op { return &ttlOp[S]{newModelOp[S](), d, false} }

// Persist removes the model's time to live.
func Persist[S any]() Op { return &ttlOp[S]{newModelOp[S](), 0, true} }
