package rapyer_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestAnOrderByAFieldSomeModelsLackAnswersAsTheIndex: ordered by a
// pointer field that is nil in some models (an absent field, indexed as
// its kind's zero), a query whose condition is on another field (the
// script gathers the condition's candidates and reads each one's order
// value) answers what a scan of the stored models gives, in order, both
// ways, paged and not.
func TestAnOrderByAFieldSomeModelsLackAnswersAsTheIndex(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		seed := testenv.Seed(t)
		m, _, r := ixModel(t, b, "nilorder", 3, uint64(seed), 3)
		stored := map[string]ixItem{}
		for i := range 30 {
			id := fmt.Sprintf("m%02d", i)
			v := ixRandomItem(r)
			if err := m.Save(ctx, id, v); err != nil {
				t.Fatal(err)
			}
			stored[id] = v
		}
		level := func(v ixItem) int {
			if v.Level == nil {
				return 0
			}
			return int(*v.Level)
		}
		for _, desc := range []bool{false, true} {
			p := is.AtLeast(itStock, 0)
			q := query.Where(p).OrderBy(itLevel)
			if desc {
				q = q.Desc()
			}
			var want []string
			for id, v := range stored {
				if p.Holds(v) {
					want = append(want, id)
				}
			}
			slices.SortFunc(want, func(a, b string) int {
				c := cmp.Or(cmp.Compare(level(stored[a]), level(stored[b])), cmp.Compare(a, b))
				if desc {
					return -c
				}
				return c
			})
			var got []string
			for id, err := range m.FindIDs(ctx, q) {
				if err != nil {
					t.Fatalf("seed %d: %s: %v", seed, q, err)
				}
				got = append(got, id)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d: %s: %v, want %v", seed, q, got, want)
			}
			var paged []string
			for cur := ""; ; {
				pg, err := m.Page(ctx, q.Limit(4), cur)
				if err != nil {
					t.Fatalf("seed %d: %s: %v", seed, q, err)
				}
				for _, e := range pg.Items {
					paged = append(paged, e.ID)
				}
				if cur = pg.Next; cur == "" {
					break
				}
			}
			if !slices.Equal(paged, want) {
				t.Fatalf("seed %d: %s: pages %v, want %v", seed, q, paged, want)
			}
		}
	})
}

// TestACursorOfAnotherQueryOrTamperedIsRefused: a cursor from a page of
// another query (another predicate, order, direction, or model prefix),
// or one with any byte changed, cut or extended, fails with ErrBadCursor,
// never a page.
func TestACursorOfAnotherQueryOrTamperedIsRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "cursors", rapyer.Options{Groups: 2})
		other := newItems(t, b, "cursors2", rapyer.Options{Groups: 2})
		for _, x := range []*rapyer.Model[QItem]{m, other} {
			saveItems(t, x, 12, func(i int) QItem { return QItem{Status: "new", Price: i % 4, Name: "ap"} })
		}
		qs := []query.Query[QItem]{
			query.Where(is.Equal(iStatus, "new")),
			query.Where(is.Equal(iStatus, "sold")),
			query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice),
			query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Desc(),
			query.Where(is.AtLeast(iPrice, 0)),
			query.Where(is.HasPrefix(iName, "a")),
			query.All[QItem](),
		}
		cursors := make([]string, len(qs))
		for i, q := range qs {
			p, err := m.Page(ctx, q.Limit(3), "")
			if err != nil {
				t.Fatal(err)
			}
			cursors[i] = p.Next
		}
		for i, q := range qs {
			for j, c := range cursors {
				if c == "" || i == j {
					continue
				}
				if _, err := m.Page(ctx, q.Limit(3), c); !errors.Is(err, rapyer.ErrBadCursor) || !errors.Is(err, rapyer.ErrInvalid) {
					t.Fatalf("%s with the cursor of %s: %v", q, qs[j], err)
				}
			}
			if cursors[i] == "" {
				continue
			}
			if _, err := other.Page(ctx, q.Limit(3), cursors[i]); !errors.Is(err, rapyer.ErrBadCursor) {
				t.Fatalf("%s on another model: %v", q, err)
			}
			c := cursors[i]
			for k := range len(c) {
				for _, ch := range []byte{'A', '_', '-', '0'} {
					if c[k] == ch {
						continue
					}
					bad := c[:k] + string(ch) + c[k+1:]
					if _, err := m.Page(ctx, q.Limit(3), bad); !errors.Is(err, rapyer.ErrBadCursor) {
						t.Fatalf("%s: cursor %q changed at %d to %q: %v", q, c, k, bad, err)
					}
				}
			}
			for _, bad := range []string{c[:len(c)-1], c + "A", c[1:], "x" + c, "!" + c[1:]} {
				if _, err := m.Page(ctx, q.Limit(3), bad); !errors.Is(err, rapyer.ErrBadCursor) {
					t.Fatalf("%s: cursor %q: %v", q, bad, err)
				}
			}
		}
	})
}
