package ops

import (
	"fmt"
	"math"
	"strconv"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

// IncrItem adds by to the item k of a map of numbers on the server
// (HINCRBY on the map's hash for integers, HSET of the sum for floats) and
// yields the new value: Python's m[k] += by, where a missing item counts as
// 0 (as in a defaultdict(int)). Floats add as Go adds them (a float32 map
// in float32: 16777216+1 stays 16777216), an item holding +Inf, -Inf or
// NaN included, as Incr has it. A result out of the range of the map's
// value type (an int8 map past 127, a uint map below 0, a uint64 item past
// 2^63-1, which HINCRBY cannot read; a float sum that is not finite) fails
// the batch with rapyer.ErrOverflow, and an item that does not hold a number
// with rapyer.ErrCorrupt, in both cases before anything is written. It sees the items
// earlier ops of the batch set or removed (SetItem, DeleteItems, PopItem);
// after a PopAnyItem of the same map it fails with rapyer.ErrInvalid, as which
// item went is unknown until the batch runs. Server cost: O(1).
func IncrItem[S any, M ~map[K]N, K comparable, N Number](f lens.Field[S, M], k K, by N) *Yield[N] {
	o := &itemIncr{collOp: newColl(f, "IncrItem", nil, schema.Map).addValues(key, k)}
	o.shown = append(o.shown, by)
	if o.f.err == nil {
		o.by, o.f.err = o.f.node.Value.EncodeAny(by)
	}
	return &Yield[N]{inner: o, decode: elemDecoder[N](o.collOp)}
}

// itemIncr is IncrItem: a collection op with its own emitter, which needs
// the map's value codec for the bounds.
type itemIncr struct {
	*collOp
	by string
}

func (o *itemIncr) Compile(b *prog.Builder, t prog.Target) error {
	if err := o.f.write(b, t); err != nil {
		return err
	}
	c := o.f.node.Value
	lo, hi := bounds(c)
	switch c.Kind {
	case schema.Float:
		if f, _ := strconv.ParseFloat(o.by, 64); math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("%w: %s: the step must be finite", errs.Invalid, o)
		}
		b.MIncr(t.Root, o.f.key(t), o.args[0], "float", o.by, lo, hi)
	case schema.Int, schema.Uint:
		if u, err := strconv.ParseUint(o.by, 10, 64); err == nil && u > math.MaxInt64 {
			return fmt.Errorf("%w: %s: HINCRBY takes steps up to 2^63-1", errs.Overflow, o)
		}
		b.MIncr(t.Root, o.f.key(t), o.args[0], "int", o.by, lo, hi)
	default:
		return fmt.Errorf("%w: %s: the map's values are not numbers", errs.Invalid, o)
	}
	return nil
}
