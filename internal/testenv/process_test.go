//go:build linux

package testenv_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// processAlive reports whether pid runs; a zombie nobody reaped counts as dead.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may hold spaces, so look after the last ')'.
	rest := stat[bytes.LastIndexByte(stat, ')')+1:]
	return !bytes.HasPrefix(bytes.TrimSpace(rest), []byte("Z"))
}

// The helper: run as a child test binary, it starts the shared server and a
// private server, prints their pids, and then ends the way the parent asked.
// (Cluster nodes are processes started the same way.)
const helperEnv = "TESTENV_HELPER_END"

func TestHelperProcess(t *testing.T) {
	end := os.Getenv(helperEnv)
	if end == "" {
		t.Skip("only runs as the child of TestServersDoNotOutliveTheBinary")
	}
	testenv.On(t, testenv.Server)
	private := testenv.StartServer(t)
	fmt.Printf("pid=%d\npid=%d\n", private.Pid(), testenv.SharedServer().Pid())
	switch end {
	case "fail":
		t.Fatal("failing on purpose")
	case "panic":
		panic("panicking on purpose")
	case "exit":
		os.Exit(3)
	}
}

// reapOrphans makes this process the reaper of orphaned descendants
// (PR_SET_CHILD_SUBREAPER), so the servers of a crashed child binary become
// our children and we can wait for them instead of leaving zombies to a PID 1
// that may not reap.
func reapOrphans(t *testing.T) {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Logf("PR_SET_CHILD_SUBREAPER: %v; will poll /proc instead", errno)
	}
}

// waitGone waits until pid has exited, reaping it if it is our child.
func waitGone(t *testing.T, pid int, deadline time.Time) {
	t.Helper()
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if got == pid || (errors.Is(err, syscall.ECHILD) && !processAlive(pid)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server %d outlived its test binary", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServersDoNotOutliveTheBinary(t *testing.T) {
	reapOrphans(t)
	for _, end := range []string{"fail", "panic", "exit"} {
		t.Run(end, func(t *testing.T) {
			testenv.On(t, testenv.Server) // skips or fails like the child would
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			// The child fails on purpose: keep it out of make test's tier record.
			cmd.Env = append(os.Environ(), helperEnv+"="+end, testenv.TierDirEnv+"=")
			out, err := cmd.Output()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the child ending by %q exited with %v, want an error; output:\n%s", end, err, out)
			}
			var pids []int
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "pid="); ok {
					pid, err := strconv.Atoi(v)
					if err != nil || pid == 0 {
						t.Fatalf("bad pid line %q", sc.Text())
					}
					pids = append(pids, pid)
				}
			}
			if len(pids) != 2 {
				t.Fatalf("child printed %d pids, want 2 (private and shared server); output:\n%s", len(pids), out)
			}
			// The kernel delivers the parent-death signal on its own time: wait.
			deadline := time.Now().Add(30 * time.Second)
			for _, pid := range pids {
				waitGone(t, pid, deadline)
			}
		})
	}
}
