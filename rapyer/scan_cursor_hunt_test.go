package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestAScanPagingBegunDuringARebuildGoesOnAfterIt: a query with Scan whose
// index is not built yet pages by reading every model; the rebuild ends
// halfway through the paging. Before the fix the next page planned the
// query on the index again, whose fingerprint differs, and the cursor
// failed with ErrBadCursor ("belongs to another query"): a caller could
// not finish a paging begun during a rebuild. Now the cursor goes on as a
// scan to the end, each matching model once. A paging begun on the index
// cannot go on while it is built (its place is in the index's order): that
// cursor fails with ErrBadCursor saying so.
func TestAScanPagingBegunDuringARebuildGoesOnAfterIt(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		p := b.Prefix + "scanpg"
		opts := func(ixs ...index.Spec) rapyer.Options { return rapyer.Options{Prefix: p, Groups: 3, Indexes: ixs} }
		old := rapyer.MustNew[QItem](b.Client, opts(index.On(iStatus)))
		stored := map[string]QItem{}
		for i := range 30 {
			id := fmt.Sprintf("s%02d", i)
			stored[id] = QItem{Status: []string{"new", "sold"}[i%2], Price: i % 7}
			if err := old.Save(ctx, id, stored[id]); err != nil {
				t.Fatal(err)
			}
		}
		m := rapyer.MustNew[QItem](b.Client, opts(index.On(iStatus), index.On(iPrice)))
		cheap := is.Below(iPrice, 4)
		q := query.Where(cheap).Scan().Limit(4)
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages == 2 {
				if err := m.Reindex(ctx, nil); err != nil {
					t.Fatal(err)
				}
			}
			pg, err := m.Page(ctx, q, cursor)
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			for _, e := range pg.Items {
				got = append(got, e.ID)
			}
			if cursor = pg.Next; cursor == "" {
				break
			}
		}
		slices.Sort(got)
		if want := expected(cheap, stored, nil, false); !slices.Equal(got, want) {
			t.Fatalf("paged across the rebuild: %v, want %v", got, want)
		}
		// begun on the index, which is dropped and declared again
		sold := query.Where(is.Equal(iStatus, "sold")).Scan().Limit(4)
		pg, err := m.Page(ctx, sold, "")
		if err != nil || pg.Next == "" {
			t.Fatalf("first page on the index: %v, %q", err, pg.Next)
		}
		if err := rapyer.MustNew[QItem](b.Client, opts(index.On(iPrice))).DropIndex(ctx, "status"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Page(ctx, sold, pg.Next); !errors.Is(err, rapyer.ErrBadCursor) || !strings.Contains(err.Error(), "being built") {
			t.Fatalf("a cursor of the index while it is built: %v", err)
		}
	})
}
