package is

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/plan"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

type acct struct {
	Balance int
	Ratio   float64
	Nick    *string
	Tags    map[string]struct{}
}

type other struct{ Balance int }

// custom is an Operand of neither kind.
type custom struct{}

func (custom) Get(acct) int   { return 0 }
func (custom) String() string { return "custom" }

// TestPredicatesCarryTheirErrors: what the compiler cannot see, the
// predicate carries (Err), Holds is false, and Lower refuses it; an And
// carries the error of any part.
func TestPredicatesCarryTheirErrors(t *testing.T) {
	balance := lens.Of(func(a *acct) *int { return &a.Balance })
	ratio := lens.Of(func(a *acct) *float64 { return &a.Ratio })
	nick := lens.Of(func(a *acct) **string { return &a.Nick })
	var zero lens.Field[acct, int]
	for _, c := range []struct {
		p    Pred[acct]
		err  error
		text string
	}{
		{Pred[acct]{}, errs.Invalid, "zero is.Pred"},
		{Equal(zero, 1), errs.Invalid, "invalid lens"},
		{Equal(nick, nil), errs.Invalid, "non-pointer"},
		{Below(ratio, math.NaN()), errs.Invalid, "NaN"},
		{Equal[acct, int](custom{}, 1), errs.Invalid, "neither a lens.Field nor a length"},
		{And(AtLeast(balance, 1), Not(Equal(zero, 2))), errs.Invalid, "invalid lens"},
		// empty connectives, at the top and nested: an And of none would
		// hold for every model (a DeleteWhere of everything)
		{And[acct](), errs.Invalid, "And(): an And of no predicates"},
		{Or[acct](), errs.Invalid, "Or(): an Or of no predicates"},
		{In(balance), errs.Invalid, "In(balance): no values"},
		{Not(And[acct]()), errs.Invalid, "And(): an And of no predicates"},
		{Not(Or[acct]()), errs.Invalid, "Or(): an Or of no predicates"},
		{Not(In(balance)), errs.Invalid, "In(balance): no values"},
		{Or(AtLeast(balance, 1), And[acct]()), errs.Invalid, "And(): an And of no predicates"},
		{And(AtLeast(balance, 1), Not(Or(Below(balance, 5), Or[acct]()))), errs.Invalid, "Or(): an Or of no predicates"},
		{And(Pred[acct]{}), errs.Invalid, "zero is.Pred"},
		{Not(Pred[acct]{}), errs.Invalid, "zero is.Pred"},
	} {
		if err := c.p.Err(); !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: Err() = %v; want %v saying %q", c.p, err, c.err, c.text)
		}
		if c.p.Holds(acct{}) {
			t.Errorf("%s holds", c.p)
		}
		m, _ := schema.For[acct]()
		if _, err := c.p.Lower(prog.Target{Root: "a:{1}", Model: m}); !errors.Is(err, c.err) {
			t.Errorf("%s lowers: %v", c.p, err)
		}
		if _, err := c.p.Tree(plan.Access{}); !errors.Is(err, c.err) {
			t.Errorf("%s makes a query tree: %v", c.p, err)
		}
	}
	m, _ := schema.For[other]()
	if _, err := AtLeast(balance, 1).Lower(prog.Target{Root: "o:{1}", Model: m}); !errors.Is(err, errs.Invalid) {
		t.Errorf("a predicate on acct lowered for an other: %v", err)
	}
	one := AtLeast(balance, 1)
	if And(one).Err() != nil || Or(one).Err() != nil || In(balance, 1).Err() != nil || !And(one).Holds(acct{Balance: 1}) {
		t.Error("an And, Or or In of one must be fine")
	}
}
