package rapyer

import "github.com/rapyer-go/rapyer/internal/errs"

// The errors of rapyer-go: package rapyer is their one home (packages tx,
// ops, lens and lock return them and export none). Test them with
// errors.Is; every error the library returns wraps one of them, and reads
// "rapyer: <what>: <op>: <detail>", the sentinel's text first, then the op
// that failed (when there is one), then what was found.
var (
	// ErrNotFound: the model (or the model an op or a lock names) does not
	// exist. Nothing was written.
	ErrNotFound = errs.NotFound
	// ErrExists: a model that must be new (Create, tx.MustBeNew) exists
	// already. Nothing was written.
	ErrExists = errs.Exists
	// ErrPrecondition: a guard of a batch did not hold on the server.
	// Nothing was written. The error is a *GuardError naming the guard,
	// its place in the batch, the field and the value the server saw.
	ErrPrecondition = errs.Precondition
	// ErrConflict: an optimistic update met concurrent writes at every one
	// of its attempts. Nothing was written by it.
	ErrConflict = errs.Conflict
	// ErrCrossSlot: a batch or a lock touches keys in more than one cluster
	// slot; give the models one Options.HashTag. Nothing was sent. A lock
	// key without a hash tag on a cluster is one too: the server refuses
	// it (CROSSSLOT, or a script's access to a key of another slot) before
	// anything is written, as it refuses a batch sent through a
	// *redis.Client pointed at a cluster node. A call of such a client for
	// a model whose slot another node serves gets it too (the node's MOVED,
	// which that client never follows), at once, with a hint to use a
	// *redis.ClusterClient.
	ErrCrossSlot = errs.CrossSlot
	// ErrUnknownOutcome: the reply to a write was lost and no resend could
	// tell whether it was applied: it may or may not be stored.
	ErrUnknownOutcome = errs.UnknownOutcome
	// ErrWrongType: a key holds a Redis type other than the one the model
	// stores there. Nothing was written.
	ErrWrongType = errs.WrongType
	// ErrCorrupt: a stored value cannot be decoded into its Go type, or a
	// number stored for arithmetic is not one ("abc": no text a Save
	// writes; +Inf, -Inf and NaN are numbers). Nothing was written.
	ErrCorrupt = errs.Corrupt
	// ErrInvalid: a caller passed what an operation cannot take: a bad
	// argument, option, id or key prefix, an op of another model, or an
	// accessor (lens) that does not point at a stored field. Nothing was
	// sent. ErrInvalidID wraps it.
	ErrInvalid = errs.Invalid
	// ErrInvalidID: an id is empty, too long, not UTF-8, or holds characters
	// the key layout forbids. errors.Is(err, ErrInvalid) holds too. Nothing
	// was sent.
	ErrInvalidID = errs.InvalidID
	// ErrDuplicate: a write would give a model the value of a Unique index
	// (index.Unique) that another model holds; the message names the field
	// and the value. errors.Is(err, ErrPrecondition) holds too. Nothing was
	// written.
	ErrDuplicate = errs.Duplicate
	// ErrUnsupported: a Go type cannot be stored, or the server lacks a
	// command an op needs. Nothing was written.
	ErrUnsupported = errs.Unsupported
	// ErrOverflow: arithmetic would leave the range of the field's type (or
	// the exact range of the server's numbers): for floats, a result that
	// is not finite too, such as +Inf+1 or NaN*2 on a field a Save gave
	// +Inf or NaN. Nothing was written.
	ErrOverflow = errs.Overflow
	// ErrOutOfRange: an index lies outside a list. Nothing was written.
	ErrOutOfRange = errs.OutOfRange
	// ErrEmpty: a pop that requires an element found an empty collection.
	ErrEmpty = errs.Empty
	// ErrResultsNotKept: the reply of a batch was lost, and its resend found
	// it applied (once), but its record had not kept its results, which
	// were too large: the Result methods of its yielding ops return it.
	ErrResultsNotKept = errs.ResultsNotKept
	// ErrNotAcquired: a lock stayed held by someone else for the whole wait
	// (or at the one try of lock.NoWait). The function did not run.
	ErrNotAcquired = errs.NotAcquired
	// ErrNotHeld: a lock's key no longer holds its token (it expired, was
	// taken over, or was released already); the cause of a lock context
	// cancelled because the lock was lost.
	ErrNotHeld = errs.NotHeld
	// ErrLockLost: a write fenced by a lock found the lock no longer held.
	// Nothing was written. errors.Is(err, ErrNotHeld) holds too.
	ErrLockLost = errs.LockLost
	// ErrPartlyApplied: the server failed a batch after its first write,
	// for a cause the checks before the writes did not foresee: some of its
	// writes are stored. The error names the op that failed. A LockAll
	// over models in different cluster slots (one batch each) that fails
	// after one of them was stored wraps it too.
	ErrPartlyApplied = errs.PartlyApplied
	// ErrNoPermission: the server's ACL refused a command, key or channel
	// the operation needs. Nothing was written.
	ErrNoPermission = errs.NoPermission
	// ErrTooLarge: an operation would do more work than a limit allows
	// (512 MB for a value, or a batch's budget). Nothing was written.
	ErrTooLarge = errs.TooLarge
	// ErrRefused: the server refused the request with an error no other
	// sentinel describes (out of memory, a read-only replica, a busy
	// script). It did not run; the server's reply is wrapped.
	ErrRefused = errs.Refused
	// ErrNotSent: the request did not reach the server (closed client, no
	// connection, a context that ended first), or a read whose reply was
	// lost: nothing was applied; sending it again is safe. A context's
	// error stays wrapped (errors.Is(err, context.Canceled) holds). A call
	// made of several requests (DeleteWhere, Reindex, Sweep, SaveMany over
	// several slots) says it of the request that failed: the steps before
	// it may be stored, and calling again finishes the work.
	ErrNotSent = errs.NotSent
)

// GuardError is the error of a batch whose guard did not hold: nothing of
// the batch was written. errors.Is(err, ErrPrecondition) holds, and
// errors.As(err, &ge) with ge a *GuardError gives the guard (Op, as it
// prints), its place among the ops of the batch as the caller composed it
// (Index, from 0), the stored path of the field it read (Field) and the
// value the server saw there (Seen, as stored text; "" with Missing set
// when the field, map key or element was not there). Exec, Update,
// UpdateMany and tx.Exec return it, wrapped or not.
type GuardError = errs.GuardError
