// Package bench_test measures rapyer against hand-written go-redis doing the
// same work, on a private redis-server started by the test harness.
//
// Two ways in:
//
//	make bench                               # the table of ratios (TestPerformanceTable)
//	go test -run '^$' -bench . -benchmem ./bench/   # the raw Go benchmarks, for profiling
//
// TestPerformanceTable runs only with RAPYER_BENCH=1: it times each side of
// every comparison with testing.Benchmark, interleaved (A, B, B, A, ...)
// over several rounds, and prints medians and the median of the per-round
// ratios, so that drift of a shared machine hits both sides alike. Nothing
// here asserts a time: timings never fail a test run.
package bench_test

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/faultproxy"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func rapyerToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// scenarios are the comparisons of the issue, in the order of the table.
// The first side of each is the library, the last its hand-written twin.
var scenarios = []scenario{
	{name: "Batch3", workers: 1, sides: []side{{"rapyer", batch3Rapyer}, {"goredis", batch3Hand}}},
	{name: "Withdraw", workers: 1, sides: []side{{"rapyer", withdrawRapyer}, {"goredis", withdrawHand}}},
	{name: "Withdraw8", workers: 8, sides: []side{{"rapyer", withdrawRapyer}, {"goredis", withdrawHand}}},
	{name: "Get", workers: 1, sides: []side{{"rapyer", getRapyer}, {"goredis", getHandSide}}},
	{name: "GetMulti", workers: 1, sides: []side{{"rapyer", getRapyer}, {"goredis-multi", getHandMulti}}},
	{name: "Save", workers: 1, sides: []side{{"rapyer", saveRapyer}, {"goredis", saveHandSide}}},
	{name: "Counter8", workers: 8, sides: []side{
		{"atomic", counterAtomic}, {"optimistic", counterOptimistic}, {"lock", counterLock}, {"goredis", counterHand}}},
	{name: "Lock", workers: 1, sides: []side{{"rapyer", lockRapyer}, {"goredis", lockHand}}},
}

// growth are the scenarios of goal 7: batch size and list length.
var growth = []scenario{
	{name: "BatchOps1", workers: 1, sides: []side{{"rapyer", growthRapyer(1)}, {"goredis", growthHand(1)}}},
	{name: "BatchOps10", workers: 1, sides: []side{{"rapyer", growthRapyer(10)}, {"goredis", growthHand(10)}}},
	{name: "BatchOps100", workers: 1, sides: []side{{"rapyer", growthRapyer(100)}, {"goredis", growthHand(100)}}},
	{name: "BatchOps1000", workers: 1, sides: []side{{"rapyer", growthRapyer(1000)}, {"goredis", growthHand(1000)}}},
	{name: "ListLen10", workers: 1, sides: []side{{"rapyer", listRapyer(10)}, {"goredis", listHand(10)}}},
	{name: "ListLen100", workers: 1, sides: []side{{"rapyer", listRapyer(100)}, {"goredis", listHand(100)}}},
	{name: "ListLen1000", workers: 1, sides: []side{{"rapyer", listRapyer(1000)}, {"goredis", listHand(1000)}}},
	{name: "ListLen10000", workers: 1, sides: []side{{"rapyer", listRapyer(10000)}, {"goredis", listHand(10000)}}},
	{name: "ListLen100000", workers: 1, sides: []side{{"rapyer", listRapyer(100000)}, {"goredis", listHand(100000)}}},
}

// networked are the one-goroutine comparisons again, with a network's
// round trip instead of the loopback's (see delayedEnv).
var networked = []string{"Batch3", "Withdraw", "Get", "Save", "Lock"}

// netDelay is the proxy's delay each way: a round trip of about 200us more,
// as between two machines of one data centre.
const netDelay = 100 * time.Microsecond

// loop runs op b.N times, from workers goroutines when workers > 1.
func loop(b *testing.B, op func() error, workers int) {
	b.ResetTimer()
	if workers <= 1 {
		for range b.N {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) && !failed.Load() {
				if err := op(); err != nil {
					failed.Store(true)
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// newEnv starts a private redis-server for tb.
func newEnv(tb testing.TB) *env {
	srv := testenv.StartServer(tb)
	return &env{ctx: tb.Context(), rdb: srv.Client(tb), srv: srv}
}

// delayedEnv is e's server behind a proxy that holds every request and
// every reply for delay: each round trip costs 2*delay more, as on a
// network instead of the loopback.
func delayedEnv(tb testing.TB, e *env, delay time.Duration) *env {
	p := faultproxy.Start(tb, e.srv.Addr())
	p.SetDelay(delay)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr()})
	tb.Cleanup(func() { _ = rdb.Close() })
	return &env{ctx: tb.Context(), rdb: rdb, srv: e.srv}
}

// runGo is the body of the Benchmark functions: one sub-benchmark per side.
func runGo(b *testing.B, sc scenario) {
	e := newEnv(b)
	for _, s := range sc.sides {
		p := s.prepare(b, e)
		warm(b, p)
		b.Run(s.name, func(b *testing.B) {
			if p.reset != nil {
				p.reset()
			}
			b.ReportAllocs()
			loop(b, p.op, sc.workers)
			if p.metrics != nil {
				for k, v := range p.metrics() {
					b.ReportMetric(v, k)
				}
			}
		})
	}
}

// warm runs an op a few times: connections open, scripts cached.
func warm(tb testing.TB, p prepared) {
	tb.Helper()
	for range 20 {
		if err := p.op(); err != nil {
			tb.Fatal(err)
		}
	}
}

func find(list []scenario, name string) scenario {
	for _, s := range list {
		if s.name == name {
			return s
		}
	}
	panic("no scenario " + name)
}

// BenchmarkBatch3: Append + Incr + SetItem on one model, against TxPipelined
// RPUSH + HINCRBY + HSET.
func BenchmarkBatch3(b *testing.B) { runGo(b, find(scenarios, "Batch3")) }

// BenchmarkWithdraw: AtLeast + Decr against a WATCH / GET / MULTI loop.
func BenchmarkWithdraw(b *testing.B) { runGo(b, find(scenarios, "Withdraw")) }

// BenchmarkWithdraw8: the same from eight goroutines on one account.
func BenchmarkWithdraw8(b *testing.B) { runGo(b, find(scenarios, "Withdraw8")) }

// BenchmarkGet: Model.Get of a Profile against HGETALL / LRANGE / HGETALL.
func BenchmarkGet(b *testing.B) { runGo(b, find(scenarios, "Get")) }

// BenchmarkGetMulti: Model.Get against the same three reads in MULTI/EXEC.
func BenchmarkGetMulti(b *testing.B) { runGo(b, find(scenarios, "GetMulti")) }

// BenchmarkSave: Model.Save of a Profile against MULTI DEL / HSET / RPUSH / HSET.
func BenchmarkSave(b *testing.B) { runGo(b, find(scenarios, "Save")) }

// BenchmarkCounter8: eight goroutines on one counter, by an atomic Incr, an
// optimistic update, a model lock, and a plain HINCRBY.
func BenchmarkCounter8(b *testing.B) { runGo(b, find(scenarios, "Counter8")) }

// BenchmarkLock: acquire + release against SET NX PX + token-checked DEL.
func BenchmarkLock(b *testing.B) { runGo(b, find(scenarios, "Lock")) }

// BenchmarkGrowth: batches of 1 to 1000 ops, and a list op on lists of 10 to
// 100000 elements.
func BenchmarkGrowth(b *testing.B) {
	for _, sc := range growth {
		b.Run(sc.name, func(b *testing.B) { runGo(b, sc) })
	}
}

// TestScenariosRun runs every side a few times, untimed, so that make test
// keeps the benchmarks working (on the real server; skipped without one),
// then runs the side's check, when it has one: the peers' sides prove they
// did the work they are compared on (the saved hash, the released lock).
func TestScenariosRun(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	e := newEnv(t)
	for _, list := range [][]scenario{scenarios, growth, peerList()} {
		for _, sc := range list {
			for _, s := range sc.sides {
				t.Run(sc.name+"/"+s.name, func(t *testing.T) {
					p := s.prepare(t, e)
					var wg sync.WaitGroup
					for range max(sc.workers, 1) {
						wg.Go(func() {
							for range 3 {
								if err := p.op(); err != nil {
									t.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
					if p.check != nil {
						if err := p.check(); err != nil {
							t.Error(err)
						}
					}
				})
			}
		}
	}
}
