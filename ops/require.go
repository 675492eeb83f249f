package ops

import (
	"fmt"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/is"
)

// Predicates (package is) are the one vocabulary of comparisons and
// membership: Require makes one a guard, Check a yield of whether it holds.

type predOp[S any] struct {
	p     is.Pred[S]
	guard bool
}

func (o *predOp[S]) String() string {
	if o.guard {
		return fmt.Sprintf("Require(%s)", o.p)
	}
	return fmt.Sprintf("Check(%s)", o.p)
}

func (o *predOp[S]) Compile(b *prog.Builder, t prog.Target) error {
	nodes, err := o.p.Lower(t)
	if err != nil {
		return errs.At(o.String(), err)
	}
	if o.guard {
		b.GuardPred(nodes...)
	} else {
		b.Pred(nodes...)
	}
	return nil
}

// Require is the guard: the batch fails with rapyer.ErrPrecondition, and writes
// nothing, unless p holds on the model as the batch found it (before any of
// its writes, wherever Require stands in the batch):
//
//	ops.Require(is.AtLeast(Balance, 10))
//	ops.Require(is.And(is.Below(is.Len(Cart), 50), is.Not(is.Member(Tags, "banned"))))
//
// The error names the op and what the server saw, for an And or an Or
// what its first leaf saw. Server cost: O(1) a leaf, but Element (LPOS,
// O(n) in a list of n, not counted against the batch's budget). A
// predicate deeper than 64 levels (63 of And, Or and Not over a leaf), of
// more than 4096 nodes (an In of n values is n+1) or past 1 MiB of values
// fails the batch with rapyer.ErrTooLarge before anything is sent; so does
// one in Check.
func Require[S any](p is.Pred[S]) Op { return &predOp[S]{p: p, guard: true} }

// Check yields whether p holds at its point of the batch, after the ops
// before it, as every yield reads (Len, GetItem): ops.Add(Tags, "vip")
// then ops.Check(is.Member(Tags, "vip")) yields true. (Require, a guard,
// reads the model as the batch found it.) It does not fail the batch when p
// does not hold; a field that does not parse as its kind, or a key of
// another type, fails it before anything is written, as for Require.
func Check[S any](p is.Pred[S]) *Yield[bool] {
	return &Yield[bool]{inner: &predOp[S]{p: p}, decode: decodeBool}
}
