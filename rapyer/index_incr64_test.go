package rapyer_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestAnIncrOfAUint64PastInt64WritesNothing: a uint64 field may hold a
// value past the int64 range that HINCRBY works on (Save stores it); an
// Incr or Decr of it whose result would be back in range is refused with
// ErrOverflow before the batch's first write, alone (a compiled shape)
// and after an op that writes (the interpreter), and the model and its
// index entries stay as they were: the batch is never partly applied.
func TestAnIncrOfAUint64PastInt64WritesNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "u64"
		m, err := rapyer.New[wItem](b.Client, rapyer.Options{Prefix: prefix, Indexes: wIndexes, Groups: 2})
		if err != nil {
			t.Fatal(err)
		}
		o := ixcheck.MustNew[wItem](t, b.Client, prefix, 2, wIndexes, m.IDs)
		// the same type without indexes: its batches take compiled shapes
		plain, err := rapyer.New[wItem](b.Client, rapyer.Options{Prefix: prefix + "plain"})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*rapyer.Model[wItem]{plain, m} {
			for _, u := range []uint64{1 << 63, 1<<63 + 5, math.MaxUint64} {
				for _, bt := range []tx.Batch{tx.Of(ops.Decr(wU64, 1)), tx.Of(ops.Decr(wU64, 1<<63-1)), tx.Of(ops.Incr(wU64, 0)),
					tx.Of(ops.PopLast(wL), ops.Decr(wU64, 6)), tx.Of(ops.Append(wL, "z"), ops.Set(wS, "s"), ops.Incr(wU64, 0))} {
					if err := m.Save(ctx, "a", wItem{U64: u, L: []string{"x", "y"}}); err != nil {
						t.Fatal(err)
					}
					before, bv, err := m.GetWithVersion(ctx, "a")
					if err != nil {
						t.Fatal(err)
					}
					_, err = m.Exec(ctx, "a", bt)
					if !errors.Is(err, rapyer.ErrOverflow) || errors.Is(err, rapyer.ErrPartlyApplied) {
						t.Fatalf("U64=%d, %v: %v, want ErrOverflow", u, bt, err)
					}
					after, av, err := m.GetWithVersion(ctx, "a")
					if err != nil || av != bv || !cmp.Equal(before, after) {
						t.Fatalf("U64=%d, %v wrote: %+v v%d -> %+v v%d (%v)", u, bt, before, bv, after, av, err)
					}
					if m != plain {
						o.Check(t, bt.String())
					}
				}
			}
		}
	})
}
