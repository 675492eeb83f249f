package tx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestS24eIndexedSaveRecordArrayIsErrCorrupt: the record key of an indexed
// Save holding a JSON array (planted by hand: a Save yields nothing, so its
// record is '1', '0' or a batch id, never an array) is ErrCorrupt with
// nothing written, the record as it was, on the compiled shape (Exec's path)
// and on the interpreter's save path (lean). Before session
// 24 the compiled shape answered "applied" (a Duplicate, the save lost
// without a word) and the interpreter overwrote the record and saved.
func TestS24eIndexedSaveRecordArrayIsErrCorrupt(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		name := lens.Of(func(p *PoolItem) *string { return &p.Name })
		m := rapyer.MustNew[PoolItem](b.Client, rapyer.Options{Prefix: b.Prefix + "s24erec", Indexes: []index.Spec{index.On(name)}})
		target := m.Target("o")
		for _, path := range []string{"exec", "lean"} {
			for _, plant := range []string{"[1]", `["x"]`, "[[1],2]", `[{"a":1}]`} {
				b.Client.Del(ctx, target.Root())
				if err := m.Save(ctx, "o", PoolItem{Name: "before", N: 1}); err != nil {
					t.Fatal(err)
				}
				p, err := tx.BuildProgram(b.Client, tx.On(target, ops.Replace(PoolItem{Name: "after", N: 7})), tx.Options{})
				if err != nil {
					t.Fatal(err)
				}
				testenv.Plant(ctx, b.Client, p.Record(), plant)
				var res *tx.Result
				switch path {
				case "exec":
					res, err = p.Exec(ctx, b.Client)
				case "lean":
					res, err = p.Lean(ctx, b.Client)
				}
				got, gerr := m.Get(ctx, "o")
				if gerr != nil {
					t.Fatalf("%s, record %q: get %v", path, plant, gerr)
				}
				if !errors.Is(err, rapyer.ErrCorrupt) {
					t.Errorf("%s, record %q: %+v, %v; want ErrCorrupt", path, plant, res, err)
				}
				if got.N != 1 || got.Name != "before" {
					t.Errorf("%s, record %q: stored %+v, want it untouched", path, plant, got)
				}
				if v, _ := b.Client.Get(ctx, p.Record()).Result(); v != plant {
					t.Errorf("%s, record %q: the record now holds %q", path, plant, v)
				}
			}
		}
	})
}
