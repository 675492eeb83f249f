package prog

import "time"

// SetsTTL reports whether the program so far sets the lifetime of the model
// at root: an op of the batch (ops.Expire, ops.Persist) called Lifetime
// for it. The builder is the one place that knows; callers do not guess
// from what ops are called.
func (b *Builder) SetsTTL(root string) bool {
	m := b.byRoot(root)
	return m != nil && m.ttl != Keep
}

// RefreshTTL is the op a model that refreshes its TTL on use
// (rapyer.Options.RefreshTTL) adds at the end of its batches: it gives the
// model its full lifetime d again, unless an op before it in the batch set
// the model's lifetime itself (SetsTTL), which then wins.
func RefreshTTL(d time.Duration) Op { return refreshOp(d) }

type refreshOp time.Duration

func (o refreshOp) String() string { return "RefreshTTL(" + time.Duration(o).String() + ")" }

func (o refreshOp) Compile(b *Builder, t Target) error {
	if !b.SetsTTL(t.Root) {
		b.Lifetime(t.Root, SetTTL, time.Duration(o).Milliseconds())
	}
	return nil
}
