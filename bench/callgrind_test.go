package bench_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestSaveInstructions counts the server's instructions per call of Save
// and Get of the 8-field model and of their om twins, with redis-server run
// under valgrind's callgrind: deterministic to a few per cent where wall
// and commandstats times swing by 2x on a loaded machine.
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestSaveInstructions$' -v ./bench/
//
// Each side runs calls ops after a warm-up, with the counters zeroed
// before and dumped after (callgrind_control); the sides are interleaved,
// rounds times, and the lowest count of each is reported.
func TestSaveInstructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	const calls, rounds = 500, 3
	dir := t.TempDir()
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
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer rdb.Close()
	for i := 0; rdb.Ping(ctx).Err() != nil; i++ {
		if i > 600 {
			t.Fatal("the server under valgrind did not answer")
		}
		time.Sleep(100 * time.Millisecond) // waiting for a process to start, not synchronising
	}
	pid := strconv.Itoa(srv.Process.Pid)
	control := func(arg string) {
		if out, err := exec.Command("callgrind_control", arg, pid).CombinedOutput(); err != nil {
			t.Fatalf("callgrind_control %s: %v: %s", arg, err, out)
		}
	}
	// instructions reads the total of the newest dump
	instructions := func() float64 {
		files, _ := filepath.Glob(filepath.Join(dir, "cg.out*"))
		var newest string
		var at time.Time
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && st.ModTime().After(at) {
				newest, at = f, st.ModTime()
			}
		}
		b, err := os.ReadFile(newest)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "summary: "); ok {
				n, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
				return n
			}
		}
		t.Fatalf("no summary in %s", newest)
		return 0
	}
	m := rapyer.MustNew[Item](rdb, rapyer.Options{Prefix: "item"})
	it := newItem()
	must(t, m.Save(ctx, "g", it))
	_, err = omSave(ctx, rdb, "om:g", 0, itemFields("g", it))
	must(t, err)
	var omVer int64
	sides := []struct {
		name string
		op   func() error
	}{
		{"Save, compiled", func() error { return m.Save(ctx, "s", it) }},
		{"Save, lean FCALL", func() error {
			shape.Off.Store(true)
			defer shape.Off.Store(false)
			return m.Save(ctx, "l", it)
		}},
		{"om Save twin", func() error {
			v, err := omSave(ctx, rdb, "om:s", omVer, itemFields("s", it))
			omVer = v
			return err
		}},
		{"Get", func() error { _, err := m.Get(ctx, "g"); return err }},
		{"om Fetch twin", func() error { _, err := decodeItemOrErr(rdb.HGetAll(ctx, "om:g").Result()); return err }},
	}
	best := make([]float64, len(sides))
	for r := range rounds {
		for i, s := range sides {
			if r%2 == 1 {
				s = sides[len(sides)-1-i]
				i = len(sides) - 1 - i
			}
			for range 20 {
				must(t, s.op())
			}
			control("-z")
			for range calls {
				must(t, s.op())
			}
			control("-d")
			n := instructions() / calls
			if best[i] == 0 || n < best[i] {
				best[i] = n
			}
			t.Logf("round %d %-18s %8.0f instructions per call", r, s.name, n)
		}
	}
	for i, s := range sides {
		t.Logf("best %-18s %8.0f instructions per call", s.name, best[i])
	}
	_ = slices.Max(best)
}

func decodeItemOrErr(h map[string]string, err error) (Item, error) {
	if err != nil {
		return Item{}, err
	}
	return decodeItem(h)
}

// BenchmarkSave8 and BenchmarkGet8 are the peer table's Save and Get rows
// as plain benchmarks, for allocations and profiles:
//
//	go test -run '^$' -bench 'Save8|Get8' -benchmem ./bench/
func BenchmarkSave8(b *testing.B) { runGo(b, peerScenarios[0].scenario) }

// BenchmarkGet8: see BenchmarkSave8.
func BenchmarkGet8(b *testing.B) { runGo(b, peerScenarios[1].scenario) }
