package tx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// A batch record key turned into another Redis type, or into text that is
// no record, behind its client's back (DESIGN 5.12: no panic from data in
// Redis; 5.2: a failed batch changes nothing): the batch is applied, or it
// fails with a typed error and writes nothing, on every path a batch
// takes.
func TestS21CorruptRecordKey(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[PoolItem](b.Client, rapyer.Options{Prefix: b.Prefix + "s21rec"})
		target := m.Target("o")
		for _, path := range []string{"direct", "lean", "interp", "exec", "incr"} {
			for _, plant := range []string{"list", "hash", "set", "zset", "garbage", "[1,2", "{}", "[]", "0", "1", "F"} {
				b.Client.Del(ctx, target.Root())
				if err := m.Save(ctx, "o", PoolItem{Name: "before", N: 1}); err != nil {
					t.Fatal(err)
				}
				batch := tx.On(target, ops.Replace(PoolItem{Name: "after", N: 7}))
				if path == "incr" {
					batch = tx.On(target, ops.Incr(lens.Of(func(p *PoolItem) *int { return &p.N }), 6))
				}
				p, err := tx.BuildProgram(b.Client, batch, tx.Options{})
				if err != nil {
					t.Fatal(err)
				}
				testenv.Plant(ctx, b.Client, p.Record(), plant)
				var res *tx.Result
				switch path {
				case "direct":
					res, _, err = p.Direct(ctx, b.Client)
				case "lean":
					res, err = p.Lean(ctx, b.Client)
				case "interp", "incr":
					res, err = p.Interpreter(ctx, b.Client)
				case "exec":
					res, err = p.Exec(ctx, b.Client)
				}
				got, gerr := m.Get(ctx, "o")
				if gerr != nil {
					t.Fatalf("%s, record %q: get %v", path, plant, gerr)
				}
				t.Logf("%s, record %q: %+v %v; stored %+v", path, plant, res, err, got)
				switch {
				case (plant == "garbage" || plant == "[1,2") && (path == "interp" || path == "incr") && !errors.Is(err, rapyer.ErrCorrupt):
					t.Errorf("%s, record %q: %v, want ErrCorrupt", path, plant, err)
				case err != nil && !errs.Typed(err):
					t.Errorf("%s, record %q: untyped %v", path, plant, err)
				case err != nil && got.N != 1:
					t.Errorf("%s, record %q: failed with %v, yet stored %+v", path, plant, err, got)
				case err == nil && res.Duplicate && (plant == "1" || path == "interp" || path == "incr"):
					// "1" answers every path as applied; the interpreter's
					// record key is fresh for every batch:
					// a record there is this batch's (by design)
				case err == nil && res.Duplicate:
					t.Errorf("%s, record %q: answered as a duplicate, stored %+v", path, plant, got)
				case err == nil && got.N != 7:
					t.Errorf("%s, record %q: acknowledged, stored %+v", path, plant, got)
				}
			}
		}
	})
}
