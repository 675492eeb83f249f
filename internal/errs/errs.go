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
	// Unsupported: a Go type cannot be stored, or the server lacks a
	// command an op needs (an old server, a renamed command).
	Unsupported = errors.New("rapyer: unsupported")
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

// PartlyApplied: the server failed a batch after its first write, for a
// cause the checks before the writes did not foresee. Some of the batch's
// writes are stored and others are not; the error names the op that failed.
// The executor's checks are meant to make this unreachable.
var PartlyApplied = errors.New("rapyer: batch partly applied")

// NoPermission: the server's ACL does not let this user run a command the
// operation needs, or touch one of its keys or channels. Nothing was written.
var NoPermission = errors.New("rapyer: no permission")

// TooLarge: an operation would do more work in one request than a limit
// allows (Redis's own 512 MB for a value, or a batch's budget). Nothing was
// written.
var TooLarge = errors.New("rapyer: over a limit")

// Refused: the server refused a request with an error reply that no other
// sentinel describes (out of memory, a read-only replica, a busy script, a
// command it does not accept). The request did not run; the server's reply
// is wrapped.
var Refused = errors.New("rapyer: refused by the server")

// NotSent: the request did not reach the server (a closed client, no
// connection from the pool, a failed dial, a context that ended first), or
// an optimistic update failed before it sent its EXEC. Nothing was applied,
// and sending it again is safe. It is the counterpart of UnknownOutcome.
var NotSent = errors.New("rapyer: not sent")
