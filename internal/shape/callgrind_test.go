package shape

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

// TestShapeInstructions counts the server's instructions per call of the
// variants of TestShapeCostParts (the compiled guarded 3-op shape, its
// hand-written twin, the shape cut short), with a private redis-server run
// under valgrind's callgrind: deterministic to a fraction of a per cent,
// where commandstats times swing with the machine's load.
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestShapeInstructions$' -v ./internal/shape/
//
// Each variant runs calls batches after a warm-up, the counters zeroed
// before and dumped after; the lowest of rounds interleaved rounds is
// reported. RAPYER_CALLGRIND_KEEP=dir keeps the dumps there (one per
// variant and round, in order) for callgrind_annotate.
func TestShapeInstructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	const calls, rounds = 400, 2
	dir := os.Getenv("RAPYER_CALLGRIND_KEEP")
	if dir == "" {
		dir = t.TempDir()
	}
	cg := startCallgrind(t, dir)
	ctx := context.Background()
	c := cg.rdb
	p := guarded3(t)
	seedAccount(ctx, c)
	variants := costVariants(t, For(p).Text)
	shas := make([]string, len(variants))
	for i, v := range variants {
		sha, err := c.ScriptLoad(ctx, v.text).Result()
		if err != nil {
			t.Fatal(err)
		}
		shas[i] = sha
	}
	best := make([]float64, len(variants))
	seq := 0
	run := func(i, n int) {
		for range n {
			seq++
			if err := c.Do(ctx, costCmd(p, variants[i].name, shas[i], seq)...).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for r := range rounds {
		for i, v := range variants {
			run(i, 20)
			cg.control("-z")
			run(i, calls)
			cg.control("-d")
			n := cg.instructions() / calls
			if best[i] == 0 || n < best[i] {
				best[i] = n
			}
			t.Logf("round %d %-28s %8.0f instructions per call", r, v.name, n)
		}
	}
	for i, v := range variants {
		t.Logf("best %-28s %8.0f instructions per call (%.2fx the twin)", v.name, best[i], best[i]/best[1])
	}
}

// callgrind is a redis-server run under valgrind --tool=callgrind.
type callgrind struct {
	t   *testing.T
	dir string
	pid string
	rdb *redis.Client
}

func startCallgrind(t *testing.T, dir string) *callgrind {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := exec.Command("valgrind", "--tool=callgrind", "--callgrind-out-file="+filepath.Join(dir, "cg.out"),
		"redis-server", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1")
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
	return &callgrind{t: t, dir: dir, pid: strconv.Itoa(srv.Process.Pid), rdb: rdb}
}

func (c *callgrind) control(arg string) {
	if out, err := exec.Command("callgrind_control", arg, c.pid).CombinedOutput(); err != nil {
		c.t.Fatalf("callgrind_control %s: %v: %s", arg, err, out)
	}
}

// instructions reads the total of the newest dump.
func (c *callgrind) instructions() float64 {
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
