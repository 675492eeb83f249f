// Package rapyer stores plain Go structs in Redis and changes them safely.
//
// A Model binds a struct type to a key prefix and a go-redis client:
//
//	type Account struct {
//		Owner   string
//		Balance int
//		History []string
//		Limits  map[string]int
//	}
//
//	var (
//		Balance = lens.Of(func(a *Account) *int { return &a.Balance })
//		History = lens.Of(func(a *Account) *[]string { return &a.History })
//	)
//
//	accounts, err := rapyer.New[Account](rdb, rapyer.Options{Prefix: "account"})
//
// Scalars live in one Redis hash per model, slices in lists, maps in hashes,
// map[E]struct{} in sets, all in one cluster slot (see docs/storage.md).
// The default prefix is the type's name in snake case with its type
// arguments (Box[int] gets "box_int"); New refuses a prefix that a model of
// another type uses on the same client.
//
// # Reading and writing whole models
//
// Save replaces a model atomically, collections included; Create does the same
// but refuses an id that exists; Insert picks the id. Get reads a model in one
// round trip as one consistent snapshot; GetWithVersion also gives the
// version it read, for an ops.VersionIs guard on a later batch; GetMany
// reads many in one round trip, each found model with its id (Entry).
// SaveMany, InsertMany and DeleteMany write or delete many in one atomic
// batch (one per hash slot on a cluster); Duplicate copies a model to a new
// id. Exists, Delete, Expire, Persist, TTL and IDs (a SCAN-based iterator
// over the models, and nothing else, under the prefix, each id once) do
// what they say; Sweep deletes the keys of fields removed from the struct.
// With Options.RefreshTTL, reads and batches give the model its full TTL
// again in the same step. Embedded structs (type User struct { Base; ... })
// promote their fields, as in encoding/json. docs/operations.md lists the commands this
// sends and a least-privilege ACL user for it.
//
// # Changing models safely
//
// Exec runs a tx.Batch of ops (package ops) on one model atomically: one round
// trip, all or nothing, guards checked on the server before the first write.
// A batch over several models of any types, each part bound with tx.On to
// its model's Target, runs with tx.Exec. Update runs an optimistic
// read-decide-write update, retried on conflict. Lock runs a function under
// a (model, action) lock and saves what it changed, fenced by the lock,
// releasing it in the same step; LockAll does the same over several models
// of any types (Model.Hold), taking their locks in one global order.
//
// # Options
//
// Options configure a Model; its zero value works. The calls that change
// models take per-call Options (WithRetry, WithBudget, WithRecord,
// SkipIfMissing, WithLockTTL, WithWait, WithAutoExtend, or any
// func(*Call)), which edit a Call that starts as the model's Exec and Lock
// options: they merge, never replace, and cannot touch what belongs to the
// model (its prefix, TTL, hash tag, ids).
//
//	_, err = accounts.Exec(ctx, "alice", tx.Of(
//		ops.Require(is.AtLeast(Balance, 100)),
//		ops.Decr(Balance, 100),
//		ops.Append(History, "withdraw:100"),
//	))
//
// docs/atomicity.md compares the four ways and says when to use which.
//
// # Errors
//
// This package is the one home of the errors of rapyer-go (errors.go):
// every failure, whichever package returns it (tx, ops, lens, lock), wraps
// one of its sentinels for errors.Is (ErrNotFound, ErrPrecondition,
// ErrInvalid, ErrNotAcquired, ...), and reads "rapyer: <what>: <op>:
// <detail>": "rapyer: precondition failed: Require(AtLeast(balance, 10)):
// balance is 5". A failed guard is a *GuardError, which errors.As finds: the guard,
// its index in the batch, the field and the value the server saw. Bad
// input (an empty id, an id with braces, a nil client, a type that cannot be
// stored) is refused with one of them before anything is written; data in
// Redis that does not decode gives ErrCorrupt or ErrWrongType naming the
// field, never a panic.
package rapyer
