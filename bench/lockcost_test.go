package bench_test

// Measures of the lock rows that a loaded machine disturbs less than the
// peer table's medians (issue #13, docs/performance.md "Session 6: locks").
// Neither runs in make test: each needs its environment variable.

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// lockCostSides are the sides both measures run, in order.
func lockCostSides(t testing.TB, e *env) []struct {
	name string
	p    prepared
} {
	return []struct {
		name string
		p    prepared
	}{
		{"model-lock/rapyer", modelLockRapyer(t, e)},
		{"model-lock/hand", modelLockHand(t, e)},
		{"lock/rapyer", lockOnce(t, e)},
		{"lock/redislock", lockRedislock(t, e)},
		{"lock/hand", lockOnceHand(t, e)},
	}
}

// TestLockCycleBest logs, per side, the best, first quartile and median
// time per op over 60 interleaved rounds of 100 ops on a private server
// (RAPYER_BENCH_LOCKBEST=1 go test -count=1 -v -run TestLockCycleBest
// ./bench/): the best round is the least disturbed by other processes.
func TestLockCycleBest(t *testing.T) {
	if os.Getenv("RAPYER_BENCH_LOCKBEST") != "1" {
		t.Skip("RAPYER_BENCH_LOCKBEST=1 to measure")
	}
	sides := lockCostSides(t, newEnv(t))
	per := make([][]float64, len(sides))
	for r := range 60 {
		for j := range sides {
			i := j
			if r%2 == 1 {
				i = len(sides) - 1 - j
			}
			start := time.Now()
			for range 100 {
				if err := sides[i].p.op(); err != nil {
					t.Fatal(err)
				}
			}
			per[i] = append(per[i], float64(time.Since(start).Nanoseconds())/100/1000)
		}
	}
	for i, s := range sides {
		slices.Sort(per[i])
		t.Logf("%-18s best %6.1f µs  p25 %6.1f  median %6.1f", s.name, per[i][0], per[i][len(per[i])/4], per[i][len(per[i])/2])
	}
}

// TestLockCycleCallgrind runs 2,000 ops (RAPYER_CALLGRIND_N if set) of
// each side against a redis-server run under valgrind --tool=callgrind at
// RAPYER_CALLGRIND_ADDR (pid RAPYER_CALLGRIND_PID), dumping the profile
// after each side: the dumps' totals over 2,000 are the server's
// instructions per op.
//
//	valgrind --tool=callgrind --callgrind-out-file=cg.out redis-server --port 17391 --save '' &
//	RAPYER_CALLGRIND_ADDR=127.0.0.1:17391 RAPYER_CALLGRIND_PID=$! go test -count=1 -run TestLockCycleCallgrind ./bench/
//	grep -H '^summary:' cg.out.*   # one file per dump, in order: warm, then the sides
func TestLockCycleCallgrind(t *testing.T) {
	addr := os.Getenv("RAPYER_CALLGRIND_ADDR")
	if addr == "" {
		t.Skip("RAPYER_CALLGRIND_ADDR and RAPYER_CALLGRIND_PID to measure")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	sides := lockCostSides(t, &env{ctx: t.Context(), rdb: rdb})
	run := func(p prepared, n int) {
		for range n {
			if err := p.op(); err != nil {
				t.Fatal(err)
			}
		}
	}
	dump := func(name string) {
		if out, err := exec.Command("callgrind_control", "--dump="+name, os.Getenv("RAPYER_CALLGRIND_PID")).CombinedOutput(); err != nil {
			t.Fatalf("callgrind_control: %v %s", err, out)
		}
	}
	for _, s := range sides {
		run(s.p, 50)
	}
	dump("warm")
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("RAPYER_CALLGRIND_N")); err == nil && v > 0 {
		n = v
	}
	for _, s := range sides {
		run(s.p, n)
		dump(s.name)
	}
}

// BenchmarkLockCycle runs the sides of the lock measures one by one, with
// their allocations: the client's share of a cycle (go test -run '^$'
// -bench BenchmarkLockCycle -benchmem -cpuprofile cpu.out ./bench/).
func BenchmarkLockCycle(b *testing.B) {
	e := newEnv(b)
	for _, s := range lockCostSides(b, e) {
		warm(b, s.p)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if err := s.p.op(); err != nil {
					b.Fatal(err)
				}
			}
			// this process's CPU, user and system: the client's share
			// (the server is another process)
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestModelLockInstructions counts the server's instructions per model
// Lock cycle, ours and the hand's, on a private redis-server under
// callgrind: 3 rounds of 1,000 cycles a side, interleaved, the best of
// each (docs/performance.md "Session 10: the model Lock cycle"):
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestModelLockInstructions$' -v ./bench/
//
// RAPYER_CALLGRIND_KEEP=dir keeps the dumps for callgrind_annotate.
func TestModelLockInstructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	cg := startCallgrind(t)
	e := &env{ctx: t.Context(), rdb: cg.Client}
	ours, hand := modelLockRapyer(t, e), modelLockHand(t, e)
	best := cg.Best(3, 1000, []testenv.Side{{Name: "model-lock/rapyer", Op: ours.op}, {Name: "model-lock/hand", Op: hand.op}})
	must(t, ours.check())
	must(t, hand.check())
	t.Logf("best: ours %.0f, hand %.0f instructions per cycle (%.2fx)", best[0], best[1], best[0]/best[1])
}

// TestLockOnceInstructions counts the server's instructions per
// uncontended lock cycle (acquire + release, the peer table's LockOnce
// row): lock.Acquire with its default fence, without one (NoFence), and
// redislock and the hand-written SET NX PX lock, on a private redis-server
// under callgrind: 3 rounds of 1,000 cycles a side, interleaved, the best
// of each (docs/performance.md "Session 17: the lock lines"):
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestLockOnceInstructions$' -v ./bench/
func TestLockOnceInstructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	cg := startCallgrind(t)
	e := &env{ctx: t.Context(), rdb: cg.Client}
	ours, redisl, hand := lockOnce(t, e), lockRedislock(t, e), lockOnceHand(t, e)
	key := "lk:{" + e.id("nf") + "}:lock:x"
	nofence := func() error {
		l, err := lock.Acquire(e.ctx, e.rdb, key, lock.Options{TTL: peerLockTTL, Wait: lock.NoWait, NoFence: true})
		if err != nil {
			return err
		}
		return l.Release(e.ctx)
	}
	best := cg.Best(3, 1000, []testenv.Side{{Name: "lock/rapyer", Op: ours.op}, {Name: "lock/rapyer-nofence", Op: nofence},
		{Name: "lock/redislock", Op: redisl.op}, {Name: "lock/hand", Op: hand.op}})
	must(t, ours.check())
	must(t, redisl.check())
	must(t, hand.check())
	t.Logf("best: ours %.0f, ours without a fence %.0f, redislock %.0f, hand %.0f instructions per cycle (ours/redislock %.2fx)",
		best[0], best[1], best[2], best[3], best[0]/best[2])
}

// TestHandoffInstructions counts the server's instructions per lock cycle
// of the peer table's contended hand-off (Handoff8): eight goroutines of
// one client taking and releasing one lock, lock.Acquire with its default
// fence against the SET NX spinner (1 ms sleeps), on a private
// redis-server under callgrind: each counted call runs 8 goroutines of 25
// cycles, 3 rounds of 4 such calls a side, interleaved, the best of each,
// divided by the 200 cycles of a call (docs/performance.md "Session 17:
// the lock lines"):
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestHandoffInstructions$' -v ./bench/
func TestHandoffInstructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	cg := startCallgrind(t)
	e := &env{ctx: t.Context(), rdb: cg.Client}
	const workers, each = 8, 25
	eight := func(p prepared) func() error {
		return func() error {
			errc := make(chan error, workers)
			for range workers {
				go func() {
					var err error
					for range each {
						if err = p.op(); err != nil {
							break
						}
					}
					errc <- err
				}()
			}
			var err error
			for range workers {
				err = errors.Join(err, <-errc)
			}
			return err
		}
	}
	ours, spin := handoffRapyer(t, e), handoffSpin(t, e)
	best := cg.Best(3, 4, []testenv.Side{{Name: "handoff/rapyer", Op: eight(ours)}, {Name: "handoff/spin", Op: eight(spin)}})
	must(t, ours.check())
	must(t, spin.check())
	t.Logf("best: ours %.0f, spin %.0f instructions per cycle (%.2fx)", best[0]/(workers*each), best[1]/(workers*each), best[0]/best[1])
}
