package shape

import (
	"context"
	"os"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
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
// reported (testenv.Callgrind.Best). RAPYER_CALLGRIND_KEEP=dir keeps the
// dumps there (one per variant and round, in the order logged) for
// callgrind_annotate.
func TestShapeInstructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	const calls, rounds = 400, 2
	dir := os.Getenv("RAPYER_CALLGRIND_KEEP")
	if dir == "" {
		dir = t.TempDir()
	}
	cg := testenv.StartCallgrind(t, dir)
	ctx := context.Background()
	c := cg.Client
	p := guarded3(t)
	seedAccount(ctx, c)
	variants := costVariants(t, For(p).Text)
	shas := loadVariants(t, c, variants)
	seq := 0
	sides := make([]testenv.Side, len(variants))
	for i, v := range variants {
		sides[i] = testenv.Side{Name: v.name, Op: func() error {
			seq++
			return c.Do(ctx, costCmd(p, v.name, shas[i], seq)...).Err()
		}}
	}
	best := cg.Best(rounds, calls, sides)
	for i, v := range variants {
		t.Logf("best %-28s %8.0f instructions per call (%.2fx the twin)", v.name, best[i], best[i]/best[1])
	}
}
