package bench_test

// Queries (issue #14, "make bench prints"): an equality query that selects
// 1% of the models against today's IDs + GetMany + a filter in Go, a page
// of 20 ordered results at several sizes, and the memory of an index
// entry. Run with RAPYER_BENCH=1 (make bench runs it);
// RAPYER_QUERY_SIZES=10000,100000,1000000 sets the sizes (default
// 10000,100000).

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// Listing is the model of the query scenarios.
type Listing struct {
	Status string
	Price  int
	Title  string
}

var (
	ListingStatus = lens.Of(func(l *Listing) *string { return &l.Status })
	ListingPrice  = lens.Of(func(l *Listing) *int { return &l.Price })
)

// loadListings stores n listings, one in 100 of them "rare", with
// SaveMany in chunks.
func loadListings(t *testing.T, m *rapyer.Model[Listing], n int) {
	ctx := context.Background()
	for from := 0; from < n; from += 1000 {
		var es []rapyer.Entry[Listing]
		for i := from; i < min(n, from+1000); i++ {
			s := "common"
			if i%100 == 0 {
				s = "rare"
			}
			es = append(es, rapyer.Entry[Listing]{ID: fmt.Sprintf("l%07d", i), Value: Listing{Status: s, Price: (i * 7919) % 100000, Title: "t"}})
		}
		if err := m.SaveMany(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
}

// medianOf times f runs times and returns the median.
func medianOf(runs int, f func()) time.Duration {
	ds := make([]time.Duration, runs)
	for i := range ds {
		start := time.Now()
		f()
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[runs/2]
}

func querySizes() []int {
	s := os.Getenv("RAPYER_QUERY_SIZES")
	if s == "" {
		s = "10000,100000"
	}
	var out []int
	for _, x := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// TestQueryPerformance prints, per size: the 1% equality query (Find)
// against IDs + GetMany + filter, a page of 20 ordered results, and the
// memory per index entry.
func TestQueryPerformance(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") == "" {
		t.Skip("RAPYER_BENCH=1 runs it (make bench)")
	}
	b := testenv.On(t, testenv.Server)
	ctx := context.Background()
	for _, n := range querySizes() {
		idx := rapyer.MustNew[Listing](b.Client, rapyer.Options{Prefix: fmt.Sprintf("%sq%d", b.Prefix, n),
			Indexes: []index.Spec{index.On(ListingStatus), index.On(ListingPrice)}})
		plain := rapyer.MustNew[Listing](b.Client, rapyer.Options{Prefix: fmt.Sprintf("%sp%d", b.Prefix, n)})
		loadListings(t, idx, n)
		rare := query.Where(is.Equal(ListingStatus, "rare"))
		tq := medianOf(5, func() {
			k := 0
			for _, err := range idx.Find(ctx, rare) {
				if err != nil {
					t.Fatal(err)
				}
				k++
			}
			if k != (n+99)/100 {
				t.Fatalf("found %d", k)
			}
		})
		page := query.Where(is.Equal(ListingStatus, "common")).OrderBy(ListingPrice).Desc().Limit(20)
		tp := medianOf(21, func() {
			if p, err := idx.Page(ctx, page, ""); err != nil || len(p.Items) != 20 {
				t.Fatal(p, err)
			}
		})
		mem := indexEntryBytes(t, b, idx, n)
		line := fmt.Sprintf("QUERY n=%d: 1%% equality Find %v; page of 20 ordered %v; %.0f B per index entry", n, tq, tp, mem)
		if n <= 100000 {
			loadListings(t, plain, n)
			ts := medianOf(3, func() { scanFilter(t, plain, n) })
			line += fmt.Sprintf("; IDs+GetMany+filter %v (%.0fx)", ts, float64(ts)/float64(tq))
		}
		fmt.Println(line)
	}
}

// scanFilter is the query without an index: every id by SCAN, every model
// read, filtered in Go.
func scanFilter(t *testing.T, m *rapyer.Model[Listing], n int) {
	ctx := context.Background()
	var ids []string
	for id, err := range m.IDs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	k := 0
	for from := 0; from < len(ids); from += 1000 {
		found, _, err := m.GetMany(ctx, ids[from:min(len(ids), from+1000)])
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range found {
			if e.Value.Status == "rare" {
				k++
			}
		}
	}
	if k != (n+99)/100 {
		t.Fatalf("scan found %d", k)
	}
}

// indexEntryBytes is MEMORY USAGE of every group's status and price
// indexes over their entries.
func indexEntryBytes(t *testing.T, b *testenv.Backend, m *rapyer.Model[Listing], n int) float64 {
	ctx := context.Background()
	total := int64(0)
	for g := range 16 {
		base := m.Prefix() + ":{" + m.Prefix() + "#" + strconv.Itoa(g) + "}"
		for _, k := range []string{base + ":@i:status", base + ":@i:price"} {
			u, err := b.Client.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				t.Fatal(err)
			}
			total += u
		}
	}
	return float64(total) / float64(2*n)
}
