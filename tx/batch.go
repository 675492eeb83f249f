package tx

import (
	"fmt"
	"strings"
	"time"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/ops"
)

// Target names one stored model: the key of its root hash and its Go type.
// rapyer.Model.Target makes them; At makes one from a key by hand.
type Target struct {
	t   prog.Target
	err error
}

// At returns the Target of the model of type S whose root hash is at root.
func At[S any](root string) Target {
	m, err := schema.For[S]()
	if err != nil {
		return Target{err: err}
	}
	if root == "" {
		return Target{err: fmt.Errorf("%w: empty root key", errs.Invalid)}
	}
	return Target{t: prog.Target{Root: root, Model: m}}
}

// WithTTL returns t with the lifetime d that ops.CreateIfMissing gives the
// model when it creates it (rapyer.Model.Target sets the model's
// Options.TTL). It changes nothing else: a batch on a model that exists
// leaves its TTL alone. Zero is none; a d under a millisecond (a negative
// one included) fails a batch with CreateIfMissing with rapyer.ErrInvalid
// before anything is sent.
func (t Target) WithTTL(d time.Duration) Target {
	t.t.TTL = d
	return t
}

// Invalid returns a Target that fails every batch bound to it with err.
func Invalid(err error) Target { return Target{err: err} }

// Root is the key of the target's root hash.
func (t Target) Root() string { return t.t.Root }

// Valid reports whether t names a model.
func (t Target) Valid() bool { return t.err == nil && t.t.Model != nil }

// Err is why t is not valid, or nil.
func (t Target) Err() error {
	if t.err == nil && t.t.Model == nil {
		return fmt.Errorf("%w: no target model", errs.Invalid)
	}
	return t.err
}

// Batch is an immutable list of ops that run together: in one round trip and
// all or nothing when executed atomically. Every op runs on the model it is
// bound to: ops made with On are bound to their target, so one batch can
// change several models; ops made with Of are unbound until the batch is
// bound with Batch.On (rapyer.Model.Exec binds them to the model it runs on).
// Exec refuses an op that is still unbound, with rapyer.ErrInvalid.
//
// The zero Batch is empty and valid.
type Batch struct {
	items []item
}

type item struct {
	op     ops.Op
	target *Target
}

// Of returns a batch of ops bound to whichever model the batch runs on.
func Of(o ...ops.Op) Batch {
	items := make([]item, len(o))
	for i, op := range o {
		items[i] = item{op: op}
	}
	return Batch{items: items}
}

// On returns a batch of ops bound to target t.
func On(t Target, o ...ops.Op) Batch {
	return Batch{items: bound(t, len(o))}.fill(o)
}

// bound is the items of a batch of n ops bound to t, their ops not set:
// one allocation for up to three ops (the target beside them), a model
// Lock's save among them. The slice is full (cap = len): an append copies.
func bound(t Target, n int) []item {
	if n == 1 {
		// a Save's Replace: 64 bytes, where the room of three takes 112
		r := &boundOne{t: t}
		r.item[0].target = &r.t
		return r.item[:1:1]
	}
	if n <= len(boundRoom{}.items) {
		r := &boundRoom{t: t}
		items := r.items[:n:n]
		for i := range items {
			items[i].target = &r.t
		}
		return items
	}
	items, tt := make([]item, n), new(Target)
	*tt = t
	for i := range items {
		items[i].target = tt
	}
	return items
}

// fill sets the ops of b's items, as many as o.
func (b Batch) fill(o []ops.Op) Batch {
	for i, op := range o {
		b.items[i].op = op
	}
	return b
}

// Join returns a batch running the given batches in order, as one.
func Join(bs ...Batch) Batch {
	var items []item
	for _, b := range bs {
		items = append(items, b.items...)
	}
	return Batch{items: items}
}

// On returns a new batch: b with its unbound ops bound to t; ops bound
// already keep their target.
func (b Batch) On(t Target) Batch {
	// a short batch and its target in one allocation (Model.Exec binds
	// every batch it runs)
	items := bound(t, len(b.items))
	for i, it := range b.items {
		if it.target == nil {
			it.target = items[i].target
		}
		items[i] = it
	}
	return Batch{items: items}
}

// boundRoom holds the ops of a short batch bound by On or Batch.On, and
// their target.
type boundRoom struct {
	t     Target
	items [3]item
}

// boundOne is boundRoom of a batch of one op.
type boundOne struct {
	t    Target
	item [1]item
}

// Then returns a new batch: b's ops followed by o (unbound).
func (b Batch) Then(o ...ops.Op) Batch { return Join(b, Of(o...)) }

// Len is the number of ops in the batch.
func (b Batch) Len() int { return len(b.items) }

// Ops lists the batch's ops in order.
func (b Batch) Ops() []ops.Op {
	out := make([]ops.Op, len(b.items))
	for i, it := range b.items {
		out[i] = it.op
	}
	return out
}

// String lists the ops, one a line, each prefixed by its target's root key
// when it is bound to one.
func (b Batch) String() string {
	var sb strings.Builder
	for _, it := range b.items {
		if it.target != nil {
			sb.WriteString(it.target.Root())
			sb.WriteString(": ")
		}
		if it.op == nil {
			sb.WriteString("<nil op>")
		} else {
			sb.WriteString(it.op.String())
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// Commands renders the instructions the batch compiles to, one a line,
// without a server: b.On(target).Commands() for a batch of unbound ops.
// Errors are those Exec would return before sending anything (an op bound to
// no model among them).
func (b Batch) Commands() (string, error) {
	p, err := compile(b, prog.Need)
	if err != nil {
		return "", err
	}
	return prog.Render(p.Instrs()), nil
}

// compile builds the program of a batch whose ops are all bound.
func compile(b Batch, mode prog.Mode) (*prog.Builder, error) {
	pb := prog.NewBuilderFor(len(b.items))
	for i, it := range b.items {
		if it.op == nil {
			return nil, fmt.Errorf("%w: op %d of the batch is nil", errs.Invalid, i+1)
		}
		if it.target == nil {
			return nil, fmt.Errorf("%w: %s: op %d is bound to no model: bind it with tx.On or Batch.On", errs.Invalid, it.op, i+1)
		}
		t := *it.target
		if !t.Valid() {
			return nil, errs.At(it.op.String(), t.Err())
		}
		pb.Declare(t.t, mode)
		pb.Owner(it.op, "") // described only if a message needs it
		from := len(pb.Instrs())
		if err := it.op.Compile(pb, t.t); err != nil {
			return nil, errs.At(it.op.String(), err)
		}
		ins := pb.Instrs()
		stampItem(ins, from, it.op, i)
		for j := from; j < len(ins); j++ {
			if err := overLimit(ins[j].Args); err != nil {
				return nil, errs.At(it.op.String(), err)
			}
		}
	}
	if root := pb.RequiredNew(); root != "" {
		// the Fresh declaration ignores Require: the batch would create
		// the model its Exists guard says must exist
		return nil, fmt.Errorf("%w: %s: ops.Exists requires the model to exist and tx.MustBeNew requires it to be new: no run of the batch can hold both", errs.Invalid, root)
	}
	return pb, nil
}

// stampItem sets Instr.Item of the instructions op (the batch's i-th)
// emitted from index from on. An instruction an earlier op emitted found
// there was moved down by one op moved before it (ops.CreateIfMissing's
// ensure goes to the front of its model's instructions): then that op's
// instruction is found before from, nearest first.
func stampItem(ins []prog.Instr, from int, op ops.Op, i int) {
	moved := false
	for j := from; j < len(ins); j++ {
		if ins[j].Owner == op {
			ins[j].Item = i
		} else {
			moved = true
		}
	}
	for j := from - 1; moved && j >= 0; j-- {
		if ins[j].Owner == op {
			ins[j].Item, moved = i, false
		}
	}
}

// overLimit refuses an argument longer than the 512 MB Redis takes in one
// value (schema.MaxValue): the server would cut the connection while
// reading it, and the caller get ErrUnknownOutcome after resending it all.
// Values encoded by a codec are checked there; this catches the rest (list
// elements, map keys and set members passed as strings or bytes, the text
// of AppendText, the operands of guards).
func overLimit(args []string) error {
	for _, a := range args {
		if len(a) > schema.MaxValue {
			return fmt.Errorf("%w: an argument of %d bytes, over the 512 MB Redis takes in one value", errs.TooLarge, len(a))
		}
	}
	return nil
}
