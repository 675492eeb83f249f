// Package is holds the one vocabulary of conditions on a model: comparisons
// of its fields, membership in its collections, the lengths of its
// collections, and Not, And and Or of those. A condition is an is.Pred[S],
// a value: build it once, print it, test it on a Go value with Holds, and
// give it to
//
//	ops.Require(p)  // a guard: the batch fails with rapyer.ErrPrecondition unless p holds
//	ops.Check(p)    // a yield: whether p holds
//
// The queries of a later release take the same predicates.
//
//	is.AtLeast(Balance, 100)                       // the balance covers it
//	is.Equal(Status, "new")                        // the order is still new
//	is.In(Status, "new", "held")                   // one of them
//	is.Below(Deadline, now)                        // a time.Time: before now, as an instant
//	is.Member(Tags, "vip")                         // "vip" is a member of the set Tags
//	is.Element(Queue, "job-7")                     // "job-7" is an element of the list Queue
//	is.Key(Limits, "daily")                        // "daily" is a key of the map Limits
//	is.Below(is.Len(Cart), 50)                     // the list has fewer than 50 elements
//	is.AtMost(is.Size(Tags), 10)                   // the set (or map) has at most 10
//	is.AtMost(is.TextLen(Bio), 280)                // the text has at most 280 bytes
//	is.And(is.AtLeast(Balance, 10), is.Not(is.Member(Tags, "banned")))
//
// # Checked by the compiler
//
// The type parameters come from the lens, so a condition that does not fit
// its field does not compile: Equal and NotEqual need a comparable field
// (not a slice or a map), Below, AtMost, Above and AtLeast an ordered one
// (the integer, float and string kinds, time.Duration, and time.Time, as an
// instant), Member a set field (map[E]struct{}), Element a list field
// ([]E), Key a map field, Len a list, Size a map or a set and TextLen a
// string or []byte. The first
// argument of a comparison is an Operand: a lens.Field, or the length
// Len or Size makes; Go infers the types through its Get method.
// What the compiler cannot see (a lens built by hand, a pointer field, NaN,
// a bool compared with Below, an And, Or or In of nothing, the zero Pred)
// the predicate carries as an error (Err), wrapping rapyer.ErrInvalid; a
// batch or a query holding it, however deep, fails before anything is sent.
// An And of nothing would hold for every model, so a condition list that
// came out empty must not quietly become a guard that always passes or a
// DeleteWhere of everything.
//
// # Where it is evaluated
//
// In a batch, the server evaluates the whole tree in one instruction, with
// no writes of its own: for ops.Require against the model as the batch
// found it (before any of the batch's writes), for ops.Check at its point of
// the batch, as every yield reads. An absent scalar field counts as its
// zero value, an absent collection as empty; numbers compare by value,
// texts byte by byte, times as instants. Holds evaluates a predicate on a
// Go value with the same rules, so what holds in a test holds on the
// server (a property test holds the two to each other).
//
// A predicate in a batch is bounded: at most 64 levels (63 of And, Or and
// Not over a leaf), 4096 nodes (an In of n values is n+1) and 1 MiB of
// values; past one, the batch fails with rapyer.ErrTooLarge before anything
// is sent (queries have tighter bounds of their own).
//
// A failed guard reports what the server saw: "balance is 5", "length is
// 51", "element is missing"; for an And or an Or, what its first leaf saw.
//
// # What is not a predicate
//
// Whether the model exists and which version it has are facts of the
// stored record, not of a value of S, so they are ops: ops.Exists and
// ops.VersionIs.
package is
