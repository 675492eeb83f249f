package bench_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestPeerRows measures the peer table's rows named in RAPYER_BENCH_ROWS
// (scenario names, comma-separated: Get8, ModelLock, ...) alone, as
// TestPeerTable does (the same sides, rounds and bench time), for a change
// that needs no run of the whole table:
//
//	RAPYER_BENCH_ROWS=Get8,ModelLock RAPYER_BENCH_ROUNDS=5 RAPYER_BENCH_TIME=200ms go test -count=1 -run '^TestPeerRows$' -v ./bench/
func TestPeerRows(t *testing.T) {
	names := strings.Split(os.Getenv("RAPYER_BENCH_ROWS"), ",")
	var list []peerScenario
	for _, ps := range peerScenarios {
		if slices.Contains(names, ps.name) {
			list = append(list, ps)
		}
	}
	if len(list) == 0 {
		t.Skip("set RAPYER_BENCH_ROWS to the scenario names of the peer table's rows to measure (Get8,ModelLock)")
	}
	printPeerRows(t, list)
}

// printPeerRows measures the rows of list alone, in interleaved rounds
// (RAPYER_BENCH_ROUNDS, 7 by default) as TestPeerTable does, and prints
// them as the peer table's time columns.
func printPeerRows(t *testing.T, list []peerScenario) {
	setBenchTime(t)
	mode := benchMode(t)
	e := newEnv(t)
	scs := make([]scenario, len(list))
	for i, ps := range list {
		scs[i] = ps.scenario
	}
	m := measureAll(t, e, scs, envInt("RAPYER_BENCH_ROUNDS", 7))
	fmt.Printf("\nMode: %s\n\n| work | rapyer | peer | peer's time / ours | paired |\n|---|---:|---|---:|---:|\n", mode)
	for _, ps := range list {
		ours := ps.name + "/" + ps.sides[0].name
		for _, s := range ps.sides[1:] {
			k := ps.name + "/" + s.name
			fmt.Printf("| %s | %s | %s: %s | %.2fx | %s |\n", ps.what, perOp(m, ours, ps.workers), s.name, perOp(m, k, ps.workers), m.ratio(k, ours), pairedFig(m, k))
		}
	}
}
