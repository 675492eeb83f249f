package bench_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestPerformanceTable prints the table of docs/performance.md. It runs only
// with RAPYER_BENCH=1 (make bench). RAPYER_BENCH_ROUNDS (default 7) and
// RAPYER_BENCH_TIME (default 250ms, the -benchtime of each timed run) trade
// time for precision; RAPYER_BENCH_OUT names a file that gets the markdown too;
// RAPYER_BENCH_SVG where the chart of the peer table goes (default
// docs/performance.svg); RAPYER_BENCH_AWAKE=1 keeps a CPU busy (keepAwake).
func TestPerformanceTable(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") != "1" {
		t.Skip("set RAPYER_BENCH=1 (make bench) to run the performance table")
	}
	rounds := envInt("RAPYER_BENCH_ROUNDS", 7)
	benchTime := setBenchTime(t)
	start := time.Now()
	mode := benchMode(t)
	e := newEnv(t)
	var out strings.Builder
	fmt.Fprintf(&out, "Machine: %s\n\n", machine(e))
	fmt.Fprintf(&out, "Mode: %s\n\n", mode)
	fmt.Fprintf(&out, "Rounds: %d, interleaved; each timed run: -benchtime %s; figures are medians over the rounds, ratios the median of the per-round ratios.\n\n", rounds, benchTime)

	main := measureAll(t, e, scenarios, rounds)
	out.WriteString(goalTable(main))
	out.WriteString("\n")
	out.WriteString(detailTable(main))
	out.WriteString("\n")

	out.WriteString(serverTable(t, e))
	out.WriteString("\n")

	peers := measureAll(t, e, peerList(), rounds)
	out.WriteString(peerTable(peers, peerServer(t, e)))
	fmt.Fprintf(&out, "\nChart: %s\n\n", writePeerChart(t, peers, mode))

	var onNet []scenario
	for _, name := range networked {
		onNet = append(onNet, find(scenarios, name))
	}
	ne := delayedEnv(t, e, netDelay)
	nm := measureAll(t, ne, onNet, max(rounds-2, 3))
	out.WriteString(networkTable(nm, onNet, pingRTT(t, ne), pingRTT(t, e)))
	out.WriteString("\n")

	gr := measureAll(t, e, growth, max(rounds-2, 3))
	out.WriteString(growthTable(gr))
	out.WriteString("\n")

	out.WriteString(stallTable(t))
	out.WriteString("\n")

	out.WriteString(memoryTable(t))
	out.WriteString("\n")
	out.WriteString(modelMemoryTable(t, memModels))
	out.WriteString("\n")
	out.WriteString(recordMemoryTable(t))
	fmt.Fprintf(&out, "\nTotal time: %s\n", time.Since(start).Round(time.Second))

	fmt.Println()
	fmt.Print(out.String())
	if path := os.Getenv("RAPYER_BENCH_OUT"); path != "" {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// setBenchTime sets -test.benchtime from RAPYER_BENCH_TIME (default 250ms)
// and returns it.
func setBenchTime(t *testing.T) string {
	benchTime := os.Getenv("RAPYER_BENCH_TIME")
	if benchTime == "" {
		benchTime = "250ms"
	}
	if err := flag.Set("test.benchtime", benchTime); err != nil {
		t.Fatal(err)
	}
	return benchTime
}

func envInt(name string, def int) int {
	if s := os.Getenv(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// result is one side's runs over the rounds.
type result struct {
	ns, allocs, bytes []float64
	server            []float64 // server CPU ns per op
	metrics           map[string][]float64
	// paired holds, for a peer side of a paired scenario, its time over
	// the first side's, op by op (pairedTimes), one per round
	paired []float64
}

// measured maps "Scenario/side" to its runs.
type measured map[string]*result

// live is a side of a scenario being measured.
type live struct {
	key  string
	p    prepared
	w    int
	peer bool // a side after the first: not ours
}

// measureAll times every side of every scenario, rounds times, alternating
// the order of the sides from one round to the next.
func measureAll(t *testing.T, e *env, list []scenario, rounds int) measured {
	m := measured{}
	var byScenario [][]live
	paired := map[string]bool{}
	for _, sc := range list {
		var ls []live
		for i, s := range sc.sides {
			p := s.prepare(t, e)
			warm(t, p)
			key := sc.name + "/" + s.name
			m[key] = &result{metrics: map[string][]float64{}}
			ls = append(ls, live{key, p, sc.workers, i > 0})
		}
		byScenario = append(byScenario, ls)
		paired[ls[0].key] = sc.paired && sc.workers == 1
	}
	failed := map[string]bool{}
	for r := range rounds {
		for _, ls := range byScenario {
			order := slices.Clone(ls)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for _, l := range order {
				if failed[l.key] {
					continue
				}
				if l.p.reset != nil {
					l.p.reset()
				}
				runtime.GC()
				// The server's CPU over the last, timed, run of the
				// benchmark: what the server spent per op, which waiting
				// for a CPU of a busy machine inflates less than wall time.
				// (The client's CPU says little: Go's scheduler spins
				// while it waits for a reply.)
				var server float64
				br := testing.Benchmark(func(b *testing.B) {
					s0 := serverCPU(t, e)
					b.ResetTimer()
					loop(b, l.p.op, l.w)
					b.StopTimer()
					server = (serverCPU(t, e) - s0) / float64(b.N)
				})
				if br.N == 0 && !l.peer {
					t.Fatalf("%s failed", l.key)
				}
				if br.N == 0 {
					// A peer that fails (rueidislock's waiters were seen to
					// stall on a loaded machine) leaves its rounds so far;
					// the table goes on without it.
					t.Logf("%s failed in round %d: its ratios count the rounds before", l.key, r+1)
					failed[l.key] = true
					continue
				}
				res := m[l.key]
				res.server = append(res.server, server)
				res.ns = append(res.ns, float64(br.NsPerOp()))
				res.allocs = append(res.allocs, float64(br.AllocsPerOp()))
				res.bytes = append(res.bytes, float64(br.AllocedBytesPerOp()))
				if l.p.metrics != nil {
					for k, v := range l.p.metrics() {
						res.metrics[k] = append(res.metrics[k], v)
					}
				}
			}
			if paired[ls[0].key] {
				pairRound(t, m, ls[0], ls[1:], failed)
			}
		}
	}
	return m
}

// pairRound times each peer side of a paired scenario against ours,
// alternating op by op (pairedTimes) for about the benchmark time's worth of
// ours's ops, and adds the peer's time over ours to its paired ratios. A
// failing peer is left out from then on, as in measureAll.
func pairRound(t *testing.T, m measured, ours live, peers []live, failed map[string]bool) {
	d, err := time.ParseDuration(flag.Lookup("test.benchtime").Value.String())
	ns := m[ours.key].ns
	if err != nil || len(ns) == 0 {
		return // a count of runs (-benchtime 100x) or no run of ours
	}
	n := max(int(float64(d)/ns[len(ns)-1]), 10)
	for _, l := range peers {
		if failed[l.key] {
			continue
		}
		for _, q := range []prepared{ours.p, l.p} {
			if q.reset != nil {
				q.reset()
			}
		}
		runtime.GC()
		ta, tb, err := pairedTimes(ours.p, l.p, n)
		if err != nil {
			t.Logf("%s failed paired in round %d: %v", l.key, len(ns), err)
			failed[l.key] = true
			continue
		}
		m[l.key].paired = append(m[l.key].paired, float64(tb)/float64(ta))
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is the median over rounds of a's time over b's.
func (m measured) ratio(a, b string) float64 {
	ra, rb := m[a], m[b]
	var rs []float64
	for i := range min(len(ra.ns), len(rb.ns)) {
		rs = append(rs, ra.ns[i]/rb.ns[i])
	}
	return median(rs)
}

func (m measured) ns(k string) float64     { return median(m[k].ns) }
func (m measured) server(k string) float64 { return median(m[k].server) }

// serverRatio is the median over rounds of a's server CPU over b's.
func (m measured) serverRatio(a, b string) float64 {
	ra, rb := m[a], m[b]
	var rs []float64
	for i := range min(len(ra.server), len(rb.server)) {
		rs = append(rs, ra.server[i]/rb.server[i])
	}
	return median(rs)
}

// serverCPU is the user and system CPU time of the redis-server, in ns.
func serverCPU(t *testing.T, e *env) float64 {
	info, err := e.rdb.Info(e.ctx, "cpu").Result()
	must(t, err)
	u, _ := strconv.ParseFloat(infoField(info, "used_cpu_user"), 64)
	s, _ := strconv.ParseFloat(infoField(info, "used_cpu_sys"), 64)
	return (u + s) * 1e9
}
func (m measured) allocs(k string) float64 { return median(m[k].allocs) }
func (m measured) bytes(k string) float64  { return median(m[k].bytes) }

// goal is one line of the goal table.
type goal struct {
	n, what        string
	lib, twin      string
	value          func(m measured) float64
	unit, target   string
	met            func(v float64) bool
	libFig, twinFg func(m measured) string
}

func timeFig(k string) func(m measured) string {
	return func(m measured) string { return fmtNs(m.ns(k)) }
}

func rateFig(k string) func(m measured) string {
	return func(m measured) string { return fmt.Sprintf("%.0f/s", 1e9/m.ns(k)) }
}

func allocFig(k string) func(m measured) string {
	return func(m measured) string { return fmt.Sprintf("%.0f allocs, %.0f B", m.allocs(k), m.bytes(k)) }
}

func goals() []goal {
	atMost := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	atLeast := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	timeRatio := func(a, b string) func(m measured) float64 {
		return func(m measured) float64 { return m.ratio(a, b) }
	}
	return []goal{
		{"1", "atomic batch of 3 ops vs TxPipelined", "Batch3/rapyer", "Batch3/goredis",
			timeRatio("Batch3/rapyer", "Batch3/goredis"), "time", "<= 1.10x", atMost(1.10),
			timeFig("Batch3/rapyer"), timeFig("Batch3/goredis")},
		{"2", "conditional withdrawal vs WATCH/GET/MULTI", "Withdraw/rapyer", "Withdraw/goredis",
			timeRatio("Withdraw/rapyer", "Withdraw/goredis"), "time", "<= 0.50x", atMost(0.5),
			timeFig("Withdraw/rapyer"), timeFig("Withdraw/goredis")},
		{"2", "withdrawal, 8 goroutines on one account", "Withdraw8/rapyer", "Withdraw8/goredis",
			func(m measured) float64 { return 1 / m.ratio("Withdraw8/rapyer", "Withdraw8/goredis") },
			"throughput", ">= 3x", atLeast(3),
			rateFig("Withdraw8/rapyer"), rateFig("Withdraw8/goredis")},
		{"3", "Get (5 scalars, 20-list, 20-map) vs pipeline", "Get/rapyer", "Get/goredis",
			timeRatio("Get/rapyer", "Get/goredis"), "time", "<= 1.15x", atMost(1.15),
			timeFig("Get/rapyer"), timeFig("Get/goredis")},
		{"3", "Save of the same vs MULTI DEL/HSET/RPUSH/HSET", "Save/rapyer", "Save/goredis",
			timeRatio("Save/rapyer", "Save/goredis"), "time", "<= 1.15x", atMost(1.15),
			timeFig("Save/rapyer"), timeFig("Save/goredis")},
		{"5", "lock acquire + release vs SET NX PX + checked DEL", "Lock/rapyer", "Lock/goredis",
			timeRatio("Lock/rapyer", "Lock/goredis"), "time", "<= 1.10x", atMost(1.10),
			timeFig("Lock/rapyer"), timeFig("Lock/goredis")},
		{"6", "allocations of the 3-op batch", "Batch3/rapyer", "Batch3/goredis",
			func(m measured) float64 { return m.allocs("Batch3/rapyer") / m.allocs("Batch3/goredis") },
			"allocs", "<= 2x", atMost(2),
			allocFig("Batch3/rapyer"), allocFig("Batch3/goredis")},
	}
}

func goalTable(m measured) string {
	var sb strings.Builder
	sb.WriteString("| # | scenario | rapyer | go-redis | ratio | goal | met | server CPU ratio |\n|---|---|---:|---:|---:|---|---|---:|\n")
	for _, g := range goals() {
		v := g.value(m)
		met := "no"
		if g.met(v) {
			met = "yes"
		}
		cpu := "-"
		if g.unit != "allocs" {
			cpu = fmt.Sprintf("%.2fx", m.serverRatio(g.lib, g.twin))
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %.2fx %s | %s | %s | %s |\n", g.n, g.what, g.libFig(m), g.twinFg(m), v, g.unit, g.target, met, cpu)
	}
	// Scenario 4 has no goal: throughput of each way, and the retries.
	sb.WriteString("\n| 4 | 8 goroutines, one counter | ops/s | vs HINCRBY | allocs/op | retries per success |\n|---|---|---:|---:|---:|---:|\n")
	for _, s := range find(scenarios, "Counter8").sides {
		k := "Counter8/" + s.name
		retries := "-"
		if r := m[k].metrics["retries/success"]; len(r) > 0 {
			retries = fmt.Sprintf("%.2f", median(r))
		}
		fmt.Fprintf(&sb, "| 4 | %s | %.0f | %.2fx | %.0f | %s |\n", s.name, 1e9/m.ns(k), m.ratio("Counter8/goredis", k), m.allocs(k), retries)
	}
	return sb.String()
}

func detailTable(m measured) string {
	var sb strings.Builder
	sb.WriteString("| benchmark | ns/op | B/op | allocs/op | server CPU ns/op | time ratio | server CPU ratio | allocs ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, sc := range scenarios {
		twin := sc.name + "/" + sc.sides[len(sc.sides)-1].name
		for _, s := range sc.sides {
			k := sc.name + "/" + s.name
			fmt.Fprintf(&sb, "| %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f |\n", k, m.ns(k), m.bytes(k), m.allocs(k),
				m.server(k), m.ratio(k, twin), m.serverRatio(k, twin), m.allocs(k)/m.allocs(twin))
		}
	}
	return sb.String()
}

// pingRTT is the median time of a PING.
func pingRTT(t *testing.T, e *env) time.Duration {
	var ds []float64
	for range 200 {
		t0 := time.Now()
		must(t, e.rdb.Ping(e.ctx).Err())
		ds = append(ds, float64(time.Since(t0)))
	}
	return time.Duration(median(ds))
}

func networkTable(m measured, list []scenario, rtt, loopback time.Duration) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| net | through a proxy delaying each request and reply by %s: PING takes %s (loopback: %s) | rapyer | go-redis | ratio | goal |\n|---|---|---:|---:|---:|---|\n",
		netDelay, rtt.Round(10*time.Microsecond), loopback.Round(time.Microsecond))
	targets := map[string]string{}
	for _, g := range goals() {
		if g.unit == "time" {
			targets[g.lib] = g.target
		}
	}
	for _, sc := range list {
		lib, twin := sc.name+"/"+sc.sides[0].name, sc.name+"/"+sc.sides[len(sc.sides)-1].name
		fmt.Fprintf(&sb, "| net | %s | %s | %s | %.2fx | %s |\n", sc.name, fmtNs(m.ns(lib)), fmtNs(m.ns(twin)), m.ratio(lib, twin), targets[lib])
	}
	return sb.String()
}

func growthTable(m measured) string {
	var sb strings.Builder
	sb.WriteString("| 7 | size | rapyer ns/batch | rapyer ns/op | go-redis ns/op | ratio | rapyer server CPU ns/op | go-redis server CPU ns/op | rapyer allocs/op |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, sc := range growth {
		lib, twin := sc.name+"/rapyer", sc.name+"/goredis"
		ops, what := 2.0, "list of "
		size := strings.TrimPrefix(sc.name, "ListLen")
		if n, ok := strings.CutPrefix(sc.name, "BatchOps"); ok {
			f, _ := strconv.ParseFloat(n, 64)
			ops, what, size = f, "batch of ", n+" ops"
		}
		fmt.Fprintf(&sb, "| 7 | %s%s | %.0f | %.0f | %.0f | %.2fx | %.0f | %.0f | %.1f |\n", what, size, m.ns(lib), m.ns(lib)/ops, m.ns(twin)/ops,
			m.ratio(lib, twin), m.server(lib)/ops, m.server(twin)/ops, m.allocs(lib)/ops)
	}
	return sb.String()
}

func fmtNs(ns float64) string {
	return time.Duration(ns).Round(100 * time.Nanosecond).String()
}

// machine describes what the figures were made on.
func machine(e *env) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	ver := "?"
	if info, err := e.rdb.Info(e.ctx, "server").Result(); err == nil {
		ver = infoField(info, "redis_version")
	}
	return fmt.Sprintf("%d CPUs (%s), %s/%s, %s, redis-server %s on 127.0.0.1, go-redis v9 default options",
		runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH, runtime.Version(), ver)
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// --- 8. memory -----------------------------------------------------------------

const memModels = 10000

// memoryTable stores memModels profiles, first as rapyer models then as one
// JSON string each, on a fresh server, and compares INFO memory.
func memoryTable(t *testing.T) string {
	e := newEnv(t)
	used := func() float64 {
		info, err := e.rdb.Info(e.ctx, "memory").Result()
		must(t, err)
		n, err := strconv.ParseFloat(infoField(info, "used_memory"), 64)
		must(t, err)
		return n
	}
	p := newProfile()
	// rapyer
	m := rapyer.MustNew[Profile](e.rdb, rapyer.Options{Prefix: "profile"})
	base := used()
	for i := range memModels {
		must(t, m.Save(e.ctx, "p"+strconv.Itoa(i), p))
	}
	withRecords := used() - base
	// The batch records expire after tx.DefaultRecord; drop them now to see
	// the models alone.
	var records int
	iter := e.rdb.Scan(e.ctx, 0, "tx{*", 1000).Iterator()
	var batch []string
	for iter.Next(e.ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			must(t, e.rdb.Unlink(e.ctx, batch...).Err())
			records += len(batch)
			batch = batch[:0]
		}
	}
	must(t, iter.Err())
	if len(batch) > 0 {
		must(t, e.rdb.Unlink(e.ctx, batch...).Err())
		records += len(batch)
	}
	models := used() - base
	keysPerModel := float64(e.rdb.DBSize(e.ctx).Val()) / memModels
	must(t, e.rdb.FlushAll(e.ctx).Err())

	// one JSON string per model
	js, err := json.Marshal(p)
	must(t, err)
	base = used()
	for i := 0; i < memModels; i += 500 {
		_, err := e.rdb.Pipelined(e.ctx, func(pipe redis.Pipeliner) error {
			for j := i; j < i+500; j++ {
				pipe.Set(e.ctx, "json:{p"+strconv.Itoa(j)+"}", js, 0)
			}
			return nil
		})
		must(t, err)
	}
	asJSON := used() - base

	var sb strings.Builder
	sb.WriteString("| 8 | 10000 models (5 scalars, 20-list, 20-map) | bytes/model | vs JSON |\n|---|---|---:|---:|\n")
	fmt.Fprintf(&sb, "| 8 | rapyer, %.0f keys per model | %.0f | %.2fx |\n", keysPerModel, models/memModels, models/asJSON)
	fmt.Fprintf(&sb, "| 8 | rapyer, with the batch records of the saves (%d, live for %v) | %.0f | %.2fx |\n", records, tx.DefaultRecord, withRecords/memModels, withRecords/asJSON)
	fmt.Fprintf(&sb, "| 8 | one JSON string per model (%d bytes of JSON) | %.0f | 1.00x |\n", len(js), asJSON/memModels)
	return sb.String()
}
