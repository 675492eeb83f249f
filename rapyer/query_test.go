package rapyer_test

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// QItem has a field of every kind an index takes, and one without an index.
type QItem struct {
	Name   string
	Status string
	Price  int
	Score  float64
	Added  time.Time
	Tags   map[string]struct{}
	Hidden bool
}

var (
	iName   = lens.Of(func(i *QItem) *string { return &i.Name })
	iStatus = lens.Of(func(i *QItem) *string { return &i.Status })
	iPrice  = lens.Of(func(i *QItem) *int { return &i.Price })
	iScore  = lens.Of(func(i *QItem) *float64 { return &i.Score })
	iAdded  = lens.Of(func(i *QItem) *time.Time { return &i.Added })
	iTags   = lens.Of(func(i *QItem) *map[string]struct{} { return &i.Tags })
	iHidden = lens.Of(func(i *QItem) *bool { return &i.Hidden })
)

var itemIndexes = []index.Spec{index.Prefix(iName), index.On(iStatus), index.On(iPrice), index.On(iScore),
	index.On(iAdded), index.Members(iTags)}

var (
	itemNames  = []string{"", "apple", "apricot", "banana", "band", "a\x00b", "a", "é"}
	itemStatus = []string{"", "new", "sold", "gone"}
	itemScores = []float64{-1.5, 0, 0.25, 2, 1e10, -1e-300}
	itemTimes  = []time.Time{{}, time.Date(2024, 2, 29, 6, 30, 0, 5, time.UTC), time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 6, 30, 0, 6, time.UTC)}
	itemTags = []string{"red", "blue", "green"}
)

func pick[E any](r *rand.Rand, xs []E) E { return xs[r.IntN(len(xs))] }

func randomItem(r *rand.Rand) QItem {
	it := QItem{Name: pick(r, itemNames), Status: pick(r, itemStatus), Price: r.IntN(30) - 10, Score: pick(r, itemScores),
		Added: pick(r, itemTimes), Hidden: r.IntN(4) == 0}
	for _, t := range itemTags {
		if r.IntN(2) == 0 {
			if it.Tags == nil {
				it.Tags = map[string]struct{}{}
			}
			it.Tags[t] = struct{}{}
		}
	}
	return it
}

// randomQuery is a query an index serves: a leaf, an In, an And with a
// condition no index serves, an Or of leaves; perhaps ordered.
func randomQuery(r *rand.Rand) tq {
	leaf := func() is.Pred[QItem] {
		switch r.IntN(9) {
		case 0:
			return is.Equal(iStatus, pick(r, itemStatus))
		case 1:
			return is.Below(iPrice, r.IntN(30)-10)
		case 2:
			return is.AtLeast(iPrice, r.IntN(30)-10)
		case 3:
			return is.HasPrefix(iName, pick(r, []string{"", "a", "ap", "ban", "a\x00", "é"}))
		case 4:
			return is.AtMost(iScore, pick(r, itemScores))
		case 5:
			return is.Above(iAdded, pick(r, itemTimes))
		case 6:
			return is.Member(iTags, pick(r, itemTags))
		case 7:
			return is.In(iPrice, r.IntN(10), r.IntN(10), -r.IntN(10))
		}
		return is.Equal(iName, pick(r, itemNames))
	}
	var p is.Pred[QItem]
	switch r.IntN(4) {
	case 0:
		p = leaf()
	case 1:
		p = is.And(leaf(), is.Equal(iHidden, false))
	case 2:
		p = is.Or(leaf(), leaf())
	default:
		p = is.And(leaf(), leaf())
	}
	x := tq{q: query.Where(p), p: p}
	switch r.IntN(4) {
	case 0:
		x.q, x.by = x.q.OrderBy(iPrice), func(i QItem) any { return i.Price }
	case 1:
		x.q, x.by, x.desc = x.q.OrderBy(iAdded).Desc(), func(i QItem) any { return i.Added }, true
	}
	return x
}

// tq is a query with its predicate and order on the side.
type tq struct {
	q    query.Query[QItem]
	p    is.Pred[QItem]
	by   func(QItem) any
	desc bool
}

// expected is what a scan of the stored models gives for q: the ids, in
// q's order when it has one.
func expected(p is.Pred[QItem], stored map[string]QItem, by func(QItem) any, desc bool) []string {
	var ids []string
	for id, it := range stored {
		if p.Holds(it) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		c := 0
		if by != nil {
			switch x := by(stored[a]).(type) {
			case int:
				c = cmp.Compare(x, by(stored[b]).(int))
			case time.Time:
				c = x.Compare(by(stored[b]).(time.Time))
			}
		}
		if c == 0 {
			c = cmp.Compare(a, b)
		}
		if desc {
			return -c
		}
		return c
	})
	return ids
}

func newItems(t *testing.T, b *testenv.Backend, name string, opts rapyer.Options) *rapyer.Model[QItem] {
	t.Helper()
	opts.Prefix = b.Prefix + name
	if opts.Indexes == nil {
		opts.Indexes = itemIndexes
	}
	m, err := rapyer.New[QItem](b.Client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// findIDs is every id FindIDs yields for q, in its order; an error fails t.
func findIDs[T any](t *testing.T, m *rapyer.Model[T], q query.Query[T]) []string {
	t.Helper()
	var ids []string
	for id, err := range m.FindIDs(context.Background(), q) {
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		ids = append(ids, id)
	}
	return ids
}

func pageIDs(t *testing.T, m *rapyer.Model[QItem], q query.Query[QItem], between func()) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for range 1000 {
		p, err := m.Page(context.Background(), q, cursor)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, e := range p.Items {
			ids = append(ids, e.ID)
		}
		if p.Next == "" {
			return ids
		}
		cursor = p.Next
		if between != nil {
			between()
		}
	}
	t.Fatalf("%s: no end of pages", q)
	return nil
}

// TestQueriesAnswerWhatAScanGives: random models, random queries; every
// answer (Find, FindIDs, Page, Count) equals the filter of every stored
// model in Go, in the query's order, on every backend.
func TestQueriesAnswerWhatAScanGives(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		seed := testenv.Seed(t)
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		m := newItems(t, b, "items", rapyer.Options{Groups: 4})
		stored := saveRandom(t, m, r, 80)
		for range 60 {
			checkQuery(t, m, randomQuery(r), stored, seed)
		}
	})
}

func checkQuery(t *testing.T, m *rapyer.Model[QItem], x tq, stored map[string]QItem, seed int64) {
	t.Helper()
	ctx := context.Background()
	q, p, by := x.q, x.p, x.by
	want := expected(p, stored, by, x.desc)
	got := findIDs(t, m, q)
	if by == nil {
		slices.Sort(got)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("seed %d: %s: FindIDs %v, want %v", seed, q, got, want)
	}
	paged := pageIDs(t, m, q.Limit(7), nil)
	if by == nil {
		slices.Sort(paged)
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("seed %d: %s: pages of 7 %v, want %v", seed, q, paged, want)
	}
	n, err := m.Count(ctx, q)
	if err != nil || n != len(want) {
		t.Fatalf("seed %d: %s: Count %d, %v; want %d", seed, q, n, err, len(want))
	}
	var vals []QItem
	for v, err := range m.Find(ctx, q.Limit(3)) {
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, v)
	}
	if len(vals) != min(3, len(want)) {
		t.Fatalf("seed %d: %s: Find with Limit(3) gave %d models", seed, q, len(vals))
	}
	for _, v := range vals {
		if !p.Holds(v) {
			t.Fatalf("seed %d: %s: Find gave %+v, which does not match", seed, q, v)
		}
	}
}
