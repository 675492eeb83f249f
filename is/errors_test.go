package is

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/errs"
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
	} {
		if err := c.p.Err(); !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: Err() = %v; want %v saying %q", c.p, err, c.err, c.text)
		}
		if c.p.Holds(acct{}) {
			t.Errorf("%s holds", c.p)
		}
		m, _ := schema.For[acct]()
		if _, err := c.p.Lower(prog.Target{Root: "a:{1}", Model: m}); err == nil {
			t.Errorf("%s lowers", c.p)
		}
	}
	m, _ := schema.For[other]()
	if _, err := AtLeast(balance, 1).Lower(prog.Target{Root: "o:{1}", Model: m}); !errors.Is(err, errs.Invalid) {
		t.Errorf("a predicate on acct lowered for an other: %v", err)
	}
	if !And[acct]().Holds(acct{}) || Or[acct]().Holds(acct{}) || In(balance).Holds(acct{}) {
		t.Error("And() must hold, Or() and In() must not")
	}
}
