package tx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// A batch's record key (tx{<slot tag>}:<id>) holding text its script never
// writes (an empty JSON array or object, an object, a bare number) is no
// record: every record of a batch that yields something is a non-empty JSON
// array, and '1' and '0' are the only other records. Before session 24 the
// interpreter and the compiled shapes took "{}", "[]" and `{"a":1}` as
// "applied, nothing yielded" (Result.Duplicate, nothing written, a zero
// result): a batch lost without a word. Now the call fails with
// rapyer.ErrCorrupt and writes nothing, on the interpreter and on the
// compiled shape (which leaves the call to the interpreter). "1" and "0" are
// records of an applied batch and stay so (TestS21CorruptRecordKey).
func TestS24aCorruptRecordIsErrCorrupt(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[PoolItem](b.Client, rapyer.Options{Prefix: b.Prefix + "s24arec"})
		target := m.Target("o")
		n := lens.Of(func(p *PoolItem) *int { return &p.N })
		for _, path := range []string{"interp", "exec", "execsave"} {
			for _, plant := range []string{"{}", "[]", `{"a":1}`, `{"1":5}`, "5", `"x"`} {
				b.Client.Del(ctx, target.Root())
				if err := m.Save(ctx, "o", PoolItem{Name: "before", N: 1}); err != nil {
					t.Fatal(err)
				}
				batch := tx.On(target, ops.Incr(n, 6))
				if path == "execsave" {
					batch = tx.On(target, ops.Set(n, 7), ops.Incr(n, 0))
				}
				p, err := tx.BuildProgram(b.Client, batch, tx.Options{})
				if err != nil {
					t.Fatal(err)
				}
				testenv.Plant(ctx, b.Client, p.Record(), plant)
				var res *tx.Result
				if path == "interp" {
					res, err = p.Interpreter(ctx, b.Client)
				} else {
					res, err = p.Exec(ctx, b.Client)
				}
				got, gerr := m.Get(ctx, "o")
				if gerr != nil {
					t.Fatalf("%s, record %q: get %v", path, plant, gerr)
				}
				if !errors.Is(err, rapyer.ErrCorrupt) {
					t.Errorf("%s, record %q: %+v, %v; want ErrCorrupt", path, plant, res, err)
				}
				if got.N != 1 {
					t.Errorf("%s, record %q: stored %+v, want it untouched", path, plant, got)
				}
				if v, _ := b.Client.Get(ctx, p.Record()).Result(); v != plant {
					t.Errorf("%s, record %q: the record now holds %q", path, plant, v)
				}
			}
		}
	})
}

// S24aBag has a list and a map, for the pops that yield a Maybe and a Pair.
type S24aBag struct {
	N     int
	Queue []string
	Items map[string]int
}

// docs/atomicity.md: a resend that finds the record "0" (applied, results
// not kept) gets Duplicate and ResultsNotKept, and "the Result methods of
// yielding ops (ops.Yield, ops.Maybe, ops.Pair) return an error wrapping
// rapyer.ErrResultsNotKept instead of a zero value". Yield was pinned
// (TestResendOfABigBatchReportsResultsNotKept, through a proxy on M and R);
// Maybe and Pair were not. The record is planted by hand, so every tier
// runs it, on the interpreter and on Exec's path; nothing is written again.
func TestS24aResultsNotKeptOfEveryHandle(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[S24aBag](b.Client, rapyer.Options{Prefix: b.Prefix + "s24abag"})
		n := lens.Of(func(s *S24aBag) *int { return &s.N })
		queue := lens.Of(func(s *S24aBag) *[]string { return &s.Queue })
		items := lens.Of(func(s *S24aBag) *map[string]int { return &s.Items })
		start := S24aBag{N: 1, Queue: []string{"a", "b"}, Items: map[string]int{"k": 2}}
		for _, path := range []string{"interp", "exec"} {
			if err := m.Save(ctx, "o", start); err != nil {
				t.Fatal(err)
			}
			inc, pop, pair := ops.Incr(n, 1), ops.PopFirst(queue), ops.PopAnyItem(items)
			p, err := tx.BuildProgram(b.Client, tx.On(m.Target("o"), inc, pop, pair), tx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			testenv.Plant(ctx, b.Client, p.Record(), "0")
			var res *tx.Result
			if path == "interp" {
				res, err = p.Interpreter(ctx, b.Client)
			} else {
				res, err = p.Exec(ctx, b.Client)
			}
			if err != nil || !res.Duplicate || !res.ResultsNotKept {
				t.Fatalf("%s: %+v, %v; want a duplicate whose results were not kept", path, res, err)
			}
			if v, err := inc.Result(res); !errors.Is(err, rapyer.ErrResultsNotKept) || v != 0 {
				t.Errorf("%s: Yield: %v, %v", path, v, err)
			}
			if v, ok, err := pop.Result(res); !errors.Is(err, rapyer.ErrResultsNotKept) || ok || v != "" {
				t.Errorf("%s: Maybe: %q, %v, %v", path, v, ok, err)
			}
			if k, v, err := pair.Result(res); !errors.Is(err, rapyer.ErrResultsNotKept) || k != "" || v != 0 {
				t.Errorf("%s: Pair: %q, %v, %v", path, k, v, err)
			}
			if got, err := m.Get(ctx, "o"); err != nil || got.N != 1 || len(got.Queue) != 2 || len(got.Items) != 1 {
				t.Errorf("%s: stored %+v, %v; want it untouched", path, got, err)
			}
		}
	})
}
