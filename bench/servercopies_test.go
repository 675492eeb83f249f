package bench_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunCopiesKeepsEveryCopyBusy: the server-time rounds run n ops in all
// over the copies of a side, every copy at once (a busy server is what they
// measure), each copy's op from one goroutine at a time (a copy's keys and
// an om twin's version are its own), and stop at the first error.
func TestRunCopiesKeepsEveryCopyBusy(t *testing.T) {
	const k, n = 4, 400
	var total, inside, most atomic.Int64
	var calls [k]atomic.Int64
	var busy [k]atomic.Int32
	copies := make([]prepared, k)
	for i := range copies {
		copies[i] = prepared{op: func() error {
			total.Add(1)
			calls[i].Add(1)
			if busy[i].Add(1) != 1 {
				return errors.New("two goroutines in one copy")
			}
			raise(&most, inside.Add(1))
			time.Sleep(50 * time.Microsecond)
			inside.Add(-1)
			busy[i].Add(-1)
			return nil
		}}
	}
	if err := runCopies(copies, n, 1); err != nil {
		t.Fatal(err)
	}
	if total.Load() != n {
		t.Errorf("%d ops, want %d", total.Load(), n)
	}
	for i := range calls {
		if calls[i].Load() == 0 {
			t.Errorf("copy %d never ran", i)
		}
	}
	if most.Load() < 2 {
		t.Errorf("at most %d copies at once, want them together", most.Load())
	}
	boom := errors.New("boom")
	if err := runCopies([]prepared{{op: func() error { return boom }}}, n, 1); !errors.Is(err, boom) {
		t.Errorf("error %v, want boom", err)
	}
}

// raise makes m at least v.
func raise(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

// TestCopiesOf: a row of one goroutine runs as many copies as clients are
// wanted; a row whose goroutines share a key already keeps that many busy.
func TestCopiesOf(t *testing.T) {
	one := peerScenario{scenario: scenario{workers: 1}}
	eight := peerScenario{scenario: scenario{workers: 8}}
	for _, c := range []struct {
		ps            peerScenario
		workers, want int
	}{{one, 8, 8}, {one, 1, 1}, {eight, 8, 1}, {eight, 16, 2}, {eight, 1, 1}} {
		if got := copiesOf(c.ps, c.workers); got != c.want {
			t.Errorf("copiesOf(workers %d, %d clients) = %d, want %d", c.ps.workers, c.workers, got, c.want)
		}
	}
}

// TestServerNoteSaysHow: the peer table's note on its server columns says
// how many clients kept the server busy, and says so for the cold figure
// of one client.
func TestServerNoteSaysHow(t *testing.T) {
	if s := serverNote(); !strings.Contains(s, "8 clients at once") {
		t.Errorf("default note: %q", s)
	}
	t.Setenv("RAPYER_BENCH_SERVER_WORKERS", "1")
	if s := serverNote(); !strings.Contains(s, "from one client") {
		t.Errorf("one client: %q", s)
	}
}

// TestPrepareCopiesLeavesOutAFailingPeer: every copy is its own prepared
// side (keys of its own), warmed before the rounds; a peer whose warm-up
// fails is marked failed, not fatal to the table.
func TestPrepareCopiesLeavesOutAFailingPeer(t *testing.T) {
	var prepares, oursOps atomic.Int64
	ok := func(testing.TB, *env) prepared {
		prepares.Add(1)
		return prepared{op: func() error { oursOps.Add(1); return nil }}
	}
	bad := func(testing.TB, *env) prepared {
		return prepared{op: func() error { return errors.New("deadline") }}
	}
	ps := peerScenario{scenario: scenario{name: "X", workers: 1, sides: []side{{"ours", ok}, {"peer", bad}, {"other", ok}}}}
	ready, failed := prepareCopies(t, nil, ps, 3)
	if len(ready[0]) != 3 || len(ready[2]) != 3 || prepares.Load() != 6 {
		t.Errorf("copies %d, %d, %d prepares, want 3, 3, 6", len(ready[0]), len(ready[2]), prepares.Load())
	}
	if failed[0] || !failed[1] || failed[2] {
		t.Errorf("failed %v, want only the peer whose warm-up failed", failed)
	}
	if oursOps.Load() != 6*20 {
		t.Errorf("%d warm-up ops, want 20 a copy", oursOps.Load())
	}
}
