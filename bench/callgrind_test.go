package bench_test

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestSaveInstructions counts the server's instructions per call of Save
// and Get of the 8-field model and of their om twins, with redis-server run
// under valgrind's callgrind: deterministic to a few per cent where wall
// and commandstats times swing by 2x on a loaded machine.
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestSaveInstructions$' -v ./bench/
//
// Each side runs calls ops after a warm-up, with the counters zeroed
// before and dumped after (callgrind_control); the sides are interleaved,
// rounds times, and the lowest count of each is reported.
func TestSaveInstructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	const calls, rounds = 500, 3
	cg := testenv.StartCallgrind(t, t.TempDir())
	ctx := context.Background()
	rdb := cg.Client
	m := rapyer.MustNew[Item](rdb, rapyer.Options{Prefix: "item"})
	it := newItem()
	must(t, m.Save(ctx, "g", it))
	_, err := omSave(ctx, rdb, "om:g", 0, itemFields("g", it))
	must(t, err)
	var omVer int64
	sides := []testenv.Side{
		{Name: "Save, compiled", Op: func() error { return m.Save(ctx, "s", it) }},
		{Name: "Save, lean FCALL", Op: func() error {
			shape.Off.Store(true)
			defer shape.Off.Store(false)
			return m.Save(ctx, "l", it)
		}},
		{Name: "om Save twin", Op: func() error {
			v, err := omSave(ctx, rdb, "om:s", omVer, itemFields("s", it))
			omVer = v
			return err
		}},
		{Name: "Get", Op: func() error { _, err := m.Get(ctx, "g"); return err }},
		{Name: "om Fetch twin", Op: func() error { _, err := decodeItemOrErr(rdb.HGetAll(ctx, "om:g").Result()); return err }},
	}
	best := cg.Best(rounds, calls, sides)
	for i, s := range sides {
		t.Logf("best %-18s %8.0f instructions per call", s.Name, best[i])
	}
	_ = slices.Max(best)
}

// TestGuarded3Instructions counts the server's instructions per op of the
// peer table's guarded 3-op batch (AtLeast, Incr, Append with its record):
// what Exec sends, the hand-written Lua function with the same promises,
// and MULTI without checks; as TestSaveInstructions does.
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestGuarded3Instructions$' -v ./bench/
func TestGuarded3Instructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	const calls, rounds = 500, 3
	cg := testenv.StartCallgrind(t, t.TempDir())
	e := &env{ctx: context.Background(), rdb: cg.Client}
	ps := []prepared{guarded3Rapyer(t, e), guarded3Function(t, e), guarded3Multi(t, e)}
	sides := []testenv.Side{{Name: "rapyer", Op: ps[0].op}, {Name: "Lua function, same promises", Op: ps[1].op}, {Name: "MULTI, no checks", Op: ps[2].op}}
	best := cg.Best(rounds, calls, sides)
	for i, s := range sides {
		must(t, ps[i].check())
		t.Logf("best %-28s %8.0f instructions per op (%.2fx the function)", s.Name, best[i], best[i]/best[1])
	}
}

func decodeItemOrErr(h map[string]string, err error) (Item, error) {
	if err != nil {
		return Item{}, err
	}
	return decodeItem(h)
}

// BenchmarkSave8 and BenchmarkGet8 are the peer table's Save and Get rows
// as plain benchmarks, for allocations and profiles:
//
//	go test -run '^$' -bench 'Save8|Get8' -benchmem ./bench/
func BenchmarkSave8(b *testing.B) { runGo(b, peerScenarios[0].scenario) }

// BenchmarkGet8: see BenchmarkSave8.
func BenchmarkGet8(b *testing.B) { runGo(b, peerScenarios[1].scenario) }

// TestWithdrawInstructions counts the server's instructions per op of the
// conditional withdrawal (scenario 2, BenchmarkWithdraw): the batch Exec
// sends (AtLeast and Decr of a balance of 2^50, sixteen digits, with its
// record) against the go-redis WATCH loop (WATCH, GET, MULTI DECRBY EXEC,
// UNWATCH: its four round trips together); as TestSaveInstructions does.
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestWithdrawInstructions$' -v ./bench/
func TestWithdrawInstructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	const calls, rounds = 500, 3
	cg := testenv.StartCallgrind(t, t.TempDir())
	e := &env{ctx: context.Background(), rdb: cg.Client}
	ps := []prepared{withdrawRapyer(t, e), withdrawHand(t, e)}
	sides := []testenv.Side{{Name: "rapyer", Op: ps[0].op}, {Name: "WATCH loop", Op: ps[1].op}}
	best := cg.Best(rounds, calls, sides)
	for i, s := range sides {
		t.Logf("best %-12s %8.0f instructions per op (%.2fx the WATCH loop)", s.Name, best[i], best[i]/best[1])
	}
}
