package reliability_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestReliabilitySummary runs last (its file sorts last): it prints the
// figures of the whole run, one "RELIABILITY" line each, and fails when a
// batch was lost or applied twice. RAPYER_RELIABILITY_SUMMARY names a file
// to write them to as well.
func TestReliabilitySummary(t *testing.T) {
	lines := summary()
	for _, l := range lines {
		fmt.Println(l)
	}
	if path := os.Getenv("RAPYER_RELIABILITY_SUMMARY"); path != "" {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
	if n := figures.lost.Load(); n != 0 {
		t.Errorf("%d batches lost", n)
	}
	if n := figures.twice.Load(); n != 0 {
		t.Errorf("%d batches applied twice", n)
	}
	if n := figures.failedApplied.Load(); n != 0 {
		t.Errorf("%d batches failed yet were applied", n)
	}
	if n := figures.ixStale.Load() + figures.ixMissing.Load(); n != 0 {
		t.Errorf("%d stale or missing index entries", n)
	}
	if h, ok := figures.histories.Load(), figures.linearizable.Load(); h != ok {
		t.Errorf("%d of %d histories are not shown linearizable", h-ok, h)
	}
}
