package rapyer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestQueriesRefuseEmptyPredicates: a query whose predicate holds an And,
// Or or In of nothing, or the zero Pred, at the top or nested, is refused
// by Count, DeleteWhere, Find, FindIDs and Page with ErrInvalid naming it,
// before any round trip; DeleteWhere deletes nothing (an And() used to
// match, and delete, every model). On every tier.
func TestQueriesRefuseEmptyPredicates(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "emptyp", rapyer.Options{})
		saveItems(t, m, 6, func(i int) QItem { return QItem{Status: "new", Price: i} })
		var none []is.Pred[QItem] // a slice of conditions that came out empty
		var noPrices []int
		cases := []struct {
			q    query.Query[QItem]
			text string
		}{
			{query.Where(is.And(none...)), "And()"},
			{query.Where(is.Or(none...)), "Or()"},
			{query.Where(is.In(iPrice, noPrices...)), "In(price)"},
			{query.Where(is.Not(is.And(none...))).Scan(), "Not(And())"},
			{query.Where(is.Or(is.Equal(iStatus, "new"), is.And(none...))), "And()"},
			{query.Where(is.And(is.Equal(iStatus, "new"), is.Not(is.Or(none...)))).Scan(), "Or()"},
			{query.Where(is.And(none...)).OrderBy(iPrice).Limit(3), "And()"},
			{query.Where(is.Pred[QItem]{}), "zero is.Pred"},
		}
		trips := testenv.CountRoundTrips(b.Client)
		for _, c := range cases {
			want := func(how string, err error) {
				t.Helper()
				if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), c.text) {
					t.Errorf("%s(%s): %v; want ErrInvalid naming %s", how, c.q, err, c.text)
				}
			}
			_, err := m.Count(ctx, c.q)
			want("Count", err)
			n, err := m.DeleteWhere(ctx, c.q)
			want("DeleteWhere", err)
			if n != 0 {
				t.Errorf("DeleteWhere(%s) deleted %d", c.q, n)
			}
			seen := 0
			for _, err := range m.Find(ctx, c.q) {
				want("Find", err)
				seen++
			}
			for _, err := range m.FindIDs(ctx, c.q) {
				want("FindIDs", err)
				seen++
			}
			if seen != 2 {
				t.Errorf("Find and FindIDs of %s yielded %d times; want one error each", c.q, seen)
			}
			_, err = m.Page(ctx, c.q, "")
			want("Page", err)
		}
		if n := trips.Count(); n != 0 {
			t.Errorf("refused queries sent %s", trips)
		}
		if n, err := m.Count(ctx, query.All[QItem]()); err != nil || n != 6 {
			t.Fatalf("after the refused queries %d models, %v; want all 6", n, err)
		}
	})
}
