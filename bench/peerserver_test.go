package bench_test

// Server time per op of every side of the peer table, as Redis itself
// records it (INFO commandstats), without the network system calls that the
// server CPU of the timed runs includes: issue #13's goals on server time
// ("server time per Save at most 1.5x om's twin", "a 3-op guarded batch at
// most 1.5x a hand-written Lua function") are in these figures.
//
// Commands that scripts and transactions run are counted twice by
// commandstats: on their own line, and inside the EVALSHA, FCALL or EXEC
// that ran them. So only the commands a client sent count: a go-redis hook
// records their names (of a MULTI ... EXEC, only MULTI and EXEC, whose time
// holds the queued commands'), and the sides on a client of their own
// (rueidislock) name theirs in prepared.commands.

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// peerServerOps is how many ops each side runs in a round (a side at 50
// µs a call runs a tenth of a second, at 1 µs of server time a call 1,000
// µs of commandstats: rounds of 200 swung by a quarter); peerServerRounds
// how many rounds make the medians. RAPYER_BENCH_SERVER_OPS and
// RAPYER_BENCH_SERVER_ROUNDS change them.
const (
	peerServerOps    = 2000
	peerServerRounds = 7
)

// sent records the names of the commands a client sends.
type sent struct {
	mu    sync.Mutex
	names map[string]bool
}

func (s *sent) add(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		s.names[strings.ToLower(n)] = true
	}
}

func (s *sent) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.names))
	for n := range s.names {
		out = append(out, n)
	}
	s.names = map[string]bool{}
	return out
}

func (s *sent) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *sent) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		s.add(cmd.Name())
		return next(ctx, cmd)
	}
}

func (s *sent) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && strings.EqualFold(cmds[0].Name(), "multi") {
			s.add("multi", "exec")
		} else {
			for _, c := range cmds {
				s.add(c.Name())
			}
		}
		return next(ctx, cmds)
	}
}

// usecTotal is the summed usec of the named commands in INFO commandstats.
func usecTotal(t *testing.T, e *env, names []string) float64 {
	info, err := e.rdb.Info(e.ctx, "commandstats").Result()
	must(t, err)
	var usec float64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !slices.Contains(names, strings.TrimPrefix(name, "cmdstat_")) {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				x, _ := strconv.ParseFloat(v, 64)
				usec += x
			}
		}
	}
	return usec
}

// serverFig is a side's server figures per op: us, by commandstats, the
// median of its rounds, in µs, and, for a peer, ratio, the median over the
// rounds of our time over its (ours/peer of the same round); cpu and
// cpuRatio the same of the server process's CPU time.
type serverFig struct {
	us, ratio     float64
	cpu, cpuRatio float64
}

// peerServer measures the server time per op of every side of the peer
// table, keyed "Scenario/side" as measured is. The sides of a scenario run
// in turn, ops each, round after round, the order reversed every other
// round (ours, peer, peer, ours, ...), so that each round's ratio compares
// sides that met the machine at nearly the same moments: the issue's
// ratios are "the median of interleaved rounds". Each side runs as
// serverWorkers() clients at once (copiesOf), so that the server is busy.
func peerServer(t *testing.T, shared *env) map[string]serverFig {
	hook := &sent{names: map[string]bool{}}
	rdb := redis.NewClient(&redis.Options{Addr: shared.srv.Addr(), PoolSize: serverPoolSize()})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(hook)
	e := &env{ctx: shared.ctx, srv: shared.srv, rdb: rdb}
	// Keys of its own on the shared server: ids the shared env never gives.
	e.ids.Store(shared.ids.Add(1 << 20))
	ops, rounds := envInt("RAPYER_BENCH_SERVER_OPS", peerServerOps), envInt("RAPYER_BENCH_SERVER_ROUNDS", peerServerRounds)
	out := map[string]serverFig{}
	for _, ps := range peerScenarios {
		sr := interleavedServer(t, e, hook, ps, ops, rounds, serverWorkers())
		for i, s := range ps.sides {
			f := serverFig{us: median(sr.usec[i]), cpu: median(sr.cpu[i])}
			if i > 0 {
				f.ratio = median(roundRatios(sr.usec[0], sr.usec[i]))
				f.cpuRatio = median(roundRatios(sr.cpu[0], sr.cpu[i]))
			}
			out[ps.name+"/"+s.name] = f
		}
	}
	return out
}

// roundRatios is ours[r] / peer[r] for every round both ran.
func roundRatios(ours, peer []float64) []float64 {
	var rs []float64
	for r := range min(len(ours), len(peer)) {
		rs = append(rs, ours[r]/peer[r])
	}
	return rs
}

// serverCopies is how many copies of a side the server-time rounds run at
// once by default (RAPYER_BENCH_SERVER_WORKERS changes it; 1 is the
// one-client figure of sessions 13-16): each copy on keys of its own (an
// om twin with its own entity and version), on a connection of its own,
// so that nothing conflicts and the server mostly has a command waiting.
// One client ping-ponging on the loopback leaves the server idle between
// its commands, and each command's commandstats time then holds the cold
// start of a CPU that ran something else meanwhile (caches, TLB, branch
// history): per op about twice a busy server's time, the same cost added
// to both sides, which pulls every ratio towards 1 (the Save's 1.52x read
// 1.41x). The busy server's figures are its work per op, what a Redis
// core's capacity is made of (docs/performance.md, "Session 17: the
// server-time column"). Neither figure is repeatable where other work
// preempts the server inside its commands: commandstats is wall time.
const serverCopies = 8

// copiesOf is how many copies of ps's sides run at once when workers
// clients are wanted: a row whose goroutines share one key (contention is
// what it measures) already keeps that many busy.
func copiesOf(ps peerScenario, workers int) int {
	return max(1, workers/max(ps.workers, 1))
}

// serverPoolSize is the connection pool of the server-time client: a
// connection for every worker, and go-redis's default at least.
func serverPoolSize() int { return max(10*runtime.GOMAXPROCS(0), 2*serverWorkers()) }

// serverWorkers is the number of clients the server-time rounds keep busy.
func serverWorkers() int { return envInt("RAPYER_BENCH_SERVER_WORKERS", serverCopies) }

// runCopies runs n ops in all over the copies, each copy from perCopy
// goroutines (a copy's op is called from one goroutine at a time unless
// its row shares a key between goroutines).
func runCopies(copies []prepared, n, perCopy int) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, p := range copies {
		for range max(perCopy, 1) {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					if err := p.op(); err != nil {
						mu.Lock()
						first = err
						mu.Unlock()
						return
					}
				}
			})
		}
	}
	wg.Wait()
	return first
}

// prepareCopies prepares and warms k copies of each side of ps. A peer
// whose warm-up fails (rueidislock's TryWithContext has hit its deadline on
// a loaded machine) is logged and marked failed, as a failure in the
// rounds is; ours failing fails the test.
func prepareCopies(t *testing.T, e *env, ps peerScenario, k int) (ready [][]prepared, failed []bool) {
	ready, failed = make([][]prepared, len(ps.sides)), make([]bool, len(ps.sides))
	for i, s := range ps.sides {
		for range k {
			p := s.prepare(t, e)
			ready[i] = append(ready[i], p)
			if err := runCopies([]prepared{p}, 20, 1); err != nil {
				if i == 0 {
					t.Fatal(err)
				}
				t.Logf("%s/%s failed its warm-up: %v: left out", ps.name, s.name, err)
				failed[i] = true
				break
			}
		}
	}
	return ready, failed
}

// serverFigures are a row group's figures by side and round, per op: the
// µs commandstats counts for the commands the client sent, and the µs of
// CPU the server process used meanwhile (its whole work: the commands,
// reading and parsing them, writing the replies).
type serverFigures struct {
	usec, cpu [][]float64
}

// interleavedServer runs the sides of ps in turn, ops each, rounds times,
// each side as copiesOf(ps, workers) copies at once, and returns each side's
// figures per op by round. A peer that fails is left out from then on (its
// rounds before count), not the table; ours failing fails the test.
func interleavedServer(t *testing.T, e *env, hook *sent, ps peerScenario, ops, rounds, workers int) serverFigures {
	ready, failed := prepareCopies(t, e, ps, copiesOf(ps, workers))
	out := serverFigures{usec: make([][]float64, len(ps.sides)), cpu: make([][]float64, len(ps.sides))}
	for r := range rounds {
		for j := range ps.sides {
			i := j
			if r%2 == 1 {
				i = len(ps.sides) - 1 - j
			}
			if failed[i] {
				continue
			}
			must(t, e.rdb.ConfigResetStat(e.ctx).Err())
			hook.take()
			cpu := serverCPU(t, e)
			if err := runCopies(ready[i], ops, ps.workers); err != nil {
				if i == 0 {
					t.Fatal(err)
				}
				t.Logf("%s/%s failed: %v: its server time counts the rounds before", ps.name, ps.sides[i].name, err)
				failed[i] = true
				continue
			}
			cpu = serverCPU(t, e) - cpu
			names := append(hook.take(), ready[i][0].commands...)
			out.usec[i] = append(out.usec[i], usecTotal(t, e, names)/float64(ops))
			out.cpu[i] = append(out.cpu[i], cpu/1e3/float64(ops))
		}
	}
	return out
}

// TestPeerServer prints the peer table's server columns alone: each row
// group's sides in interleaved rounds on a private server, each side as
// RAPYER_BENCH_SERVER_WORKERS clients at once (8 by default, 1 for the
// one-client figure), the µs per op by commandstats and the server's CPU
// per op (medians of the rounds) and the medians of the rounds' ratios,
// ours over the peer's. RAPYER_BENCH_SERVER_ONLY names the row groups to
// run (scenario names, comma-separated, e.g. Save8), all when empty:
//
//	RAPYER_BENCH=1 RAPYER_BENCH_SERVER_ONLY=Save8 go test -count=1 -v -run '^TestPeerServer$' ./bench/
func TestPeerServer(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") != "1" {
		t.Skip("RAPYER_BENCH=1 to measure")
	}
	e := newEnv(t)
	only := strings.Split(os.Getenv("RAPYER_BENCH_SERVER_ONLY"), ",")
	hook := &sent{names: map[string]bool{}}
	rdb := redis.NewClient(&redis.Options{Addr: e.srv.Addr(), PoolSize: serverPoolSize()})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(hook)
	se := &env{ctx: e.ctx, srv: e.srv, rdb: rdb}
	ops, rounds := envInt("RAPYER_BENCH_SERVER_OPS", peerServerOps), envInt("RAPYER_BENCH_SERVER_ROUNDS", peerServerRounds)
	t.Logf("%d clients per side", serverWorkers())
	for _, ps := range append(peerScenarios, recordScenarios...) {
		if (only[0] != "" || strings.HasPrefix(ps.what, "(not in the table) ")) && !slices.Contains(only, ps.name) {
			continue
		}
		sr := interleavedServer(t, se, hook, ps, ops, rounds, serverWorkers())
		us, cpu := sr.usec, sr.cpu
		for i, s := range ps.sides[1:] {
			rs, cs := roundRatios(us[0], us[i+1]), roundRatios(cpu[0], cpu[i+1])
			t.Logf("%s: ours %.2f µs, %s %.2f µs: ours/peer %.2fx (rounds %.2f); server CPU %.2f / %.2f µs: %.2fx (rounds %.2f)", ps.name, median(us[0]), s.name, median(us[i+1]), median(rs), rs,
				median(cpu[0]), median(cpu[i+1]), median(cs), cs)
		}
	}
}
