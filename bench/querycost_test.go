package bench_test

// Server instructions of a query (issue #14, docs/performance.md "Session 6:
// queries"): the wall times of make bench swing 2x on a loaded machine, so
// the query's server work was counted in instructions, with redis-server
// run under valgrind --tool=callgrind:
//
//	valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p \
//	    redis-server --port 7392 --save '' --appendonly no &
//	RAPYER_QUERY_COST_ADDR=127.0.0.1:7392 RAPYER_QUERY_COST_N=100000 \
//	RAPYER_QUERY_COST_WHAT=find RAPYER_QUERY_COST_RUNS=3 \
//	RAPYER_QUERY_COST_PID=<valgrind's pid> go test -count=1 -v -run TestQueryServerCost ./bench/
//
// The test loads n listings once (a marker key says they are there; with
// valgrind, load them on a plain server, SAVE, and start the valgrind one on
// the dump), runs the query once to warm up, zeroes the counters
// (callgrind_control -z), runs it RUNS times and dumps them
// (callgrind_control -d): the "summary:" line of the newest dump over RUNS is
// the instructions per query. Without a PID it prints INFO commandstats'
// FCALL time instead. WHAT: find (the 1% equality, Find), ids (the same
// with FindIDs), page (a page of 20 ordered), none (a Find that finds
// nothing: the calls' fixed cost).

import (
	"context"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

func TestQueryServerCost(t *testing.T) {
	addr := os.Getenv("RAPYER_QUERY_COST_ADDR")
	if addr == "" {
		t.Skip("RAPYER_QUERY_COST_ADDR=host:port runs it (see the file's comment)")
	}
	n := envInt("RAPYER_QUERY_COST_N", 100000)
	runs := envInt("RAPYER_QUERY_COST_RUNS", 30)
	what, pid := os.Getenv("RAPYER_QUERY_COST_WHAT"), os.Getenv("RAPYER_QUERY_COST_PID")
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: time.Minute})
	defer c.Close()
	m := rapyer.MustNew[Listing](c, rapyer.Options{Prefix: fmt.Sprintf("zq%d", n),
		Indexes: []index.Spec{index.On(ListingStatus), index.On(ListingPrice)}})
	marker := fmt.Sprintf("loaded%d", n)
	if c.Exists(ctx, marker).Val() == 0 {
		loadListings(t, m, n)
		c.Set(ctx, marker, "1", 0)
	}
	page := query.Where(is.Equal(ListingStatus, "common")).OrderBy(ListingPrice).Desc().Limit(20)
	one := func() {
		switch what {
		case "page":
			if p, err := m.Page(ctx, page, ""); err != nil || len(p.Items) != 20 {
				t.Fatal(p, err)
			}
		default:
			q, want := query.Where(is.Equal(ListingStatus, "rare")), (n+99)/100
			if what == "none" {
				q, want = query.Where(is.Equal(ListingStatus, "none")), 0
			}
			k := 0
			if what == "ids" {
				k = countIDs(t, m.FindIDs(ctx, q))
			} else {
				k = countIDs(t, m.Find(ctx, q))
			}
			if k != want {
				t.Fatalf("found %d, want %d", k, want)
			}
		}
	}
	one()
	if pid != "" {
		if out, err := exec.Command("callgrind_control", "-z", pid).CombinedOutput(); err != nil {
			t.Fatal(string(out), err)
		}
		for range runs {
			one()
		}
		if out, err := exec.Command("callgrind_control", "-d", pid).CombinedOutput(); err != nil {
			t.Fatal(string(out), err)
		}
		return
	}
	c.ConfigResetStat(ctx)
	start := time.Now()
	for range runs {
		one()
	}
	el := time.Since(start) / time.Duration(runs)
	for _, l := range strings.Split(c.Info(ctx, "commandstats").Val(), "\n") {
		if strings.HasPrefix(l, "cmdstat_fcall:") {
			fmt.Println(strings.TrimSpace(l))
		}
	}
	fmt.Printf("%s at %d models: %v a query (wall)\n", what, n, el)
}

// BenchmarkQueryFind is the client's side of the 1% equality Find, on the
// server of RAPYER_QUERY_COST_ADDR loaded by TestQueryServerCost
// (RAPYER_QUERY_COST_N models): with -benchmem its allocations, with
// -cpuprofile where the client's CPU goes (the server's time is in the
// wall time too).
func BenchmarkQueryFind(b *testing.B) {
	addr := os.Getenv("RAPYER_QUERY_COST_ADDR")
	if addr == "" {
		b.Skip("RAPYER_QUERY_COST_ADDR=host:port runs it (see TestQueryServerCost)")
	}
	n := envInt("RAPYER_QUERY_COST_N", 100000)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: time.Minute})
	defer c.Close()
	m := rapyer.MustNew[Listing](c, rapyer.Options{Prefix: fmt.Sprintf("zq%d", n),
		Indexes: []index.Spec{index.On(ListingStatus), index.On(ListingPrice)}})
	q, want := query.Where(is.Equal(ListingStatus, "rare")), (n+99)/100
	b.ReportAllocs()
	for b.Loop() {
		k := 0
		for _, err := range m.Find(ctx, q) {
			if err != nil {
				b.Fatal(err)
			}
			k++
		}
		if k != want {
			b.Fatalf("found %d, want %d", k, want)
		}
	}
}

// countIDs counts what a query streams, failing on an error.
func countIDs[V any](t *testing.T, seq iter.Seq2[V, error]) int {
	k := 0
	for _, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		k++
	}
	return k
}
