package bench_test

import (
	"testing"
)

// TestModelLockAllocatesNoMoreThanByHand: the model Lock cycle (acquire +
// load, fenced save + release) allocates on the client no more than the
// hand-written cycle does (modelLockHand: go-redis's MULTI, SET NX, HGETALL,
// EXEC, then two EVALSHAs in a pipeline), with the server's replies played
// back from a tape, so that only the client counts. Session 11 brought the
// cycle from 80 allocations to 75, the hand's (docs/performance.md,
// "Session 11: the model Lock cycle"). Not under -race, whose sync.Pool
// drops items at random.
func TestModelLockAllocatesNoMoreThanByHand(t *testing.T) {
	if raceOn {
		t.Skip("allocations are not counted under -race")
	}
	e, tp := tapeEnv(t)
	ours, hand := modelLockRapyer(t, e), modelLockHand(t, e)
	warm(t, ours)
	warm(t, hand)
	tp.startReplay(t)
	warm(t, ours)
	warm(t, hand)
	count := func(p prepared) float64 {
		return testing.AllocsPerRun(200, func() {
			if err := p.op(); err != nil {
				t.Fatal(err)
			}
		})
	}
	o, h := count(ours), count(hand)
	t.Logf("allocations per cycle: ours %.1f, hand %.1f", o, h)
	if o > h {
		t.Errorf("the model Lock cycle allocates %.1f times, the hand-written one %.1f", o, h)
	}
}
