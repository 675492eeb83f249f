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
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
// SaveMany in chunks of 1000, four chunks at a time (a million models load
// in minutes, not tens of minutes).
func loadListings(t *testing.T, m *rapyer.Model[Listing], n int) {
	ctx := context.Background()
	const chunk = 1000
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for from := range next {
				es := make([]rapyer.Entry[Listing], 0, chunk)
				for i := from; i < min(n, from+chunk); i++ {
					s := "common"
					if i%100 == 0 {
						s = "rare"
					}
					es = append(es, rapyer.Entry[Listing]{ID: fmt.Sprintf("l%07d", i), Value: Listing{Status: s, Price: (i * 7919) % 100000, Title: "t"}})
				}
				if err := m.SaveMany(ctx, es); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	for from := 0; from < n; from += chunk {
		next <- from
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
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

// TestQueryPerformance prints the table of queries (make bench runs it
// before the performance table): per size, the 1% equality query (Find)
// against IDs + GetMany + filter and their ratio, a page of 20 ordered
// results (wall time, and the server's time from INFO commandstats) and its
// ratio to the smallest size's, and the memory per index entry. The sides
// are timed interleaved, RAPYER_QUERY_ROUNDS rounds (default 5); each
// figure is the best of its rounds (the run least disturbed by the rest of
// the machine: on a loaded machine the medians swing 2x from run to run),
// each ratio the ratio of the bests.
// The scan side is measured up to 100k models (a million would take
// minutes a round), in database 1, whose keyspace holds only its models.
func TestQueryPerformance(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") == "" {
		t.Skip("RAPYER_BENCH=1 runs it (make bench)")
	}
	b := testenv.On(t, testenv.Server)
	ctx := context.Background()
	// loading a million models keeps the server busy: wait for its replies
	c := b.NewClient(t, func(o *redis.UniversalOptions) { o.ReadTimeout = time.Minute })
	// the models without indexes live in a database of their own: IDs walks
	// the keyspace (SCAN), which must not hold the indexed sizes' models
	plainDB := b.NewClient(t, func(o *redis.UniversalOptions) { o.ReadTimeout, o.DB = time.Minute, 1 })
	rounds := envInt("RAPYER_QUERY_ROUNDS", 5)
	type size struct {
		n           int
		idx, plain  *rapyer.Model[Listing]
		find, scan  []time.Duration
		page, pageS []time.Duration
		mem         float64
	}
	var sizes []*size
	for _, n := range querySizes() {
		z := &size{n: n}
		z.idx = rapyer.MustNew[Listing](c, rapyer.Options{Prefix: fmt.Sprintf("%sq%d", b.Prefix, n),
			Indexes: []index.Spec{index.On(ListingStatus), index.On(ListingPrice)}})
		loadListings(t, z.idx, n)
		if n <= 100000 {
			z.plain = rapyer.MustNew[Listing](plainDB, rapyer.Options{Prefix: fmt.Sprintf("%sp%d", b.Prefix, n)})
			loadListings(t, z.plain, n)
		}
		z.mem = indexEntryBytes(t, c, z.idx, n)
		sizes = append(sizes, z)
	}
	rare := query.Where(is.Equal(ListingStatus, "rare"))
	page := query.Where(is.Equal(ListingStatus, "common")).OrderBy(ListingPrice).Desc().Limit(20)
	find := func(z *size) {
		k := 0
		for _, err := range z.idx.Find(ctx, rare) {
			if err != nil {
				t.Fatal(err)
			}
			k++
		}
		if k != (z.n+99)/100 {
			t.Fatalf("found %d", k)
		}
	}
	onePage := func(z *size) {
		if p, err := z.idx.Page(ctx, page, ""); err != nil || len(p.Items) != 20 {
			t.Fatal(p, err)
		}
	}
	for _, z := range sizes {
		find(z) // warm: the library loaded, the connections made
		onePage(z)
	}
	for range rounds {
		for _, z := range sizes {
			tf := medianOf(3, func() { find(z) })
			z.find = append(z.find, tf)
			if z.plain != nil {
				ts := medianOf(1, func() { scanFilter(t, z.plain, z.n) })
				z.scan = append(z.scan, ts)
			}
			before := fcallUsec(t, c)
			z.page = append(z.page, medianOf(21, func() { onePage(z) }))
			z.pageS = append(z.pageS, time.Duration((fcallUsec(t, c)-before)/21*1000))
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "Queries (#14): %d rounds, interleaved; each figure the best of its rounds, each ratio the ratio of the bests.\n\n", rounds)
	out.WriteString("| models | 1% equality Find | IDs+GetMany+filter | ratio | page of 20 ordered | its server time | server time / smallest size's | bytes per index entry |\n")
	out.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, z := range sizes {
		scan, ratio := "not run", "-"
		if z.plain != nil {
			scan, ratio = fmtDur(slices.Min(z.scan)), fmt.Sprintf("%.0fx", float64(slices.Min(z.scan))/float64(slices.Min(z.find)))
		}
		fmt.Fprintf(&out, "| %d | %s | %s | %s | %s | %s | %.2f | %.0f |\n", z.n, fmtDur(slices.Min(z.find)), scan, ratio,
			fmtDur(slices.Min(z.page)), fmtDur(slices.Min(z.pageS)), float64(slices.Min(z.pageS))/float64(slices.Min(sizes[0].pageS)), z.mem)
	}
	fmt.Println()
	fmt.Print(out.String())
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

// fcallUsec is the server's total time in FCALL so far (INFO
// commandstats), in microseconds.
func fcallUsec(t *testing.T, c redis.UniversalClient) int64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(info, "\n") {
		if !strings.HasPrefix(l, "cmdstat_fcall:") {
			continue
		}
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(l, "cmdstat_fcall:")), ",") {
			if v, ok := strings.CutPrefix(kv, "usec="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
	}
	return 0
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
func indexEntryBytes(t *testing.T, c redis.UniversalClient, m *rapyer.Model[Listing], n int) float64 {
	ctx := context.Background()
	total := int64(0)
	for g := range 16 {
		base := m.Prefix() + ":{" + m.Prefix() + "#" + strconv.Itoa(g) + "}"
		for _, k := range []string{base + ":@i:status", base + ":@i:price"} {
			u, err := c.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				t.Fatal(err)
			}
			total += u
		}
	}
	return float64(total) / float64(2*n)
}
