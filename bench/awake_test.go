package bench_test

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
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
	if os.Getenv("RAPYER_BENCH_AWAKE") == "idle" {
		t.Cleanup(keepAwakeIdle(t))
		return "awake, idle spinners (RAPYER_BENCH_AWAKE=idle: a SCHED_IDLE process spins on every CPU, yielding to any other work)"
	}
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

// keepAwakeIdle starts one spinning process per CPU at the SCHED_IDLE
// policy, and returns what stops them. A CPU with a runnable task never
// halts, so a round trip's wake-up finds its vCPU running; and a SCHED_IDLE
// task gives its CPU to any task of another policy the moment it wakes, so
// the client and the server keep both CPUs. (keepAwake's spinner runs at
// normal priority: on two vCPUs it takes a share of the CPUs the client and
// the server need.)
func keepAwakeIdle(tb testing.TB) (stop func()) {
	var cmds []*exec.Cmd
	for range runtime.NumCPU() {
		c := exec.Command("/bin/sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			tb.Fatalf("starting a spinner: %v", err)
		}
		cmds = append(cmds, c)
		if err := schedIdle(c.Process.Pid); err != nil {
			_ = c.Process.Kill()
			tb.Fatalf("making the spinner SCHED_IDLE: %v", err)
		}
	}
	return func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
}

// schedIdle sets the scheduling policy of process pid to SCHED_IDLE.
func schedIdle(pid int) error {
	const schedIdlePolicy = 5 // SCHED_IDLE, linux/sched.h
	param := struct{ priority int32 }{}
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(pid), schedIdlePolicy, uintptr(unsafe.Pointer(&param)))
	if e != 0 {
		return e
	}
	return nil
}

func TestKeepAwakeIdle(t *testing.T) {
	stop := keepAwakeIdle(t)
	defer stop()
	out, err := exec.Command("ps", "-o", "pid,cls,comm", "--ppid", strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		t.Fatalf("ps: %v: %s", err, out)
	}
	if n := strings.Count(string(out), " IDL "); n != runtime.NumCPU() {
		t.Errorf("%d spinners at SCHED_IDLE, want %d:\n%s", n, runtime.NumCPU(), out)
	}
}
