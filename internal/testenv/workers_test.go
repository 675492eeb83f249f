package testenv_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// TestWorkersRunsEveryWorkerAndReportsTheirErrors: every worker runs once
// with its own number, all at once (each waits for the others to start),
// and a worker's error fails the test that called Workers.
func TestWorkersRunsEveryWorkerAndReportsTheirErrors(t *testing.T) {
	const n = 8
	var ran [n]atomic.Int32
	var started atomic.Int32
	testenv.Workers(t, n, func(w int) error {
		ran[w].Add(1)
		started.Add(1)
		for started.Load() < n {
			runtime.Gosched()
		}
		return nil
	})
	for w := range ran {
		if got := ran[w].Load(); got != 1 {
			t.Fatalf("worker %d ran %d times", w, got)
		}
	}
	rec := &recorder{TB: t}
	testenv.Workers(rec, 3, func(w int) error {
		if w == 1 {
			return fmt.Errorf("worker %d: %w", w, errBoom)
		}
		return nil
	})
	if !rec.failed || !errors.Is(rec.err, errBoom) {
		t.Fatalf("a worker's error did not fail the test: failed=%v err=%v", rec.failed, rec.err)
	}
}

var errBoom = errors.New("boom")

// recorder is a testing.TB whose Fatal records instead of stopping.
type recorder struct {
	testing.TB
	failed bool
	err    error
}

func (r *recorder) Helper() {}

func (r *recorder) Fatal(args ...any) {
	r.failed = true
	if len(args) == 1 {
		r.err, _ = args[0].(error)
	}
}
