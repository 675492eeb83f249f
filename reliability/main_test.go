// Package reliability_test is the reliability suite of rapyer-go: tests that
// try hard to break the promises of DESIGN section 5 and count what they did.
//
//   - model-based tests (pgregory.net/rapid): random sequences of batches,
//     optimistic updates, saves, deletes and TTL changes, applied to the
//     library and to an in-memory model, compared after every step, on every
//     backend;
//   - linearizability (github.com/anishathalye/porcupine): concurrent clients
//     run batches on counters, lists and maps through a proxy that drops
//     replies, cuts connections and delays traffic, while the script cache is
//     flushed; every history is checked, and operations whose outcome is
//     unknown are modelled as such, never dropped;
//   - faults: lost replies with and without go-redis's own retries, SIGKILL
//     and restart of the server mid-run, SCRIPT FLUSH mid-run, a cluster slot
//     migrated (MIGRATING / IMPORTING / MIGRATE) under load, so that MOVED,
//     ASK and TRYAGAIN are met, and a replica promoted with CLUSTER FAILOVER;
//   - a ledger of batches: every write batch appends a token of its own, and
//     after each run every acknowledged token must be stored exactly once,
//     every token of unknown outcome at most once, every failed one never.
//
// `make reliability` runs the suite (and the fuzz targets' seed corpora) and
// prints the summary the last test writes: histories checked, faults by kind,
// batches run, lost and applied twice.
package reliability_test

import (
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
