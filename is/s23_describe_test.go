package is

import (
	"runtime"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/lens"
)

// TestS23dDescriptionsOfHugePredicatesStayBounded: a predicate's
// description (String, and every message naming it) is cut past maxShown,
// so an In of 100k values or a tree nested 10k deep is described in a few
// hundred bytes, and building the tree costs memory linear in its size.
// Before, each level copied the description of the level below: a Not
// nested 10k deep allocated about 300 MB, and its String was 50 kB.
// s23dMax is the longest description: maxShown (300) and ", ...)".
const s23dMax = 300 + len(", ...)")

func TestS23dDescriptionsOfHugePredicatesStayBounded(t *testing.T) {
	balance := lens.Of(func(a *acct) *int { return &a.Balance })
	small := And(AtLeast(balance, 10), Not(In(balance, 1, 2)))
	if got, want := small.String(), "And(AtLeast(balance, 10), Not(In(balance, 1, 2)))"; got != want {
		t.Errorf("a small predicate: %q, want %q", got, want)
	}
	vs := make([]int, 100_000)
	for i := range vs {
		vs[i] = i
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	deep := Equal(balance, 1)
	for i := range 10_000 {
		if i%2 == 0 {
			deep = Not(deep)
		} else {
			deep = And(deep, Equal(balance, i))
		}
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("a predicate nested 10k deep allocated %d MB to build, want under 64", got>>20)
	}
	for _, c := range []struct {
		p    Pred[acct]
		head string
	}{
		{In(balance, vs...), "In(balance, 0, 1, 2, "},
		{Or(In(balance, vs...), Equal(balance, -1)), "Or(In(balance, 0, 1, "},
		{deep, "And(Not(And(Not("},
	} {
		s := c.p.String()
		if len(s) > s23dMax || !strings.HasPrefix(s, c.head) || !strings.HasSuffix(s, "...)") {
			t.Errorf("description of %d bytes, want at most %d, starting %q and cut with ...): %.80q", len(s), s23dMax, c.head, s)
		}
	}
	if err := Or[acct]().Err(); err == nil || len(err.Error()) > 2*s23dMax {
		t.Errorf("the error of an empty Or: %v", err)
	}
}
