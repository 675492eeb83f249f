package is

import (
	"fmt"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// The bounds of a predicate in a batch (ops.Require, ops.Check): the
// server evaluates the whole tree in one instruction, recursively, while
// it serves no one else. Before, nothing bounded it: a Not nested 1000
// deep overflowed gopher-lua's call stack on miniredis (ErrRefused, "stack
// overflow") where redis-server ran it; one 100k deep overflowed
// redis-server's; an In of 100k values held a redis-server for some
// hundreds of milliseconds, one of 1M values for seconds. Queries have
// tighter bounds of their own (rapyer/query.go): they carry the predicate
// in every call and read it against every candidate.
const (
	// maxDepth is the most levels of a predicate's tree, its leaves
	// included (63 of And, Or and Not over a leaf), as for a query.
	maxDepth = 64
	// maxNodes is the most nodes (leaves and And, Or, Not) of a
	// predicate: an In of up to 4095 values.
	maxNodes = 4096
	// maxBytes is the most bytes of a predicate's values (what its leaves
	// compare with), as for a query.
	maxBytes = 1 << 20
)

// bounds refuses a predicate past maxDepth, maxNodes or maxBytes with an
// error wrapping rapyer.ErrTooLarge. It walks the tree without recursion
// and stops at the first bound passed, so a huge tree costs no more than
// the bound, however deep.
func (p Pred[S]) bounds() error {
	type at struct {
		n     *node[S]
		depth int
	}
	nodes, size, stack := 0, 0, []at{{p.root(), 1}}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if nodes++; nodes > maxNodes {
			return fmt.Errorf("%w: the predicate has more than %d nodes (leaves and And, Or, Not; an In of n values is n+1): split it, or guard a set with Member", errs.TooLarge, maxNodes)
		}
		if top.depth > maxDepth {
			return fmt.Errorf("%w: the predicate is deeper than %d levels (And, Or and Not over a leaf)", errs.TooLarge, maxDepth)
		}
		if size += len(top.n.arg) + len(top.n.zero); size > maxBytes {
			return fmt.Errorf("%w: the predicate's values are over %d bytes", errs.TooLarge, maxBytes)
		}
		for _, k := range top.n.kids {
			stack = append(stack, at{k, top.depth + 1})
		}
	}
	return nil
}
