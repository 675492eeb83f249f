// Package errs holds the sentinel errors of rapyer-go and the typed error
// of a failed guard. Package rapyer exports every one of them (rapyer.Err*,
// rapyer.GuardError); no other public package exports an error variable.
//
// Every message has one shape: "rapyer: <what>: <op>: <detail>", where
// "rapyer: <what>" is the sentinel's own text, <op> the operation that failed
// as it prints (left out when there is none) and <detail> what the library
// or the server found. Wrap a sentinel with fmt.Errorf("%w: %s: ...", s, op).
package errs

import (
	"errors"
	"strings"
)

var (
	// NotFound: the model does not exist.
	NotFound = errors.New("rapyer: not found")
	// Precondition: a guard of a batch did not hold on the server.
	Precondition = errors.New("rapyer: precondition failed")
	// Conflict: an optimistic update kept meeting concurrent writes until its attempts ran out.
	Conflict = errors.New("rapyer: conflict")
	// CrossSlot: a batch, a lock or a request touches keys in more than one
	// cluster slot (a lock key without a hash tag, on a cluster).
	CrossSlot = errors.New("rapyer: keys in different cluster slots")
	// UnknownOutcome: the reply to a write was lost; it may or may not have been applied.
	UnknownOutcome = errors.New("rapyer: outcome unknown")
	// WrongType: a key holds a Redis type other than the one the model stores there.
	WrongType = errors.New("rapyer: wrong redis type")
	// Corrupt: a stored value cannot be decoded into its Go type.
	Corrupt = errors.New("rapyer: corrupt data")
	// Invalid: a caller passed a value the operation cannot take: a bad
	// argument, option or id, or an accessor that does not point at a field
	// of its struct.
	Invalid = errors.New("rapyer: invalid argument")
	// InvalidID: an id is empty, too long, or holds characters the key
	// layout forbids. errors.Is(InvalidID, Invalid) holds.
	InvalidID error = &child{"rapyer: invalid id", Invalid}
	// Unsupported: a Go type cannot be stored, or the server lacks a
	// command an op needs (an old server, a renamed command).
	Unsupported = errors.New("rapyer: unsupported")
	// Overflow: arithmetic would leave the range of the field's type.
	Overflow = errors.New("rapyer: arithmetic overflow")
	// Empty: a pop found an empty collection where a value was required.
	Empty = errors.New("rapyer: empty collection")
	// OutOfRange: an index lies outside a list.
	OutOfRange = errors.New("rapyer: index out of range")
	// ResultsNotKept: a resend found the batch applied, but its results
	// were too large for its record.
	ResultsNotKept = errors.New("rapyer: results not kept")
	// NotAcquired: a lock stayed held by someone else for the whole wait.
	NotAcquired = errors.New("rapyer: lock not acquired")
	// NotHeld: a lock's key no longer holds its token (expired, taken
	// over, or released).
	NotHeld = errors.New("rapyer: lock not held")
	// LockLost: a write fenced by a lock found the lock no longer held.
	// errors.Is(LockLost, NotHeld) holds.
	LockLost error = &child{"rapyer: lock lost", NotHeld}
)

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
// connection from the pool, a failed dial, a context that ended first), an
// optimistic update failed before it sent its EXEC, or a read whose reply
// was lost: nothing was applied, and sending it again is safe. It is the counterpart of UnknownOutcome.
var NotSent = errors.New("rapyer: not sent")

// Duplicate: a write would give a model the value of a Unique index
// another model holds. errors.Is(Duplicate, Precondition) holds.
var Duplicate error = &child{"rapyer: duplicate of a unique index", Precondition}

// child is a sentinel of a family: its own text, and its parent for
// errors.Is.
type child struct {
	msg    string
	parent error
}

func (c *child) Error() string { return c.msg }
func (c *child) Unwrap() error { return c.parent }

// all lists the sentinels, for At.
var all = []error{NotFound, Precondition, Conflict, CrossSlot, UnknownOutcome, WrongType, Corrupt,
	Invalid, InvalidID, Unsupported, Overflow, Empty, OutOfRange, ResultsNotKept, NotAcquired,
	NotHeld, LockLost, Exists, PartlyApplied, NoPermission, TooLarge, Refused, NotSent, Duplicate}

// At names where err happened, op (an op as it prints, a key, a field),
// keeping the one message format "rapyer: <what>: <op>: <detail>": op goes
// right after the sentinel's text. An err that names op already (op then
// ": ", or op at its end) is returned as it is, so that no message names
// an op twice; one that starts with no sentinel's text gets op in front.
// errors.Is and errors.As see through it.
func At(op string, err error) error {
	if err == nil || op == "" {
		return err
	}
	msg := err.Error()
	if strings.Contains(msg, op+": ") || strings.HasSuffix(msg, ": "+op) {
		return err
	}
	head := ""
	for _, s := range all {
		if t := s.Error(); len(t) > len(head) && strings.HasPrefix(msg, t+": ") {
			head = t
		}
	}
	if head == "" {
		return &at{op + ": " + msg, err}
	}
	return &at{head + ": " + op + ": " + msg[len(head)+2:], err}
}

// at is an error At placed.
type at struct {
	msg string
	err error
}

func (a *at) Error() string { return a.msg }
func (a *at) Unwrap() error { return a.err }

// Typed reports whether err wraps one of the sentinels already, so that a
// classification must leave it as it is (no sentinel wrapped twice).
func Typed(err error) bool {
	for _, s := range all {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
