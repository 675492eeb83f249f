// Package tx composes ops into batches and runs them: the one executor of
// rapyer-go.
//
// # Batches
//
// A Batch is an immutable list of ops (package ops). Of makes a batch whose
// ops run on the model the batch is executed for; On binds ops to a Target of
// their own (rapyer.Model.Target makes one), so one batch can change several
// models; Join and Then compose batches into new ones. A batch renders without
// a server: String lists its ops, Commands the instructions they compile to.
//
// # Atomic execution
//
// Exec compiles a batch into one program for one Lua interpreter (the same
// code for every batch: the program travels as its arguments) and sends it
// in one round trip: an FCALL of a Redis Function where the server has them
// (Redis and Valkey 7 and later; the library is loaded once, on every master
// of a cluster), an EVALSHA of a script where it has not (miniredis, older
// servers, an ACL that forbids FUNCTION LOAD). The interpreter checks everything that could make a write
// fail before its first write: that each model exists (or, with
// SkipIfMissing, does nothing and reports Result.Skipped; with MustBeNew,
// that none exists), that every key holds the type the model stores there,
// that numbers parse and stay in range, that list indexes are inside their
// list, and that every guard holds. So a batch applies entirely or not at
// all, and its error wraps a sentinel (ErrNotFound, ErrPrecondition,
// ErrWrongType, ErrCorrupt, ErrOverflow, ErrOutOfRange, ErrLockLost, ...) and
// names the op.
//
// Every batch carries a random id, and the interpreter keeps a short record of the
// batches it applied (Options.Record, a minute by default). A batch whose
// reply is lost is resent, by go-redis (whose MaxRetries default to 3) or by
// Exec itself, and the record answers the resend: the batch is applied once,
// and Result.Duplicate says the reply came from the record. When no resend
// gets through, the error wraps ErrUnknownOutcome.
//
// After FUNCTION FLUSH, SCRIPT FLUSH, a restart or a failover, the first
// batch finds no function (or no script: NOSCRIPT) and loads it: three round
// trips (two on servers without functions), no error. Replies that say the
// code was missing mean that nothing ran, so sending again is safe.
//
// On a Redis Cluster every key of a batch must be in one slot; a batch that
// spans slots fails with ErrCrossSlot before anything is sent.
//
// # Optimistic execution
//
// Optimistic runs read-decide-write updates: WATCH the keys and read them in
// one round trip, let a function decide a batch from what it read, and run the
// batch in MULTI/EXEC in the second. A concurrent write to a watched key makes
// EXEC do nothing; the update then starts again after a jittered exponential
// backoff (Retry), and fails with ErrConflict when its attempts run out.
// rapyer.Model.Update and UpdateMany are the usual way to call it.
package tx
