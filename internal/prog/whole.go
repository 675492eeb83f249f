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

// Diffed is an op that writes what changed between two values of a model
// (ops.Diff). With a lock's guard before it and the lock's release after
// it (Locking), on a model without collections or indexes, it is a model
// Lock's save, which tx sends by a direct path: the changed fields encoded
// straight into the compiled batch's call.
type Diffed interface {
	// DiffValues are pointers to the values before and after, each an
	// t.Model.Type, or ok false when the op is not bound to t's model
	// (its Compile fails).
	DiffValues(t Target) (before, after unsafe.Pointer, ok bool)
}

// Locking is an op on a lock (ops.Fenced, ops.Unlock).
type Locking interface {
	// LockOf is the lock's key and token, and whether the op releases the
	// lock (else it guards that the lock is held); key is "" for an op
	// made of no lock (its Compile fails).
	LockOf() (key, token string, release bool)
}
