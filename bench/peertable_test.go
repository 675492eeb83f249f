package bench_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// peerScenario is a row group of the peer table: what it does, and the
// scenario whose first side is the library and whose other sides are peers.
type peerScenario struct {
	what string
	scenario
}

// peerScenarios are the comparisons of issue #13, in the order of its table.
var peerScenarios = []peerScenario{
	{"Save of an 8-field model", scenario{name: "Save8", workers: 1, paired: true, sides: []side{
		{"rapyer", saveItemRapyer}, {"om Save twin", saveItemOm}}}},
	{"Get of an 8-field model", scenario{name: "Get8", workers: 1, paired: true, sides: []side{
		{"rapyer", getItemRapyer}, {"om Fetch twin", getItemOm}}}},
	{"model Lock cycle: acquire, load, fenced save, release", scenario{name: "ModelLock", workers: 1, paired: true, sides: []side{
		{"rapyer", modelLockRapyer}, {"by hand", modelLockHand}}}},
	{"conditional withdrawal, one goroutine", scenario{name: "Withdraw1Peers", workers: 1, paired: true, sides: []side{
		{"rapyer", withdrawRapyer}, {"WATCH loop", withdrawHand}, {"om loop twin", withdrawOm}}}},
	{"conditional withdrawal, 8 goroutines on one key", scenario{name: "Withdraw8Peers", workers: 8, sides: []side{
		{"rapyer", withdrawRapyer}, {"WATCH loop", withdrawHand}, {"om loop twin", withdrawOm}}}},
	{"guarded batch of 3 ops (AtLeast, Incr, Append)", scenario{name: "Guarded3", workers: 1, paired: true, sides: []side{
		{"rapyer", guarded3Rapyer}, {"Lua function, same promises", guarded3Function}, {"MULTI, no checks", guarded3Multi}}}},
	{"lock acquire + release, uncontended", scenario{name: "LockOnce", workers: 1, paired: true, sides: []side{
		{"rapyer", lockOnce}, {"SET NX PX by hand", lockOnceHand}, {"redislock", lockRedislock},
		{"redsync", lockRedsync}, {"rueidislock", lockRueidis}}}},
	{"lock acquire + release, uncontended, no fence (as every peer)", scenario{name: "LockOnceNoFence", workers: 1, paired: true, sides: []side{
		{"rapyer", lockOnceNoFence}, {"SET NX PX by hand", lockOnceHand}, {"redislock", lockRedislock}}}},
	{"contended lock hand-off, 8 goroutines", scenario{name: "Handoff8", workers: 8, sides: []side{
		{"rapyer", handoffRapyer}, {"SET NX, 1 ms spin", handoffSpin},
		{"redislock, 1 ms linear retry", handoffRedislock}, {"rueidislock", handoffRueidis}}}},
}

func peerList() []scenario {
	out := make([]scenario, len(peerScenarios))
	for i, p := range peerScenarios {
		out[i] = p.scenario
	}
	return out
}

// peerTable has one row per peer: its time against ours, as the median of
// the per-round ratios; and the server's work per op of both, from
// peerServer (st: interleaved rounds on a busy server, with the median of
// their ratios), as the time INFO commandstats counts in the commands and
// as the server process's CPU time.
func peerTable(m measured, st map[string]serverFig) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Peers: %s; the om sides are twins.\n\n", peerVersions())
	sb.WriteString("| work | rapyer | peer | peer's time / ours | paired: peer's time / ours | server µs per op, ours / peer (ours/peer) | server CPU µs per op, ours / peer (ours/peer) |\n|---|---:|---|---:|---:|---:|---:|\n")
	for _, ps := range peerScenarios {
		ours := ps.name + "/" + ps.sides[0].name
		for _, s := range ps.sides[1:] {
			k := ps.name + "/" + s.name
			fmt.Fprintf(&sb, "| %s | %s | %s: %s | %.2fx | %s | %s | %s |\n", ps.what, perOp(m, ours, ps.workers),
				s.name, perOp(m, k, ps.workers), m.ratio(k, ours), pairedFig(m, k),
				serverPair(st[ours].us, st[k].us, st[k].ratio), serverPair(st[ours].cpu, st[k].cpu, st[k].cpuRatio))
		}
	}
	sb.WriteString("\nA ratio above 1 means the peer takes longer. The first ratio times each side in a run of its own; the paired one (one-goroutine rows) alternates the two sides op by op for as many ops, so both meet the machine at the same moments: the median of the rounds' ratios either way. With 8 goroutines the figure is the rate, and time per op is one over it: the ratio is our rate over the peer's. Twins are go-redis code doing the peer's Redis work (rueidis om is not on the module proxy).\n\n")
	sb.WriteString(serverNote())
	return sb.String()
}

// serverPair is a server cell: ours / the peer's (ours/peer), or a dash
// for a peer that failed in its first round.
func serverPair(ours, peer, ratio float64) string {
	if peer == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f / %.1f (%.2fx)", ours, peer, ratio)
}

// serverNote explains the server columns of the peer table, with the
// settings of the run.
func serverNote() string {
	ops, rounds, w := envInt("RAPYER_BENCH_SERVER_OPS", peerServerOps), envInt("RAPYER_BENCH_SERVER_ROUNDS", peerServerRounds), serverWorkers()
	how := fmt.Sprintf("each side runs as %d clients at once, each on keys of its own (an om twin with an entity and a version of its own; a row of 8 goroutines on one key stays one key), so that the server always has a command waiting: the figures are a busy server's work per op, what a Redis core's capacity is made of", w)
	if w == 1 {
		how = "each side runs from one client, which leaves the server idle between its commands (RAPYER_BENCH_SERVER_WORKERS=1: the figures of sessions 13-16, which hold each command's cold start and swing from run to run)"
	}
	return fmt.Sprintf("Server columns: the sides of a row group take turns, %d ops each, in %d rounds (the order reversed every other round); %s. Server µs are what INFO commandstats counts for the commands the client sent; server CPU is the redis-server process's user and system time over the same ops (reading, parsing, replies and network system calls included, a preempted server's waits not). Each figure is the side's median over the rounds, and the one in brackets the median of the rounds' ratios, ours over the peer's (above 1 ours costs the server more). RAPYER_BENCH_SERVER_WORKERS sets the clients.\n", ops, rounds, how)
}

// pairedFig is the median of k's paired ratios (its time over ours, op
// by op), or a dash for a row not timed paired.
func pairedFig(m measured, k string) string {
	if len(m[k].paired) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", median(m[k].paired))
}

// peerModules are the modules of the peers, as go.mod requires them.
var peerModules = []string{"github.com/redis/go-redis/v9", "github.com/bsm/redislock",
	"github.com/go-redsync/redsync/v4", "github.com/redis/rueidis"}

// peerVersions names each peer module with its version in go.mod (the test
// runs in bench/; test binaries carry no module list).
func peerVersions() string {
	b, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		return "versions unknown: " + err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && slices.Contains(peerModules, f[0]) {
			out = append(out, f[0]+" "+f[1])
		}
	}
	return strings.Join(out, ", ")
}

// perOp is a side's time per op, or its rate when workers share the ops.
func perOp(m measured, k string, workers int) string {
	if workers > 1 {
		return fmt.Sprintf("%.0f/s", 1e9/m.ns(k))
	}
	return fmtNs(m.ns(k))
}

// TestPeerTable prints the peer table alone (RAPYER_BENCH_PEERS=1, with
// RAPYER_BENCH_ROUNDS and RAPYER_BENCH_TIME as for make bench, which prints
// it in the performance table).
func TestPeerTable(t *testing.T) {
	if os.Getenv("RAPYER_BENCH_PEERS") != "1" {
		t.Skip("set RAPYER_BENCH_PEERS=1 to run the peer table alone (make bench runs it too)")
	}
	setBenchTime(t)
	mode := benchMode(t)
	e := newEnv(t)
	peers := measureAll(t, e, peerList(), envInt("RAPYER_BENCH_ROUNDS", 7))
	fmt.Printf("\nMachine: %s\n\nMode: %s\n\n%s", machine(e), mode, peerTable(peers, peerServer(t, e)))
	fmt.Printf("\nChart: %s\n", writePeerChart(t, peers, mode))
}
