package reliability_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// figures are the counts of the whole run, printed by the summary test.
var figures = struct {
	histories, linearizable, undecided atomic.Int64 // porcupine checks

	run, acked, unknown, failed atomic.Int64 // batches in ledgers
	lost, twice, failedApplied  atomic.Int64 // violations: must stay 0
	partial, untyped            atomic.Int64 // violations: must stay 0
	lostToRestart               atomic.Int64 // acknowledged, then wiped by a restart without persistence

	sequences, steps atomic.Int64 // model-based tests

	ixChecks, ixEntries, ixStale, ixMissing atomic.Int64 // index keys compared with the stored models
	queries, queryAnswers                   atomic.Int64 // query answers compared with a scan
	histQueries, histQueriesUnknown         atomic.Int64 // queries in linearizability histories
	loadQueries, loadQueryErrs              atomic.Int64 // queries beside the load of fault runs

	mu        sync.Mutex
	faults    map[string]int64
	redirects map[string]int64
}{faults: map[string]int64{}, redirects: map[string]int64{}}

// fault counts n faults of a kind.
func fault(kind string, n int64) {
	if n == 0 {
		return
	}
	figures.mu.Lock()
	figures.faults[kind] += n
	figures.mu.Unlock()
}

// redirect counts a cluster reply of a kind (MOVED, ASK, TRYAGAIN).
func redirect(kind string) {
	figures.mu.Lock()
	figures.redirects[kind]++
	figures.mu.Unlock()
}

func describeCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	var total int64
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
		total += m[k]
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, " "))
}

// summary renders the figures, one line each, every line starting with
// "RELIABILITY" so that make reliability can pick them out.
func summary() []string {
	figures.mu.Lock()
	faults, redirects := describeCounts(figures.faults), describeCounts(figures.redirects)
	figures.mu.Unlock()
	f := &figures
	return []string{
		fmt.Sprintf("RELIABILITY histories checked: %d, linearizable: %d, not linearizable: %d, undecided (checker timeout): %d",
			f.histories.Load(), f.linearizable.Load(), f.histories.Load()-f.linearizable.Load()-f.undecided.Load(), f.undecided.Load()),
		fmt.Sprintf("RELIABILITY faults injected: %s", faults),
		fmt.Sprintf("RELIABILITY cluster redirections met: %s", redirects),
		fmt.Sprintf("RELIABILITY batches run: %d (acknowledged %d, unknown outcome %d, failed %d)",
			f.run.Load(), f.acked.Load(), f.unknown.Load(), f.failed.Load()),
		fmt.Sprintf("RELIABILITY acknowledged batches wiped by a server restart without persistence (expected): %d", f.lostToRestart.Load()),
		fmt.Sprintf("RELIABILITY model-based: %d sequences, %d steps compared with the in-memory model", f.sequences.Load(), f.steps.Load()),
		fmt.Sprintf("RELIABILITY indexes: %d comparisons of every group's index keys with the stored models (%d entries), stale %d, missing %d",
			f.ixChecks.Load(), f.ixEntries.Load(), f.ixStale.Load(), f.ixMissing.Load()),
		fmt.Sprintf("RELIABILITY queries: %d compared with a scan of the stored models (%d answers: FindIDs, Find, Page, Count), wrong 0 (a wrong one fails its test)",
			f.queries.Load(), f.queryAnswers.Load()),
		fmt.Sprintf("RELIABILITY queries in the linearizability histories: %d (failed, kept as of unknown outcome: %d)",
			f.histQueries.Load(), f.histQueriesUnknown.Load()),
		fmt.Sprintf("RELIABILITY queries beside the load of fault runs: %d, each answer holding for its predicate, in order (failed while the server was down or loading, or across a migrating slot: %d)",
			f.loadQueries.Load(), f.loadQueryErrs.Load()),
		fmt.Sprintf("RELIABILITY batches that failed yet were applied: %d", f.failedApplied.Load()),
		fmt.Sprintf("RELIABILITY batches lost: %d", f.lost.Load()),
		fmt.Sprintf("RELIABILITY batches applied twice: %d", f.twice.Load()),
		fmt.Sprintf("RELIABILITY batches partly applied: %d, failed with an untyped error: %d", f.partial.Load(), f.untyped.Load()),
	}
}
