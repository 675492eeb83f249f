package rapyer_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestFloat32ArithmeticStoresTheFloat32: the server's arithmetic on a
// float32 field (Incr, Mul, Div, Pow, FloorDiv, Mod, Max, Min) stores the
// float32 Go would compute, in the text a Save of that value stores, so
// that the value Get gives is the one its index entry and a guard hold: a
// query of Equal(f, v) for the v Get gives finds the model, whatever
// arithmetic made it (16777216+1 stayed 16777217 on the server, 2^24 in
// Go, and 2^48 as "281474976710656" was not "2.8147498e+14").
func TestFloat32ArithmeticStoresTheFloat32(t *testing.T) {
	type step struct {
		from float32
		op   ops.Op
		want float32
	}
	steps := []step{
		{16777216, ops.Incr(wF32, 1), 16777216},
		{16777216, ops.Incr(wF32, 3), 16777220},
		{16777216, ops.Pow(wF32, 2), 1 << 48},
		{0.1, ops.Incr(wF32, 0.2), float32(0.1) + float32(0.2)},
		{0.1, ops.Mul(wF32, 3), float32(0.1) * 3},
		{1, ops.Div(wF32, 3), float32(1) / 3},
		{-7.5, ops.FloorDiv(wF32, 2), -4},
		{7.3, ops.Mod(wF32, 2), float32(math.Mod(float64(float32(7.3)), 2))},
		{0.1, ops.Max(wF32, 0.2), 0.2},
		{0.3, ops.Min(wF32, 0.1), 0.1},
		{1e-45, ops.Div(wF32, 3), 0},
		{3e-45, ops.Mul(wF32, 0.5), 1e-45},
		{math.MaxFloat32, ops.Decr(wF32, 1), math.MaxFloat32},
		{16777216, ops.Decr(wF32, -1.5), 16777218},
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "f32"
		m, err := rapyer.New[wItem](b.Client, rapyer.Options{Prefix: prefix, Indexes: wIndexes, Groups: 2})
		if err != nil {
			t.Fatal(err)
		}
		o := ixcheck.MustNew[wItem](t, b.Client, prefix, 2, wIndexes, m.IDs)
		for i, s := range steps {
			id := fmt.Sprint("f", i)
			if err := m.Save(ctx, id, wItem{F32: s.from}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Exec(ctx, id, tx.Of(s.op)); err != nil {
				t.Fatalf("%v on %v: %v", s.op, s.from, err)
			}
			got, err := m.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.F32 != s.want {
				t.Errorf("%v on %v: Get gives %v, want %v", s.op, s.from, got.F32, s.want)
			}
			if _, err := m.Exec(ctx, id, tx.Of(ops.Require(is.Equal(wF32, got.F32)))); err != nil {
				t.Errorf("%v on %v: a guard of the value Get gives: %v", s.op, s.from, err)
			}
			var found []string
			for fid, err := range m.FindIDs(ctx, query.Where(is.Equal(wF32, got.F32))) {
				if err != nil {
					t.Fatal(err)
				}
				found = append(found, fid)
			}
			if !slices.Contains(found, id) {
				t.Errorf("%v on %v: Equal(f32, %v) found %q, not %s", s.op, s.from, got.F32, found, id)
			}
			o.Check(t, s.op.String())
		}
	})
}
