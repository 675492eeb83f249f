// Package ops holds the operations of rapyer-go: immutable values that say how
// to change a stored model, built on typed lenses.
//
//	ops.Incr(Balance, 10)             // HINCRBY, yields the new balance
//	ops.Append(History, "deposit:10") // RPUSH
//	ops.SetItem(Limits, "daily", 500) // HSET on the map's hash
//	ops.Require(is.AtLeast(Balance, 100))         // a guard
//
// An op does nothing by itself: put it in a tx.Batch and run the batch
// (rapyer.Model.Exec, Update, LockUpdate, or tx.Exec). Ops are values: build
// them anywhere, keep them in variables, run them again, print them.
//
// # Typed by the lens
//
// Type parameters come from the lens, as in the slices package, so an op that
// does not fit its field does not compile: Append needs a slice field
// (lens.Field[S, L] with L ~[]E), Incr a number field, SetItem a map field, Add
// a set field (map[E]struct{}). What the compiler cannot see (a lens built by
// hand, NaN operands, an empty SetItems) is carried by the op as an error;
// the batch that holds it fails before anything is sent.
//
// # The catalogue
//
// Numbers: Set, Incr, Decr (HINCRBY and HINCRBYFLOAT), Mul, FloorDiv, Mod and
// Pow with Python's semantics, Max and Min (keep the larger or smaller). A
// result out of the field type's range (an int8 past 127, an int64 past its
// maximum, a uint below zero) fails the batch with ErrOverflow before any
// write; Mul, FloorDiv, Mod and Pow on integers are exact within ±2^53.
//
// Text: AppendText, Repeat (string and []byte fields).
//
// Time: AddDuration moves a time.Time field on the server, keeping its
// nanoseconds and its zone offset.
//
// Lists: Append, Prepend, Insert (Python's clamping), PopLast, PopFirst,
// PopAt, SetAt, RemoveRange and Trim (Python slice bounds; End is the end),
// Remove, RemoveAll, Move (LMOVE between two lists of one model: the task
// queue hand-off), Len, Clear.
//
// Maps: SetItem, SetItems, DeleteItems, PopItem (with a default), GetItem,
// PopAnyItem, HasKey, Len, Clear.
//
// Sets: Add, Discard, Contains, Len, Clear.
//
// The model: Replace (write it whole), Delete, Expire and Persist (every key of
// the model, in the same step as the rest of the batch), Diff (write only what
// changed between two values).
//
// Guards, checked on the server before the first write, against the data as
// the batch found it: Exists, VersionIs, Equal, NotEqual, Below, AtMost, Above,
// AtLeast, LenIs, KeyPresent, KeyAbsent, Includes, Excludes, ListIncludes,
// ListExcludes, and Fenced (a lock is still held). One that fails fails the
// batch with ErrPrecondition (ErrLockLost for Fenced), naming it.
//
// # What ops cost the server
//
// Each op's documentation gives its server cost. Most are O(1) or O(k) in
// the k elements or items the caller sends. Those whose work grows with an
// argument rather than with what is sent are counted, before anything is
// written, against the batch's budget (tx.Options.Budget, or
// rapyer.WithBudget for one call): the text AppendText and Repeat make
// against Budget.Bytes (2 MiB by default, never past 512 MB), the list
// elements Insert, PopAt and RemoveRange move or scan, those on the shorter
// side of their index, against Budget.Moves (50,000 by default). A batch over
// its budget fails with ErrTooLarge, naming the op, its cost and the budget.
// Remove, RemoveAll and the guards ListIncludes and ListExcludes scan a
// list (O(n), LREM and LPOS) and are not counted; the other guards are
// O(1). The table of every op is in docs/concepts.md.
//
// # Results
//
// Ops that yield a value return a handle: *Yield[A] (Incr yields the new
// number, Len the length, HasKey a bool), *Maybe[A] (a pop yields an element,
// or nothing from an empty list), *Pair[K, V] (PopAnyItem). After the batch
// ran, the handle's Result method reads its value, typed, from the batch's
// result:
//
//	pop := ops.PopFirst(Pending)
//	res, err := queues.Exec(ctx, "jobs", tx.Of(pop))
//	task, ok, err := pop.Result(res)
package ops
