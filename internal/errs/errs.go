// Package errs holds the sentinel errors shared by every package of rapyer-go.
//
// The public packages re-export them (rapyer.ErrNotFound is tx.ErrNotFound is
// errs.NotFound), so errors.Is holds whichever name a caller uses.
package errs

import "errors"

var (
	// NotFound: the model does not exist.
	NotFound = errors.New("rapyer: not found")
	// Precondition: a guard of a batch did not hold on the server.
	Precondition = errors.New("rapyer: precondition failed")
	// Conflict: an optimistic update kept meeting concurrent writes until its attempts ran out.
	Conflict = errors.New("rapyer: conflict")
	// CrossSlot: a batch touches keys in more than one cluster slot.
	CrossSlot = errors.New("rapyer: keys in different cluster slots")
	// UnknownOutcome: the reply to a write was lost; it may or may not have been applied.
	UnknownOutcome = errors.New("rapyer: outcome unknown")
	// WrongType: a key holds a Redis type other than the one the model stores there.
	WrongType = errors.New("rapyer: wrong redis type")
	// Corrupt: a stored value cannot be decoded into its Go type.
	Corrupt = errors.New("rapyer: corrupt data")
	// InvalidID: an id is empty, too long, or holds characters the key layout forbids.
	InvalidID = errors.New("rapyer: invalid id")
	// Unsupported: a Go type cannot be stored.
	Unsupported = errors.New("rapyer: unsupported type")
	// InvalidLens: an accessor does not point at a field of its struct.
	InvalidLens = errors.New("rapyer: invalid lens")
	// InvalidArgument: a caller passed a value the operation cannot take.
	InvalidArgument = errors.New("rapyer: invalid argument")
	// Overflow: arithmetic would leave the range of the field's type.
	Overflow = errors.New("rapyer: arithmetic overflow")
	// Empty: a pop found an empty collection where a value was required.
	Empty = errors.New("rapyer: empty collection")
	// OutOfRange: an index lies outside a list.
	OutOfRange = errors.New("rapyer: index out of range")
)

// LockLost: a write fenced by a lock found the lock no longer held.
var LockLost = errors.New("rapyer: lock lost")

// Exists: a model that must be new exists already.
var Exists = errors.New("rapyer: already exists")
