package rapyer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

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
		for i := range 30 {
			if err := m.Expire(ctx, fmt.Sprintf("it%03d", i), 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		if b.Mini != nil {
			b.Mini.SetTime(time.Now().Add(time.Second))
			b.Mini.FastForward(time.Second)
		} else {
			time.Sleep(200 * time.Millisecond)
		}
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
