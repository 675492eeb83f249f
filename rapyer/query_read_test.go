package rapyer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestAnExpiredModelInAnIndexRangeIsNeverReturned: more models die by their
// TTL than a query purges from the indexes (16 per call), so the query
// meets entries of dead models in a range that is its predicate (the
// predicate is not read again there): none is returned, and a page is
// still filled with live models.
func TestAnExpiredModelInAnIndexRangeIsNeverReturned(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "dead", rapyer.Options{Groups: 1})
		saveItems(t, m, 40, func(i int) QItem { return QItem{Status: "new", Price: i} })
		expireFirst(t, b, m, 30)
		var live []string
		for i := 30; i < 40; i++ {
			live = append(live, fmt.Sprintf("it%03d", i))
		}
		for _, q := range []query.Query[QItem]{
			query.Where(is.Equal(iStatus, "new")),
			query.Where(is.Below(iPrice, 100)).OrderBy(iPrice),
			query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice),
		} {
			p, err := m.Page(ctx, q.Limit(5), "")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range p.Items {
				got = append(got, e.ID)
			}
			if !slices.Equal(got, live[:5]) {
				t.Errorf("%s: a page of 5 %v, want %v", q, got, live[:5])
			}
			var prices []int
			for v, err := range m.Find(ctx, q) {
				if err != nil {
					t.Fatal(err)
				}
				prices = append(prices, v.Price)
			}
			if !slices.Equal(prices, []int{30, 31, 32, 33, 34, 35, 36, 37, 38, 39}) {
				t.Errorf("%s: Find gave the prices %v, want 30..39", q, prices)
			}
			if ids := findIDs(t, m, q); !slices.Equal(ids, live) {
				t.Errorf("%s: FindIDs %v, want %v", q, ids, live)
			}
		}
	})
}

// TestAQueryReadsAModelAsGetDoes: the models a query returns (their root
// fields read by name, collections, absent pointers) equal what Get reads.
func TestAQueryReadsAModelAsGetDoes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		seed := testenv.Seed(t)
		r := rand.New(rand.NewPCG(uint64(seed), 3))
		ctx := context.Background()
		m := newItems(t, b, "readback", rapyer.Options{Groups: 3})
		for i := range 30 {
			if err := m.Save(ctx, fmt.Sprintf("it%03d", i), randomItem(r)); err != nil {
				t.Fatal(err)
			}
		}
		parcels, err := rapyer.New[qParcel](b.Client, rapyer.Options{Prefix: b.Prefix + "readparcel", Indexes: []index.Spec{index.On(qCity)}})
		if err != nil {
			t.Fatal(err)
		}
		for id, p := range map[string]qParcel{"a": {Count: 1}, "b": {Ship: &qShipping{}, Count: 2}, "c": {Ship: &qShipping{City: "x"}, Count: 3}} {
			if err := parcels.Save(ctx, id, p); err != nil {
				t.Fatal(err)
			}
		}
		check := func(name string, got, want any) {
			t.Helper()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("seed %d: %s: the query read %+v, Get %+v", seed, name, got, want)
			}
		}
		for _, q := range []query.Query[QItem]{query.All[QItem](), query.Where(is.AtLeast(iPrice, 0)).OrderBy(iPrice)} {
			p, err := m.Page(ctx, q.Limit(100), "")
			if err != nil || len(p.Items) == 0 {
				t.Fatal(p, err)
			}
			for _, e := range p.Items {
				v, err := m.Get(ctx, e.ID)
				if err != nil {
					t.Fatal(err)
				}
				check(e.ID, e.Value, v)
			}
		}
		p, err := parcels.Page(ctx, query.All[qParcel]().OrderBy(qCity), "")
		if err != nil || len(p.Items) != 3 {
			t.Fatal(p, err)
		}
		for _, e := range p.Items {
			v, err := parcels.Get(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			check(e.ID, e.Value, v)
		}
	})
}

// TestFindStreamsRoundByRoundAndGivesAnUnchangedModelOnce: with 3 results
// a group a round, Find and FindIDs stream over many rounds (each group
// resumes where it stopped, what it read ahead waits): the answer is the
// one page of every result, in order; and while other models are created,
// changed and deleted between results, every model that matched and was
// not touched comes exactly once, in order.
func TestFindStreamsRoundByRoundAndGivesAnUnchangedModelOnce(t *testing.T) {
	defer rapyer.SetStreamPage(3)()
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		seed := testenv.Seed(t)
		r := rand.New(rand.NewPCG(uint64(seed), 4))
		ctx := context.Background()
		m := newItems(t, b, "rounds", rapyer.Options{Groups: 5})
		ids := saveItems(t, m, 60, func(i int) QItem { return QItem{Status: "new", Price: i % 13} })
		for _, q := range []query.Query[QItem]{
			query.Where(is.Equal(iStatus, "new")),
			query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Desc(),
			query.Where(is.AtLeast(iPrice, 2)).OrderBy(iPrice),
			query.All[QItem](),
		} {
			want := pageIDs(t, m, q.Limit(1000), nil)
			if got := findIDs(t, m, q); !slices.Equal(got, want) {
				t.Fatalf("seed %d: %s: FindIDs %v, want %v", seed, q, got, want)
			}
			var prices []int
			for v, err := range m.Find(ctx, q) {
				if err != nil {
					t.Fatal(err)
				}
				prices = append(prices, v.Price)
			}
			if len(prices) != len(want) {
				t.Fatalf("seed %d: %s: Find gave %d models, want %d", seed, q, len(prices), len(want))
			}
		}
		q := query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice)
		want := pageIDs(t, m, q.Limit(1000), nil)
		touched, extra := map[string]bool{}, 0
		var got []string
		for id, err := range m.FindIDs(ctx, q) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, id)
			for range 2 {
				switch id := ids[r.IntN(len(ids))]; r.IntN(3) {
				case 0:
					touched[id] = true
					if err := m.Save(ctx, id, QItem{Status: "new", Price: r.IntN(13)}); err != nil {
						t.Fatal(err)
					}
				case 1:
					touched[id] = true
					if _, err := m.Delete(ctx, id); err != nil {
						t.Fatal(err)
					}
				default:
					extra++
					if err := m.Save(ctx, fmt.Sprintf("x%03d", extra), QItem{Status: "new", Price: r.IntN(13)}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		var untouched, gotUntouched []string
		for _, id := range want {
			if !touched[id] {
				untouched = append(untouched, id)
			}
		}
		for _, id := range got {
			if !touched[id] && id[0] != 'x' {
				gotUntouched = append(gotUntouched, id)
			}
		}
		if !slices.Equal(gotUntouched, untouched) {
			t.Fatalf("seed %d: the untouched models came as %v, want each once in order: %v", seed, gotUntouched, untouched)
		}
	})
}

// randomCond is a predicate of comparisons (of every kind, with Not, And
// and Or), which the script evaluates on the values of the model's own read;
// with member, a membership leaf may come too (the interpreter's pred then).
func randomCond(r *rand.Rand, depth int, member bool) is.Pred[QItem] {
	if depth == 0 || r.IntN(3) == 0 {
		switch r.IntN(10) {
		case 0:
			return is.Equal(iStatus, pick(r, itemStatus))
		case 1:
			return is.NotEqual(iStatus, pick(r, itemStatus))
		case 2:
			return is.Below(iPrice, r.IntN(30)-10)
		case 3:
			return is.HasPrefix(iName, pick(r, []string{"", "a", "ap", "ban", "a\x00", "é"}))
		case 4:
			return is.AtMost(iScore, pick(r, itemScores))
		case 5:
			return is.Above(iAdded, pick(r, itemTimes))
		case 6:
			return is.Equal(iHidden, r.IntN(2) == 0)
		case 7:
			if member {
				return is.Member(iTags, pick(r, itemTags))
			}
		}
		return is.Equal(iName, pick(r, itemNames))
	}
	switch r.IntN(3) {
	case 0:
		return is.Not(randomCond(r, depth-1, member))
	case 1:
		return is.And(randomCond(r, depth-1, member), randomCond(r, depth-1, member))
	}
	return is.Or(randomCond(r, depth-1, member), randomCond(r, depth-1, member))
}

// TestAQueryOfComparisonsAnswersWhatAScanGives: an indexed range and a
// predicate of comparisons (Not, And, Or, every kind) that the script
// evaluates on the values it reads with the model: every answer (Find,
// FindIDs, Page, Count) equals the filter of the stored models in Go; and
// with membership leaves among them, as the interpreter's pred answers.
func TestAQueryOfComparisonsAnswersWhatAScanGives(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		seed := testenv.Seed(t)
		r := rand.New(rand.NewPCG(uint64(seed), 5))
		m := newItems(t, b, "conds", rapyer.Options{Groups: 3})
		stored := saveRandom(t, m, r, 60)
		for i := range 60 {
			p := is.And(is.AtLeast(iPrice, -100), randomCond(r, 3, i%4 == 0))
			x := tq{q: query.Where(p), p: p}
			if i%3 == 0 {
				x.q, x.by = x.q.OrderBy(iPrice), func(i QItem) any { return i.Price }
			}
			checkQuery(t, m, x, stored, seed)
		}
	})
}
