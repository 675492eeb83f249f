package query_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/plan"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
)

type Product struct {
	Name   string
	Status string
	Price  int
	Score  float64
	Note   string
	Tags   map[string]struct{}
	Lines  []string
}

var (
	Name   = lens.Of(func(p *Product) *string { return &p.Name })
	Status = lens.Of(func(p *Product) *string { return &p.Status })
	Price  = lens.Of(func(p *Product) *int { return &p.Price })
	Score  = lens.Of(func(p *Product) *float64 { return &p.Score })
	Note   = lens.Of(func(p *Product) *string { return &p.Note })
	Tags   = lens.Of(func(p *Product) *map[string]struct{} { return &p.Tags })
	Lines  = lens.Of(func(p *Product) *[]string { return &p.Lines })
)

// Other has a field of Product's stored name price.
type Other struct{ Price int }

var otherPrice = lens.Of(func(o *Other) *int { return &o.Price })

var ixs = []plan.Index{
	{Field: "name", Kind: 's', Use: 'p'},
	{Field: "status", Kind: 's', Use: 'o'},
	{Field: "price", Kind: 'i', Use: 'o'},
	{Field: "score", Kind: 'f', Use: 'o'},
	{Field: "tags", Kind: 's', Use: 'm'},
}

func planOf(t *testing.T, q query.Query[Product]) (plan.Plan, error) {
	t.Helper()
	s, err := q.Spec(plan.Access{})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return plan.Make(s.Tree, s.Order, s.Scan, ixs)
}

// show prints a plan compactly: mode, exact, order, ranges.
func show(p plan.Plan) string {
	var b strings.Builder
	b.WriteString(string(p.Mode))
	if p.Exact {
		b.WriteString(" exact")
	}
	if p.Sure {
		b.WriteString(" sure")
	}
	if p.Order != nil {
		b.WriteString(" by " + p.Order.Field)
	}
	for _, r := range p.Ranges {
		b.WriteString(" " + r.Index + ":" + r.Op + ":" + r.Arg)
	}
	return b.String()
}

func TestThePlannerDrivesByTheIndexesAndRefusesWhatNoneServes(t *testing.T) {
	cases := []struct {
		q    query.Query[Product]
		want string // the plan, or the error's text
	}{
		{query.All[Product](), "all exact"},
		{query.Where(is.And[Product]()), "invalid argument: Where(And()): And(): an And of no predicates"},
		{query.Where(is.Equal(Status, "sold")), "walk exact sure status:eq:sold"},
		{query.Where(is.Below(Price, 10)), "walk exact sure price:lt:10"},
		{query.Where(is.In(Price, 1, 2, 3)), "walk exact sure price:eq:1 price:eq:2 price:eq:3"},
		{query.Where(is.HasPrefix(Name, "ab")), "walk exact sure name:pre:ab"},
		{query.Where(is.Member(Tags, "red")), "walk exact sure tags:eq:red"},
		{query.Where(is.Or(is.Member(Tags, "red"), is.Member(Tags, "blue"))), "gather sure tags:eq:red tags:eq:blue"},
		{query.Where(is.And(is.Equal(Note, "x"), is.AtLeast(Price, 5))), "walk price:ge:5"},
		{query.Where(is.Or(is.Equal(Status, "a"), is.AtLeast(Price, 5))), "gather sure status:eq:a price:ge:5"},
		{query.Where(is.Or[Product]()), "invalid argument: Where(Or()): Or(): an Or of no predicates"},
		{query.Where(is.Not(is.In(Price))), "invalid argument: Where(Not(In(price))): In(price): no values"},
		{query.Where(is.Equal(Status, "sold")).OrderBy(Price), "auto sure by price status:eq:sold"},
		{query.Where(is.And(is.Equal(Status, "sold"), is.Above(Price, 3))).OrderBy(Price).Desc(), "walk by price price:gt:3"},
		{query.Where(is.Below(Price, 3)).OrderBy(Price), "walk exact sure by price price:lt:3"},
		{query.All[Product]().OrderBy(Score), "walk exact by score score:all:"},
		{query.Where(is.Equal(Note, "x")).OrderBy(Price).Scan(), "walk by price price:all:"},
		{query.Where(is.Equal(Note, "x")).Scan(), "all"},
		{query.Where(is.Equal(Note, "x")), "note in Equal(note, \"x\"): no index serves it"},
		{query.Where(is.NotEqual(Status, "x")), "NotEqual cannot use an index"},
		{query.Where(is.Not(is.Equal(Status, "x"))), "a negation cannot use an index"},
		{query.Where(is.Element(Lines, "x")), "lines in Element(lines, \"x\"): no index.Members serves it"},
		{query.Where(is.AtMost(is.Len(Lines), 3)), "no index holds lengths"},
		{query.Where(is.Or(is.Equal(Status, "a"), is.Equal(Note, "b"))), "note in Equal(note, \"b\")"},
		{query.Where(is.Equal(Status, "a")).OrderBy(Note), "OrderBy(note): no index orders by it"},
		{query.All[Product]().OrderBy(Tags), "not a scalar field"},
		// a field of another type, with the stored name of one of Product
		{query.All[Product]().OrderBy(otherPrice), "OrderBy(Other.price): a field of another type than the query's query_test.Product"},
	}
	for _, c := range cases {
		s, err := c.q.Spec(plan.Access{})
		if err == nil {
			var p plan.Plan
			p, err = plan.Make(s.Tree, s.Order, s.Scan, ixs)
			if err == nil {
				if got := show(p); got != c.want {
					t.Errorf("%s: plan %q, want %q", c.q, got, c.want)
				}
				continue
			}
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want one saying %q", c.q, err, c.want)
		}
		if strings.Contains(c.want, "index") && !errors.Is(err, errs.NotIndexed) {
			t.Errorf("%s: %v is no NotIndexed", c.q, err)
		}
		if !errors.Is(err, errs.Invalid) {
			t.Errorf("%s: %v is no Invalid", c.q, err)
		}
	}
}

// TestAPlanIsSureOnlyWhereTheIndexIsThePredicate: the script skips reading
// the predicate again only for a leaf or an In that the ranges are; a text
// field whose absent value counts as a text other than "" (a
// text-marshalled type) is indexed under "", so there the predicate is read.
func TestAPlanIsSureOnlyWhereTheIndexIsThePredicate(t *testing.T) {
	leaf := func(zero string) *plan.Node {
		return &plan.Node{Op: "cmp", Field: "status", Kind: "string", Rel: "lt", Arg: "m", Zero: zero, Shown: "Below(status)"}
	}
	for _, c := range []struct {
		n    *plan.Node
		sure bool
	}{
		{leaf(""), true},
		{leaf("low"), false},
		{&plan.Node{Op: "or", Kids: []*plan.Node{leaf(""), leaf("")}}, true},
		{&plan.Node{Op: "or", Kids: []*plan.Node{leaf(""), leaf("low")}}, false},
		{&plan.Node{Op: "and", Kids: []*plan.Node{leaf("")}}, false},
	} {
		for _, order := range []string{"", "price"} {
			p, err := plan.Make(c.n, order, false, ixs)
			if err != nil || p.Sure != c.sure {
				t.Errorf("%+v ordered by %q: sure %v, %v; want %v", c.n, order, p.Sure, err, c.sure)
			}
		}
	}
}

func TestAQueryIsAValueThatPrints(t *testing.T) {
	q := query.Where(is.Equal(Status, "sold"))
	r := q.OrderBy(Price).Desc().Limit(20).Scan().Tag("eu")
	if got, want := q.String(), `Where(Equal(status, "sold"))`; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got, want := r.String(), `Where(Equal(status, "sold")).OrderBy(price).Desc().Limit(20).Scan().Tag("eu")`; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := query.All[Product]().String(); got != "All()" {
		t.Errorf("%q", got)
	}
	if _, err := q.Limit(0).Spec(plan.Access{}); !errors.Is(err, errs.Invalid) {
		t.Errorf("Limit(0): %v", err)
	}
	var bad is.Pred[Product]
	if _, err := query.Where(bad).Spec(plan.Access{}); !errors.Is(err, errs.Invalid) {
		t.Errorf("the zero Pred: %v", err)
	}
	if _, err := planOf(t, q); err != nil {
		t.Error(err)
	}
}
