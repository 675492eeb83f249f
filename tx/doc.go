// Package tx composes ops into batches and runs them: the one executor of
// rapyer-go.
//
// # Batches
//
// A Batch is an immutable list of ops (package ops). On binds ops to a
// Target (rapyer.Model.Target makes one), so one batch can change several
// models; Of makes a batch of unbound ops, which Batch.On binds later (or
// rapyer.Model.Exec, to the model it runs on); Join and Then compose batches
// into new ones. A batch over several models, bound with On, runs with Exec
// itself: tx.Exec(ctx, rdb, tx.Join(tx.On(a, ...), tx.On(b, ...)), opts). A batch renders without
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
// all, and its error wraps a sentinel of package rapyer, the errors' one
// home (rapyer.ErrNotFound, rapyer.ErrPrecondition, rapyer.ErrWrongType,
// rapyer.ErrCorrupt, rapyer.ErrOverflow, rapyer.ErrOutOfRange,
// rapyer.ErrLockLost, ...) and names the op: "rapyer: <what>: <op>:
// <detail>". A failed guard is a *rapyer.GuardError (errors.As): the guard,
// its index among the batch's ops, the field and the value the server saw.
//
// Every batch carries a random id, and the interpreter keeps a short record of the
// batches it applied (Options.Record, DefaultRecord = 10s by default) at
// tx{<slot tag>}:<id>, in the model's cluster slot and outside every prefix
// (IDs and SCAN MATCH <prefix>:* never meet it). A batch travels in
// MULTI/EXEC, which go-redis never resends after writing it; when its reply
// is lost Exec resends it with the same id while the resend starts within half
// the record's lifetime of the first send, and the record answers the
// resend: the batch is applied once, and Result.Duplicate says the reply came
// from the record. A record keeps the batch's results up to 1 KiB of
// encoding; beyond that it keeps only that the batch was applied
// (Result.ResultsNotKept; the yielding ops' Result methods then return
// rapyer.ErrResultsNotKept). When no resend settles it, the error wraps
// rapyer.ErrUnknownOutcome. With Options.Record = NoRecord no record is kept and no
// batch is ever resent: a lost reply gives rapyer.ErrUnknownOutcome, the batch
// applied once or not at all. An error that says nothing was sent (a closed
// client, a refused dial) never wraps rapyer.ErrUnknownOutcome.
//
// After FUNCTION FLUSH, SCRIPT FLUSH, a restart or a failover, the first
// batch finds no function (or no script: NOSCRIPT) and loads it: three round
// trips (two on servers without functions), no error. Replies that say the
// code was missing mean that nothing ran, so sending again is safe.
//
// On a Redis Cluster every key of a batch must be in one slot; a batch that
// spans slots fails with rapyer.ErrCrossSlot before anything is sent.
//
// # Optimistic execution
//
// Optimistic runs read-decide-write updates: WATCH the keys and read them in
// one round trip, let a function decide a batch from what it read, and run the
// batch in MULTI/EXEC in the second. A concurrent write to a watched key makes
// EXEC do nothing; the update then starts again after a jittered exponential
// backoff (Retry), and fails with rapyer.ErrConflict when its attempts run out.
// rapyer.Model.Update and UpdateMany are the usual way to call it.
package tx
