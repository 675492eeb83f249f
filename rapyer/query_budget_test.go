package rapyer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestAQueryPastTheBudgetOfACallResumesExactly: more candidates than one
// call of the script looks at (2000). On one server one call runs every
// group, with one budget for the call: a page of 2,229 results takes two
// calls, the second resuming each group where the first left it (groups
// the first did not reach where they were); on the cluster each group is a
// call of its own. Either way Page, Find, FindIDs, Count and an ordered
// Page give every result once, in order.
func TestAQueryPastTheBudgetOfACallResumesExactly(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		if b.Kind == testenv.Mini {
			// miniredis runs the query script in Go's Lua, which on a
			// loaded machine can take longer than go-redis's 3 s read
			// timeout for a call that looks at 2000 candidates
			b.Client = b.NewClient(t, func(o *redis.UniversalOptions) { o.ReadTimeout = time.Minute })
		}
		m := newItems(t, b, "budget", rapyer.Options{Groups: 4})
		const n = 2600
		es := make([]rapyer.Entry[QItem], n)
		var news []string
		for i := range es {
			st := "new"
			if i%7 == 0 {
				st = "sold"
			}
			es[i] = rapyer.Entry[QItem]{ID: fmt.Sprintf("b%04d", (i*7919)%n), Value: QItem{Status: st, Price: i % 50}}
			if st == "new" {
				news = append(news, es[i].ID)
			}
		}
		for at := 0; at < n; at += 100 {
			if err := m.SaveMany(ctx, es[at:min(at+100, n)]); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(news)
		q := query.Where(is.Equal(iStatus, "new"))
		if _, err := m.Page(ctx, q.Limit(1), ""); err != nil { // the script loaded
			t.Fatal(err)
		}
		rt := testenv.CountRoundTrips(b.Client)
		p, err := m.Page(ctx, q.Limit(2500), "")
		if err != nil {
			t.Fatal(err)
		}
		if b.Kind != testenv.Cluster {
			if cmds := rt.Commands(); rt.Count() != 2 || len(cmds) != 2 {
				t.Errorf("a page of %d candidates: %s; want two calls, one a round trip", len(news), rt)
			}
		}
		var got []string
		for _, e := range p.Items {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, news) || p.Next != "" {
			t.Fatalf("Page: %d results (next %q), want the %d in order", len(got), p.Next, len(news))
		}
		if ids := findIDs(t, m, q); !slices.Equal(ids, news) {
			t.Fatalf("FindIDs: %d results, want the %d in order", len(ids), len(news))
		}
		got = got[:0]
		for v, err := range m.Find(ctx, q) {
			if err != nil || v.Status != "new" {
				t.Fatalf("Find: %+v, %v", v, err)
			}
			got = append(got, "")
		}
		if len(got) != len(news) {
			t.Fatalf("Find: %d results, want %d", len(got), len(news))
		}
		if c, err := m.Count(ctx, query.Where(is.And(is.Equal(iStatus, "new"), is.AtLeast(iPrice, 0)))); err != nil || c != len(news) {
			t.Fatalf("Count: %d, %v; want %d", c, err, len(news))
		}
		checkOrderedPages(t, m, es)
	})
}

// checkOrderedPages reads the "new" models ordered by price in pages of
// 2100 (past the budget) and compares them with a sort of es.
func checkOrderedPages(t *testing.T, m *rapyer.Model[QItem], es []rapyer.Entry[QItem]) {
	t.Helper()
	var want []rapyer.Entry[QItem]
	for _, e := range es {
		if e.Value.Status == "new" {
			want = append(want, e)
		}
	}
	slices.SortFunc(want, func(a, b rapyer.Entry[QItem]) int {
		if a.Value.Price != b.Value.Price {
			return a.Value.Price - b.Value.Price
		}
		return compareStrings(a.ID, b.ID)
	})
	q := query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Limit(2100)
	var got []rapyer.Entry[QItem]
	cursor := ""
	for range 5 {
		p, err := m.Page(context.Background(), q, cursor)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Items...)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("ordered pages: %d results, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Fatalf("ordered pages: result %d is %s, want %s", i, got[i].ID, want[i].ID)
		}
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
