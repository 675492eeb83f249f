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
	sides := []struct {
		name string
		op   func() error
	}{
		{"Save, compiled", func() error { return m.Save(ctx, "s", it) }},
		{"Save, lean FCALL", func() error {
			shape.Off.Store(true)
			defer shape.Off.Store(false)
			return m.Save(ctx, "l", it)
		}},
		{"om Save twin", func() error {
			v, err := omSave(ctx, rdb, "om:s", omVer, itemFields("s", it))
			omVer = v
			return err
		}},
		{"Get", func() error { _, err := m.Get(ctx, "g"); return err }},
		{"om Fetch twin", func() error { _, err := decodeItemOrErr(rdb.HGetAll(ctx, "om:g").Result()); return err }},
	}
	best := make([]float64, len(sides))
	for r := range rounds {
		for i, s := range sides {
			if r%2 == 1 {
				s = sides[len(sides)-1-i]
				i = len(sides) - 1 - i
			}
			for range 20 {
				must(t, s.op())
			}
			n := cg.Count(calls, s.op)
			if best[i] == 0 || n < best[i] {
				best[i] = n
			}
			t.Logf("round %d %-18s %8.0f instructions per call", r, s.name, n)
		}
	}
	for i, s := range sides {
		t.Logf("best %-18s %8.0f instructions per call", s.name, best[i])
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
	sides := []struct {
		name string
		p    prepared
	}{
		{"rapyer", guarded3Rapyer(t, e)},
		{"Lua function, same promises", guarded3Function(t, e)},
		{"MULTI, no checks", guarded3Multi(t, e)},
	}
	best := make([]float64, len(sides))
	for r := range rounds {
		for j := range sides {
			i := j
			if r%2 == 1 {
				i = len(sides) - 1 - j
			}
			for range 20 {
				must(t, sides[i].p.op())
			}
			n := cg.Count(calls, sides[i].p.op)
			if best[i] == 0 || n < best[i] {
				best[i] = n
			}
			t.Logf("round %d %-28s %8.0f instructions per op", r, sides[i].name, n)
		}
	}
	for i, s := range sides {
		must(t, s.p.check())
		t.Logf("best %-28s %8.0f instructions per op (%.2fx the function)", s.name, best[i], best[i]/best[1])
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
