package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// snapshot copies the counts of kind.
func snapshot(kind Kind) tierCount {
	tally.Lock()
	defer tally.Unlock()
	if c := tally.rec.Tiers[kind]; c != nil {
		return *c
	}
	return tierCount{}
}

func TestOnCountsEachSubtestOncePerTier(t *testing.T) {
	before := snapshot(Mini)
	t.Run("ran", func(t *testing.T) {
		On(t, Mini)
		On(t, Mini) // a second backend of the same kind: the test still counts once
	})
	t.Run("skipped", func(t *testing.T) {
		On(t, Mini)
		t.Skip("skipped by the test itself")
	})
	after := snapshot(Mini)
	if after.Ran-before.Ran != 1 || after.Skipped-before.Skipped != 1 || after.Missing != before.Missing {
		t.Fatalf("miniredis counts went from %+v to %+v; want one more ran and one more skipped", before, after)
	}
}

func writeRecord(t *testing.T, dir string, rec tierRecord) {
	t.Helper()
	tally.Lock()
	saved := tally.rec
	tally.rec = rec
	tally.Unlock()
	defer func() {
		tally.Lock()
		tally.rec = saved
		tally.Unlock()
	}()
	t.Setenv(TierDirEnv, dir)
	writeTierRecord()
}

func TestSummarizeTiers(t *testing.T) {
	dir := t.TempDir()
	writeRecord(t, dir, tierRecord{
		Tiers: map[Kind]*tierCount{
			Mini:    {Ran: 10, Skipped: 2},
			Server:  {Ran: 9, Skipped: 3},
			Cluster: {Ran: 8, Failed: 1},
		},
		Server:  "127.0.0.1:4000",
		Masters: []string{"127.0.0.1:5000", "127.0.0.1:5001", "127.0.0.1:5002"},
		Private: 2,
	})
	writeRecord(t, dir, tierRecord{Tiers: map[Kind]*tierCount{Mini: {Ran: 5}}})
	lines, err := SummarizeTiers(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"TIER miniredis: 15 subtests ran in 2 packages, on an embedded miniredis, fresh for each subtest; 2 skipped by the test itself",
		"TIER redis: 9 subtests ran in 1 package, on a real redis-server",
		"per package, on a free port (127.0.0.1:4000); 3 skipped by the test itself",
		"TIER cluster: 8 subtests ran in 1 package, on a real Redis Cluster of 3 masters per package",
		", 1 FAILED",
		"TIER private: 2 redis-servers and clusters",
		"TIER records: from 2 test binaries",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the summary lacks %q:\n%s", want, got)
		}
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "TIER ") {
			t.Errorf("line %q does not start with TIER", l)
		}
	}
}

func TestSummarizeTiersSaysSkippedLoudly(t *testing.T) {
	dir := t.TempDir()
	why := `REAL REDIS TIER SKIPPED for "redis": not found`
	writeRecord(t, dir, tierRecord{Tiers: map[Kind]*tierCount{
		Mini:   {Ran: 3},
		Server: {Skipped: 3, Missing: 3, Why: why},
	}})
	lines, err := SummarizeTiers(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"TIER redis: SKIPPED: 0 subtests ran, 3 skipped: " + why,
		"TIER cluster: no test of this run asked for it",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the summary lacks %q:\n%s", want, got)
		}
	}
}

func TestSummarizeTiersWithoutRecords(t *testing.T) {
	lines, err := SummarizeTiers(t.TempDir())
	if err != nil || len(lines) != 1 || !strings.Contains(lines[0], "no test binary wrote a tier record") {
		t.Fatalf("SummarizeTiers of an empty directory = %q, %v", lines, err)
	}
}

func TestTierRecordOnlyWhenAsked(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(TierDirEnv, "")
	writeTierRecord()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a record was written without %s", TierDirEnv)
	}
	writeRecord(t, dir, tierRecord{Tiers: map[Kind]*tierCount{}})
	if paths, _ := filepath.Glob(filepath.Join(dir, "tiers-*.json")); len(paths) != 1 {
		t.Fatalf("records under %s: %v, want one", dir, paths)
	}
}
