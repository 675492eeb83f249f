package ops

import (
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
)

type createOp[S any] struct {
	modelOp[S]
	v S
}

func (o *createOp[S]) String() string { return fmt.Sprintf("CreateIfMissing(%s)", o.model.Name()) }

func (o *createOp[S]) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.check(t); err != nil {
		return err
	}
	pairs, cols, err := codec.RootFields(t, unsafe.Pointer(&o.v))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", errs.Invalid, o, err)
	}
	if cols {
		return fmt.Errorf("%w: %s: the value's lists, maps and sets must be empty: fill them with ops of the batch", errs.Invalid, o)
	}
	if t.TTL < 0 || (t.TTL > 0 && t.TTL < time.Millisecond) {
		// a negative one made PEXPIRE delete the root it had just
		// written, leaving the batch's collection keys without a model;
		// one under a millisecond was none at all
		return fmt.Errorf("%w: %s: the target's TTL %v (tx.Target.WithTTL) must be at least a millisecond, or zero for none", errs.Invalid, o, t.TTL)
	}
	b.Ensure(t.Root, strconv.FormatInt(t.TTL.Milliseconds(), 10), pairs...)
	return nil
}

// CreateIfMissing creates the model with the value v when it does not
// exist, in the same atomic step as the rest of the batch and before every
// other op of the batch on the model, wherever it stands in the batch; when
// the model exists, it does nothing. The batch's guards and arithmetic then
// see the model as if it had been stored with v: on a missing model,
// AtMost(count, 4) checks v's count, and Incr(count, 1) counts from it. A
// batch that fails writes nothing, the creation included.
//
// A model it creates gets its first version as Create gives it (from the
// server's clock) and the model's TTL (rapyer.Options.TTL, carried by the
// target), on creation only: a batch on the model as it exists leaves its
// TTL alone, so a window of a rate limiter ends when the TTL runs out (see
// the example). v's lists, maps and sets must be empty (the batch fails
// with rapyer.ErrInvalid otherwise): fill them with ops of the batch. With an
// Exists guard in the batch, a missing model still fails it with
// rapyer.ErrNotFound; with SkipIfMissing, a batch on a missing model is skipped.
// Without CreateIfMissing, a batch on a missing model fails with
// rapyer.ErrNotFound. Server cost: O(f) for a model of f fields when it creates,
// O(1) when the model exists.
func CreateIfMissing[S any](v S) Op { return &createOp[S]{modelOp: newModelOp[S](), v: v} }
