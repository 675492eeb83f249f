package bench_test

// Whether the lock's acquire costs the server more as an FCALL of the
// whole function library than as a script or as an FCALL of a small
// library (docs/performance.md "Session 9: the model Lock cycle"). It does
// not run in make test: it needs RAPYER_BENCH=1 (or a callgrind server).

import (
	"os"
	"strconv"
	"testing"

	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/script"
)

// acquireForm is one way of sending the same acquire call: the command,
// and the function or script it names.
type acquireForm struct {
	name       string
	word, what string
}

// acquireForms loads what each form needs on rdb and returns them: the
// acquire of the whole library by FCALL (as Model.Lock sends it), the same
// entry as a script (lock.lua alone, EVALSHA), and by FCALL of a library
// of lock.lua alone.
func acquireForms(t testing.TB, e *env) []acquireForm {
	src, err := os.ReadFile("../internal/lua/lock.lua")
	must(t, err)
	small := script.NewParts("rapyerlk", script.Part{Source: string(src), Entries: []string{"acquire", "release"}})
	must(t, lua.Library.Load(e.ctx, e.rdb))
	must(t, small.Load(e.ctx, e.rdb))
	must(t, lua.Acquire.Script().Load(e.ctx, e.rdb).Err())
	return []acquireForm{
		{"fcall-library", "fcall", lua.Acquire.Name()},
		{"evalsha-lock.lua", "evalsha", lua.Acquire.Script().Hash()},
		{"fcall-small-library", "fcall", small.Func("acquire").Name()},
	}
}

// acquireOp is one uncontended acquire of form f on a key of its own, as
// a caller without a fence that will not wait sends it (token and TTL;
// Model.Lock adds its client id), then the
// release: a DEL alone, or (mixed) the hand's fenced save and release
// scripts, so that the cycle also runs the scripts' VM.
func acquireOp(t testing.TB, e *env, f acquireForm, mixed bool) prepared {
	id := e.id("vm")
	lk, root := "vm:{"+id+"}:lock", "vm:{"+id+"}"
	must(t, e.rdb.HSet(e.ctx, root, "visits", 0, "ver", 1).Err())
	must(t, fencedSave.Load(e.ctx, e.rdb).Err())
	must(t, handRelease.Load(e.ctx, e.rdb).Err())
	var n int64
	return prepared{op: func() error {
		n++
		tok := rapyerToken()
		r, err := e.rdb.Do(e.ctx, f.word, f.what, 1, lk, tok, 10000).Int64()
		if err == nil && r != 0 {
			err = strconv.ErrRange
		}
		if err != nil {
			return err
		}
		if !mixed {
			return e.rdb.Del(e.ctx, lk).Err()
		}
		if err := fencedSave.EvalSha(e.ctx, e.rdb, []string{root, lk}, tok, "visits", n).Err(); err != nil {
			return err
		}
		return handRelease.EvalSha(e.ctx, e.rdb, []string{lk}, tok).Err()
	}}
}

// TestAcquireFormsCommandStats logs the server's µs per op of each acquire
// form, alone (acquire + DEL) and mixed (acquire + the hand's save and
// release scripts), over interleaved rounds on a private server:
//
//	RAPYER_BENCH=1 go test -count=1 -v -run TestAcquireFormsCommandStats ./bench/
func TestAcquireFormsCommandStats(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") != "1" {
		t.Skip("RAPYER_BENCH=1 to measure")
	}
	e := newEnv(t)
	forms := acquireForms(t, e)
	for _, mixed := range []bool{false, true} {
		ops := make([]prepared, len(forms))
		for i, f := range forms {
			ops[i] = acquireOp(t, e, f, mixed)
			warm(t, ops[i])
		}
		usec := make([]float64, len(forms))
		acq := make([]float64, len(forms)) // the acquire's own line
		const rounds, per = 30, 200
		for r := range rounds {
			for j := range forms {
				i := (j + r) % len(forms)
				must(t, e.rdb.ConfigResetStat(e.ctx).Err())
				for range per {
					must(t, ops[i].op())
				}
				for _, c := range commandStats(t, e) {
					if c.name != "config" && c.name != "info" {
						usec[i] += c.usec
					}
					if c.name == forms[i].word {
						acq[i] += c.usec
					}
				}
			}
		}
		for i, f := range forms {
			t.Logf("mixed=%v %-20s server µs/op %6.2f, of which %s %6.2f", mixed, f.name, usec[i]/rounds/per, f.word, acq[i]/rounds/per)
		}
	}
}

// TestAcquireFormsCallgrind counts the server's instructions per op of
// each form, alone and mixed, on a redis-server under callgrind
// (RAPYER_CALLGRIND=1 go test -count=1 -v -run TestAcquireFormsCallgrind ./bench/).
func TestAcquireFormsCallgrind(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") != "1" {
		t.Skip("RAPYER_CALLGRIND=1 to measure")
	}
	cg := startCallgrind(t)
	e := &env{ctx: t.Context(), rdb: cg.Client}
	forms := acquireForms(t, e)
	const n = 2000
	for _, mixed := range []bool{false, true} {
		for _, f := range forms {
			p := acquireOp(t, e, f, mixed)
			warm(t, p)
			cg.Control("-z")
			for range n {
				must(t, p.op())
			}
			cg.Control("-d")
			t.Logf("mixed=%v %-20s instructions/op %8.0f", mixed, f.name, cg.Instructions()/n)
		}
	}
}
