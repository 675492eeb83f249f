// Package ops holds the operations of rapyer-go: immutable values that say how
// to change a stored model, built on typed lenses.
//
//	ops.Incr(Balance, 10)             // HINCRBY, yields the new balance
//	ops.Append(History, "deposit:10") // RPUSH
//	ops.SetItem(Limits, "daily", 500) // HSET on the map's hash
//	ops.Require(is.AtLeast(Balance, 100)) // a guard (predicates: package is)
//
// An op does nothing by itself: put it in a tx.Batch and run the batch
// (rapyer.Model.Exec, Update, or tx.Exec). Ops are values: build
// them anywhere, keep them in variables, run them again, print them.
//
// # Typed by the lens
//
// Type parameters come from the lens, as in the slices package, so an op that
// does not fit its field does not compile: Append needs a slice field
// (lens.Field[S, L] with L ~[]E), Incr a number field, SetItem a map field, Add
// a set field (map[E]struct{}); Len a list and Size a map or a set; Clear a
// list and ClearItems a map or a set (a scalar is Set, not cleared). The
// predicates of package is are checked the same way (is.Equal does not
// compile on a slice, is.Below not on a bool). What the compiler cannot see
// (a lens built by hand, a pointer field compared, NaN operands) is carried
// by the op as an error; the batch that holds it fails before anything is
// sent.
//
// Every variadic op given nothing (Append(f), Add(f), DeleteItems(f),
// SetItems(f, nil), ...) is a valid op that does nothing: it sends no
// command, writes nothing and yields 0. An op that writes nothing is not a
// write: a batch of such ops (or of guards, reads and yields) leaves the
// model's version as it was.
//
// # The catalogue
//
// Numbers: Set, Incr, Decr (HINCRBY, or HSET of the float sum), Mul, FloorDiv, Mod and
// Pow with Python's semantics, Div (Python's /, float fields only), Max and
// Min (keep the larger or smaller). A
// result out of the field type's range (an int8 past 127, an int64 past its
// maximum, a uint below zero) fails the batch with rapyer.ErrOverflow before any
// write; Mul, FloorDiv, Mod and Pow on integers are exact within ±2^53.
//
// Text: AppendText, Repeat (string and []byte fields).
//
// Time: AddDuration moves a time.Time field on the server, keeping its
// nanoseconds and its zone offset.
//
// Lists: Append, Prepend, InsertAt (Python's clamping), PopLast, PopFirst,
// PopAt, SetAt, RemoveRange and Trim (Python slice bounds; End is the end),
// Remove, RemoveAll, Move (LMOVE between two lists of one model, as a pop and
// a push in the script: the task queue hand-off), Len, Clear.
//
// Maps: SetItem, SetItems, DeleteItems, PopItem (with a default), GetItem,
// PopAnyItem, Size, IncrItem (m[k] += n on a map of numbers), ClearItems.
//
// Sets: Add, Discard, Size, ClearItems.
//
// The model: Replace (write it whole), CreateIfMissing (create it with a
// value when it does not exist, before the batch's other ops: the "N per
// window" rate limiter), Delete (the model and every one of its keys: the
// op rapyer's Model.Delete runs, the same meaning in a batch), Expire and
// Persist (every key of the model, in the same step as the rest of the
// batch), Diff (write only what changed between two values).
//
// Guards, checked on the server before the first write, against the data as
// the batch found it: Require(p) with a predicate p of package is (is.Equal,
// is.Below, ..., is.In, is.Member, is.Element, is.Key, is.Len and is.Size
// compared, is.Not, is.And, is.Or), Exists and VersionIs (facts of the
// stored record, not of a value), and Fenced (a lock is still held). One
// that fails fails the batch with a *rapyer.GuardError, which wraps
// rapyer.ErrPrecondition and carries the guard, its index in the batch, the
// field and the value the server saw (rapyer.ErrLockLost for Fenced).
// Check(p) yields whether p holds, read as Require reads it. ops exports no
// error: every error is one of package rapyer's.
//
// # What ops cost the server
//
// Each op's documentation gives its server cost. Most are O(1) or O(k) in
// the k elements or items the caller sends. Those whose work grows with an
// argument rather than with what is sent are counted, before anything is
// written, against the batch's budget (tx.Options.Budget, or
// rapyer.WithBudget for one call): the text AppendText and Repeat make
// against Budget.Bytes (2 MiB by default, never past 512 MB), the list
// elements InsertAt, PopAt and RemoveRange move or scan, those on the shorter
// side of their index, against Budget.Moves (50,000 by default). A batch over
// its budget fails with rapyer.ErrTooLarge, naming the op, its cost and the budget.
// Remove, RemoveAll and a predicate's is.Element scan a list (O(n), LREM
// and LPOS) and are not counted; the other leaves of a predicate are O(1). The table of every op is in docs/concepts.md.
//
// # Results
//
// Ops that yield a value return a handle: *Yield[A] (Incr yields the new
// number, Len the length, Check a bool), *Maybe[A] (a pop yields an element,
// or nothing from an empty list), *Pair[K, V] (PopAnyItem). After the batch
// ran, the handle's Result method reads its value, typed, from the batch's
// result:
//
//	pop := ops.PopFirst(Pending)
//	res, err := queues.Exec(ctx, "jobs", tx.Of(pop))
//	task, ok, err := pop.Result(res)
package ops
