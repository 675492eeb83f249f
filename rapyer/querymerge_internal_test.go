package rapyer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/plan"
)

// TestMergeRunsIsASortOfSortedRuns: the groups' results, each run in the
// query's order, merge into what a sort of them all gives, ascending and
// descending, for 0 to 17 runs of random lengths (seeded; the seed is
// printed).
func TestMergeRunsIsASortOfSortedRuns(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := range 300 {
		for _, desc := range []bool{false, true} {
			r := &qrun[struct{}]{spec: plan.Spec{Desc: desc}}
			var runs [][]qhit
			var all []qhit
			for range rng.IntN(18) {
				run := make([]qhit, rng.IntN(40))
				for i := range run {
					run[i].key = fmt.Sprintf("k%05d|%d", rng.IntN(3000), round)
					run[i].id = fmt.Sprint(len(all) + i)
				}
				slices.SortFunc(run, r.order)
				runs = append(runs, run)
				all = append(all, run...)
			}
			got := r.mergeRuns(runs)
			slices.SortStableFunc(all, r.order)
			if len(got) != len(all) {
				t.Fatalf("seed %d: merged %d results of %d", seed, len(got), len(all))
			}
			for i := range got {
				if got[i].key != all[i].key {
					t.Fatalf("seed %d, desc %v: result %d is %q, want %q", seed, desc, i, got[i].key, all[i].key)
				}
			}
		}
	}
}

// TestAReplyNotAsTheScriptWritesThemIsCorrupt: results cut short, of
// another kind, or of a count the reply cannot hold fail with ErrCorrupt,
// not a panic or a huge allocation.
func TestAReplyNotAsTheScriptWritesThemIsCorrupt(t *testing.T) {
	r := &qrun[struct{}]{m: &Model[struct{}]{}}
	r.names = []string{}
	for _, blob := range []string{"", "\x92\xa1k", "\xdd\x7f\xff\xff\xfe\xa1k", "\x92\x01\xa1i", "\x91\xa1k", "\x92\xa1k\x90"} {
		if _, err := r.unpack("ids", blob); !errors.Is(err, errs.Corrupt) {
			t.Errorf("%q: %v, want ErrCorrupt", blob, err)
		}
	}
	hits, err := r.unpack("ids", "\x94\xa1a\xa11\xa1b\xa12")
	if err != nil || len(hits) != 2 || hits[1].key != "b" || hits[1].id != "2" {
		t.Errorf("two ids: %+v, %v", hits, err)
	}
}
