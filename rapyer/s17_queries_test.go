package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

type s17Item struct {
	Kind string
	Rank int
}

var (
	s17Kind = lens.Of(func(i *s17Item) *string { return &i.Kind })
	s17Rank = lens.Of(func(i *s17Item) *int { return &i.Rank })
)

func s17Items(t *testing.T, b *testenv.Backend, opts rapyer.Options) (*rapyer.Model[s17Item], ixcheck.Oracle) {
	t.Helper()
	opts.Prefix = b.Prefix + "s17" + opts.Prefix
	opts.Indexes = []index.Spec{index.On(s17Kind), index.On(s17Rank)}
	m, err := rapyer.New[s17Item](b.Client, opts)
	if err != nil {
		t.Fatal(err)
	}
	groups := opts.Groups
	if groups == 0 {
		groups = 16
	}
	return m, ixcheck.MustNew[s17Item](t, b.Client, opts.Prefix, groups, opts.Indexes, m.IDs)
}

func s17IDs[T any](t *testing.T, m *rapyer.Model[T], q query.Query[T]) []string {
	t.Helper()
	var ids []string
	for id, err := range m.FindIDs(context.Background(), q) {
		if err != nil {
			t.Fatalf("FindIDs %s: %v", q, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestCountAgreesWithFindWhenADeadlineIsLate: a model that Redis ended
// before the deadline its group's @exp holds for it (a write reads the
// clock after the server fixed the time its TTL counts from, so the
// deadline is late by as long as the write took until then; here 300 ms,
// made by hand) is counted by no Count, as Find and FindIDs return it
// not: Count, which answers from the indexes when no dead model is left,
// looks at the deadlines a second ahead. Before, Count answered from the
// indexes and counted the dead model until its deadline passed.
func TestCountAgreesWithFindWhenADeadlineIsLate(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, o := s17Items(t, b, rapyer.Options{TTL: time.Hour, Groups: 1})
		for i, id := range []string{"a", "b", "c"} {
			if err := m.Save(ctx, id, s17Item{Kind: "k", Rank: i}); err != nil {
				t.Fatal(err)
			}
		}
		// b ends (no script runs) while its deadline is 300 ms ahead
		now, err := b.Client.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		b.Client.Del(ctx, m.Target("b").Root())
		b.Client.ZAdd(ctx, o.Base(0)+":@exp", redis.Z{Score: float64(now.UnixMilli() + 300), Member: "b"})
		for _, q := range []query.Query[s17Item]{
			query.All[s17Item](),
			query.Where(is.Equal(s17Kind, "k")),
			query.Where(is.In(s17Kind, "k", "l")),
			query.Where(is.AtLeast(s17Rank, 0)),
			query.Where(is.And(is.Equal(s17Kind, "k"), is.AtMost(s17Rank, 5))),
		} {
			ids := s17IDs(t, m, q)
			n, err := m.Count(ctx, q)
			if err != nil || n != len(ids) || slices.Contains(ids, "b") || len(ids) != 2 {
				t.Fatalf("%s: Count %d (%v), FindIDs %v; want both the 2 live models", q, n, err, ids)
			}
		}
	})
}

// TestTheLastPageSaysNoMore: paging through n results by pages of k gives
// ceil(n/k) pages, each result once and in order, and the last one, full
// or not, has no cursor: no page is empty (but the one page of a query
// that finds nothing), on one group, on 16, ascending and descending, on
// an index range, a predicate the server evaluates, and every model.
// Before, a last page that ended a group at its limit gave a cursor, and
// the page after it was empty.
func TestTheLastPageSaysNoMore(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for _, groups := range []int{1, 16} {
			m, _ := s17Items(t, b, rapyer.Options{Groups: groups, Prefix: fmt.Sprint(groups)})
			var want []string
			for i := range 20 {
				id := fmt.Sprintf("m%02d", i)
				if err := m.Save(ctx, id, s17Item{Kind: []string{"x", "y"}[i%2], Rank: i}); err != nil {
					t.Fatal(err)
				}
				want = append(want, id)
			}
			for _, c := range []struct {
				q    query.Query[s17Item]
				want []string
			}{
				{query.All[s17Item](), want},
				{query.Where(is.AtLeast(s17Rank, 0)).OrderBy(s17Rank), want},
				{query.Where(is.AtLeast(s17Rank, 0)).OrderBy(s17Rank).Desc(), reversed(want)},
				{query.Where(is.And(is.Equal(s17Kind, "x"), is.Not(is.Equal(s17Rank, 3)))).OrderBy(s17Rank), evens(want)},
				{query.Where(is.Equal(s17Kind, "none")), nil},
			} {
				for _, k := range []int{1, 2, 5, 10, 20, 21} {
					got, pages := pageAll(t, m, c.q.Limit(k))
					wantPages := max(1, (len(c.want)+k-1)/k)
					if !slices.Equal(got, c.want) || pages != wantPages {
						t.Fatalf("%d groups, %s by %d: %d pages of %v, want %d pages of %v", groups, c.q, k, pages, got, wantPages, c.want)
					}
				}
			}
		}
	})
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func evens(s []string) []string {
	var r []string
	for i, v := range s {
		if i%2 == 0 {
			r = append(r, v)
		}
	}
	return r
}

// pageAll pages through q: the ids in order and the number of pages; a
// page without items but the only one fails the test.
func pageAll[T any](t *testing.T, m *rapyer.Model[T], q query.Query[T]) ([]string, int) {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 1; pages < 1000; pages++ {
		p, err := m.Page(context.Background(), q, cursor)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(p.Items) == 0 && pages > 1 {
			t.Fatalf("%s: page %d is empty after %v", q, pages, ids)
		}
		for _, e := range p.Items {
			ids = append(ids, e.ID)
		}
		if p.Next == "" {
			return ids, pages
		}
		cursor = p.Next
	}
	t.Fatalf("%s: no end of pages", q)
	return nil, 0
}

// TestACursorOfAQueryWhoseWordsJoinAlikeIsRefused: two queries whose
// predicates, lowered to words, join into one text when a value holds the
// separator (NUL) are two queries: a cursor of one fails on the other
// with ErrBadCursor. Before, their cursors had one fingerprint, and the
// second query resumed after the first one's place, skipping its own
// results.
func TestACursorOfAQueryWhoseWordsJoinAlikeIsRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, _ := s17Items(t, b, rapyer.Options{Groups: 1})
		for _, k := range []string{"a", "q", "r", "z"} {
			if err := m.Save(ctx, k, s17Item{Kind: k}); err != nil {
				t.Fatal(err)
			}
		}
		glue := "\x00\x001\x00cmp\x00kind\x00string\x00eq\x00"
		one := query.Where(is.Or(is.Equal(s17Kind, "a"+glue+"z"), is.Equal(s17Kind, "q"), is.Equal(s17Kind, "r"))).Limit(1)
		two := query.Where(is.Or(is.Equal(s17Kind, "a"), is.Equal(s17Kind, "z"), is.Equal(s17Kind, "q"+glue+"r"))).Limit(1)
		p, err := m.Page(ctx, one, "")
		if err != nil || len(p.Items) != 1 || p.Next == "" {
			t.Fatalf("the first page: %+v %v", p, err)
		}
		if got, err := m.Page(ctx, two, p.Next); !errors.Is(err, rapyer.ErrBadCursor) {
			t.Fatalf("the other query took the cursor: %+v %v", got, err)
		}
		if got, _ := pageAll(t, m, two); !slices.Equal(got, []string{"a", "z"}) {
			t.Fatalf("the other query pages %v", got)
		}
	})
}
