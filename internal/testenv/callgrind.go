package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Callgrind is a private redis-server run under valgrind --tool=callgrind,
// for counting the server's instructions per call: deterministic to a
// fraction of a per cent, where the times of INFO commandstats swing with
// the machine's load. Zero the counters (Control("-z")), run the calls,
// dump (Control("-d")) and read the dump's total (Instructions).
type Callgrind struct {
	t   testing.TB
	dir string
	pid string
	// Client talks to the server, with timeouts fit for valgrind's pace.
	Client *redis.Client
}

// StartCallgrind starts the server, writing its dumps to dir (cg.out.N,
// one per dump, in order; for callgrind_annotate), and stops it when the
// test ends. RAPYER_CALLGRIND_TOGGLE=<function> (e.g. evalShaCommand)
// counts only the instructions inside that server function
// (--toggle-collect): the command's own work, without the event loop's and
// serverCron's, which move by a few thousand per call between rounds.
func StartCallgrind(t testing.TB, dir string) *Callgrind {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cgArgs := []string{"--tool=callgrind", "--callgrind-out-file=" + filepath.Join(dir, "cg.out")}
	if f := os.Getenv("RAPYER_CALLGRIND_TOGGLE"); f != "" {
		cgArgs = append(cgArgs, "--toggle-collect="+f)
	}
	srv := exec.Command("valgrind", append(cgArgs,
		"redis-server", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", dir)...)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	t.Cleanup(func() { _ = rdb.Close() })
	for i := 0; rdb.Ping(context.Background()).Err() != nil; i++ {
		if i > 600 {
			t.Fatal("the server under valgrind did not answer")
		}
		time.Sleep(100 * time.Millisecond) // waiting for a process to start, not synchronising
	}
	return &Callgrind{t: t, dir: dir, pid: strconv.Itoa(srv.Process.Pid), Client: rdb}
}

// Control runs callgrind_control with arg ("-z" zeroes, "-d" dumps).
func (c *Callgrind) Control(arg string) {
	if out, err := exec.Command("callgrind_control", arg, c.pid).CombinedOutput(); err != nil {
		c.t.Fatalf("callgrind_control %s: %v: %s", arg, err, out)
	}
}

// Instructions reads the total of the newest dump.
func (c *Callgrind) Instructions() float64 {
	files, _ := filepath.Glob(filepath.Join(c.dir, "cg.out*"))
	var newest string
	var at time.Time
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.ModTime().After(at) {
			newest, at = f, st.ModTime()
		}
	}
	b, err := os.ReadFile(newest)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "summary: "); ok {
			n, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
			return n
		}
	}
	c.t.Fatalf("no summary in %s", newest)
	return 0
}

// Side is one of the calls Best compares.
type Side struct {
	Name string
	Op   func() error
}

// Best counts the instructions per call of each side: rounds rounds, the
// sides interleaved (in reverse order every other round), each side 20
// calls of warm-up and then calls counted; it logs every count and returns
// the lowest of each side.
func (c *Callgrind) Best(rounds, calls int, sides []Side) []float64 {
	best := make([]float64, len(sides))
	for r := range rounds {
		for j := range sides {
			i := j
			if r%2 == 1 {
				i = len(sides) - 1 - j
			}
			for range 20 {
				if err := sides[i].Op(); err != nil {
					c.t.Fatal(err)
				}
			}
			n := c.Count(calls, sides[i].Op)
			if best[i] == 0 || n < best[i] {
				best[i] = n
			}
			c.t.Logf("round %d %-28s %8.0f instructions per call", r, sides[i].Name, n)
		}
	}
	return best
}

// Count zeroes the counters, runs op calls times, dumps, and returns the
// instructions per call.
func (c *Callgrind) Count(calls int, op func() error) float64 {
	c.Control("-z")
	for range calls {
		if err := op(); err != nil {
			c.t.Fatal(err)
		}
	}
	c.Control("-d")
	return c.Instructions() / float64(calls)
}
