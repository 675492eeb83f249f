package prog

import "unsafe"

// Whole is an op that writes a whole model from a value (ops.Replace). A
// batch of one such op (and a TTL op) on a model without collections or
// indexes is a plain Save, which tx sends by a direct path: the value's
// fields encoded straight into the compiled save's call.
type Whole interface {
	// WholeValue is a pointer to the value, an t.Model.Type, or ok false
	// when the op is not bound to t's model (its Compile fails).
	WholeValue(t Target) (v unsafe.Pointer, ok bool)
}

// Lifetimed is an op that only sets a model's TTL (ops.Expire,
// ops.Persist).
type Lifetimed interface {
	// LifetimeOf is what the op does to the TTL of the model at t, or ok
	// false when its Compile fails.
	LifetimeOf(t Target) (ttl TTL, ms int64, ok bool)
}
