package rapyer_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestAPageOfTheLargestLimitHoldsEveryModel: a Page, Find and FindIDs of
// a query with Limit(math.MaxInt) hold every model, the page with no
// cursor after it. Page asked for one result past its size, limit+1,
// which wrapped to math.MinInt and panicked slicing the results.
func TestAPageOfTheLargestLimitHoldsEveryModel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "maxpage", rapyer.Options{})
		want := saveItems(t, m, 7, func(i int) QItem { return QItem{Status: "new", Price: i} })
		for _, q := range []query.Query[QItem]{
			query.Where(is.Equal(iStatus, "new")).Limit(math.MaxInt),
			query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Desc().Limit(math.MaxInt),
			query.All[QItem]().Scan().Limit(math.MaxInt),
		} {
			p, err := m.Page(ctx, q, "")
			if err != nil {
				t.Fatalf("Page(%s): %v", q, err)
			}
			var got []string
			for _, e := range p.Items {
				got = append(got, e.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) || p.Next != "" {
				t.Errorf("Page(%s): %v, next %q; want %v and no next page", q, got, p.Next, want)
			}
			got = got[:0]
			for id, err := range m.FindIDs(ctx, q) {
				if err != nil {
					t.Fatalf("FindIDs(%s): %v", q, err)
				}
				got = append(got, id)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("FindIDs(%s): %v; want %v", q, got, want)
			}
			n := 0
			for _, err := range m.Find(ctx, q) {
				if err != nil {
					t.Fatalf("Find(%s): %v", q, err)
				}
				n++
			}
			if n != len(want) {
				t.Errorf("Find(%s): %d models; want %d", q, n, len(want))
			}
		}
	})
}
