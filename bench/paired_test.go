package bench_test

// How much of the swing of the Get and Save rows (issue #13) is the way
// they are timed: the peer table times each side in a run of its own
// (testing.Benchmark, RAPYER_BENCH_TIME each) and takes the median of the
// per-round ratios, so the two sides of a round see the machine at
// different moments. Paired timing alternates the sides op by op (the
// order flipping every pair) and sums each side's time, so both see the
// same moments. TestPairedRatios prints both ways' per-round ratios.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
)

// pairedTimes runs a's and b's ops n times each, alternating, a first in
// even pairs and b first in odd ones, and returns each side's total time.
func pairedTimes(a, b prepared, n int) (ta, tb time.Duration, err error) {
	for i := range n {
		first, second, tf, ts := a, b, &ta, &tb
		if i%2 == 1 {
			first, second, tf, ts = b, a, &tb, &ta
		}
		t0 := time.Now()
		if err = first.op(); err != nil {
			return
		}
		t1 := time.Now()
		if err = second.op(); err != nil {
			return
		}
		*tf += t1.Sub(t0)
		*ts += time.Since(t1)
	}
	return ta, tb, nil
}

// TestPairedTimes holds pairedTimes to running each side n times and
// giving each its own time: each side's total must cover the time its own
// ops measured inside themselves, which holds however the machine delays
// either side (a comparison of the two totals failed on a loaded machine:
// the no-op side, descheduled, took longer than the sleeping one). Given
// the other side's time in the pairs where it goes first, the sleeping
// side (2ms per op against none) would miss about half of its own.
func TestPairedTimes(t *testing.T) {
	var na, nb int
	var inA, inB time.Duration
	timed := func(n *int, in *time.Duration, d time.Duration) prepared {
		return prepared{op: func() error {
			*n++
			t0 := time.Now()
			if d > 0 {
				time.Sleep(d)
			}
			*in += time.Since(t0)
			return nil
		}}
	}
	ta, tb, err := pairedTimes(timed(&na, &inA, 2*time.Millisecond), timed(&nb, &inB, 0), 10)
	if err != nil || na != 10 || nb != 10 {
		t.Fatalf("ran %d and %d ops (%v), want 10 each", na, nb, err)
	}
	if ta < inA || tb < inB {
		t.Errorf("times %v and %v, the ops' own %v and %v: a side's time is not its own", ta, tb, inA, inB)
	}
	boom := errors.New("boom")
	if _, _, err := pairedTimes(timed(&na, &inA, 0), prepared{op: func() error { return boom }}, 3); !errors.Is(err, boom) {
		t.Errorf("a failing op gave %v", err)
	}
}

// TestPairedRatios times the Get and Save rows both ways, interleaved,
// RAPYER_BENCH_ROUNDS rounds (default 7) of RAPYER_BENCH_TIME per side
// (default 250ms), and prints each way's per-round ratios (the peer's time
// over ours) with their median and spread:
//
//	RAPYER_BENCH=1 go test -count=1 -run '^TestPairedRatios$' -v ./bench/
func TestPairedRatios(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") != "1" {
		t.Skip("RAPYER_BENCH=1 to time")
	}
	setBenchTime(t)
	mode := benchMode(t)
	e := newEnv(t)
	rounds := envInt("RAPYER_BENCH_ROUNDS", 7)
	fmt.Printf("Mode: %s\n", mode)
	for _, row := range []struct {
		name     string
		ours, om prepare
	}{{"Get8", getItemRapyer, getItemOm}, {"Save8", saveItemRapyer, saveItemOm}} {
		a, b := row.ours(t, e), row.om(t, e)
		warm(t, a)
		warm(t, b)
		sep, paired := pairedRounds(t, a, b, rounds)
		fmt.Printf("%s  separate runs: %s\n%s  paired ops:    %s\n", row.name, spread(sep), row.name, spread(paired))
	}
}

// pairedRounds times a and b both ways, rounds times: in runs of their own
// (the peer table's way, order flipping every round) and paired, with as
// many pairs as the separate runs made ops of a.
func pairedRounds(t *testing.T, a, b prepared, rounds int) (sep, paired []float64) {
	for r := range rounds {
		var ra, rb testing.BenchmarkResult
		if r%2 == 0 {
			ra, rb = timeAlone(a), timeAlone(b)
		} else {
			rb = timeAlone(b)
			ra = timeAlone(a)
		}
		if ra.N == 0 || rb.N == 0 {
			t.Fatal("a side failed")
		}
		sep = append(sep, float64(rb.NsPerOp())/float64(ra.NsPerOp()))
		runtime.GC()
		ta, tb, err := pairedTimes(a, b, ra.N)
		must(t, err)
		paired = append(paired, float64(tb)/float64(ta))
	}
	return sep, paired
}

// timeAlone is one run of p's op as the peer table times it.
func timeAlone(p prepared) testing.BenchmarkResult {
	runtime.GC()
	return testing.Benchmark(func(b *testing.B) { loop(b, p.op, 1) })
}

// spread prints ratios with their median, range and interquartile range.
func spread(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	out := ""
	for _, x := range xs {
		out += fmt.Sprintf("%.2f ", x)
	}
	q := func(p float64) float64 { return s[int(p*float64(len(s)-1)+0.5)] }
	return fmt.Sprintf("%s| median %.2f, range %.2f-%.2f, IQR %.2f", out, median(xs), s[0], s[len(s)-1], q(0.75)-q(0.25))
}
