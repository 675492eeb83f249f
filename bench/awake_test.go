package bench_test

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// On a VM a vCPU gone idle takes tens of microseconds to wake, and a
// loopback round trip then pays for the wake-up (docs/performance.md, "The
// machine"). RAPYER_BENCH_AWAKE=1 keeps one CPU busy for the whole run, as
// `while :; do :; done &` beside make bench does: a goroutine that spins on
// a P of its own (GOMAXPROCS is raised by one meanwhile, so the benchmarks
// keep every P they had), locked to its OS thread.

// benchMode starts keepAwake for t when RAPYER_BENCH_AWAKE=1, and names the
// mode of the run, for the table's header and the chart.
func benchMode(t *testing.T) string {
	if os.Getenv("RAPYER_BENCH_AWAKE") == "1" {
		t.Cleanup(keepAwake())
		return "awake (RAPYER_BENCH_AWAKE=1: a goroutine spins on a CPU of its own for the whole run)"
	}
	return "quiet (the CPUs idle between round trips; RAPYER_BENCH_AWAKE=1 keeps one busy)"
}

// keepAwake starts the spinning goroutine and returns what stops it.
func keepAwake() (stop func()) {
	prev := runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for !done.Load() {
			spin()
		}
	})
	return func() {
		done.Store(true)
		wg.Wait()
		runtime.GOMAXPROCS(prev)
	}
}

// spin burns about a microsecond of CPU without a system call.
//
//go:noinline
func spin() {
	x := 0
	for i := range 1000 {
		x += i
	}
	sink.Store(int64(x))
}

var sink atomic.Int64

func TestKeepAwake(t *testing.T) {
	n := runtime.GOMAXPROCS(0)
	stop := keepAwake()
	if got := runtime.GOMAXPROCS(0); got != n+1 {
		t.Errorf("GOMAXPROCS %d while awake, want %d", got, n+1)
	}
	time.Sleep(5 * time.Millisecond)
	if sink.Load() == 0 {
		t.Error("the spinning goroutine did not run")
	}
	stop()
	if got := runtime.GOMAXPROCS(0); got != n {
		t.Errorf("GOMAXPROCS %d after stop, want %d", got, n)
	}
}
