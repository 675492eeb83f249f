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

// idsOfGroup are n ids of the form <p><i> that fall in group g of groups.
func idsOfGroup(p string, g, groups, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if id := fmt.Sprintf("%s%05d", p, i); ixGroup(id, groups) == g {
			out = append(out, id)
		}
	}
	return out
}

// TestADescendingQueryPastTheBudgetMissesNoGroup: on one server one call
// runs every group with one budget (2000 candidates), and a group the
// call did not reach answers that it is not done, having looked at
// nothing. In a descending order such a group is at the top of the order,
// not past its end: no result of another group may be given before it has
// looked. Group 0 spends a call's budget on models the predicate refuses,
// then holds matches at 900; group 1 spends the next call's on refused
// ones at 800; group 2, reached by neither, holds a match at 950, which
// must come first, in Page and in FindIDs (before the fix group 0's
// matches came first and 950 was missing from the first page).
func TestADescendingQueryPastTheBudgetMissesNoGroup(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		if b.Kind == testenv.Mini {
			// Go's Lua under -race can take longer than the 3 s read
			// timeout for a call of 2000 candidates
			b.Client = b.NewClient(t, func(o *redis.UniversalOptions) { o.ReadTimeout = time.Minute })
		}
		m := newItems(t, b, "descbudget", rapyer.Options{Groups: 3})
		var es []rapyer.Entry[QItem]
		add := func(ids []string, v QItem) {
			for _, id := range ids {
				es = append(es, rapyer.Entry[QItem]{ID: id, Value: v})
			}
		}
		add(idsOfGroup("a", 0, 3, 2000), QItem{Hidden: true, Price: 1000})
		top0 := idsOfGroup("b", 0, 3, 10)
		add(top0, QItem{Price: 900})
		add(idsOfGroup("c", 1, 3, 2000), QItem{Hidden: true, Price: 800})
		top2 := idsOfGroup("d", 2, 3, 1)
		add(top2, QItem{Price: 950})
		for at := 0; at < len(es); at += 200 {
			if err := m.SaveMany(ctx, es[at:min(at+200, len(es))]); err != nil {
				t.Fatal(err)
			}
		}
		slices.Reverse(top0)
		want := append(slices.Clone(top2), top0...)
		q := query.Where(is.Equal(iHidden, false)).Scan().OrderBy(iPrice).Desc()
		p, err := m.Page(ctx, q.Limit(10), "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Items {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, want[:10]) {
			t.Fatalf("the first page: %v, want %v", got, want[:10])
		}
		if got := findIDs(t, m, q); !slices.Equal(got, want) {
			t.Fatalf("FindIDs: %v, want %v", got, want)
		}
		if got := findIDs(t, m, q.Limit(10)); !slices.Equal(got, want[:10]) {
			t.Fatalf("FindIDs with Limit(10): %v, want %v", got, want[:10])
		}
	})
}
