package ops_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestCheckReadsAtItsPoint: Require reads the model as the batch found it;
// Check reads it at its point of the batch, after the writes before it, for
// every kind of leaf.
func TestCheckReadsAtItsPoint(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", base)
		p := is.And(is.Above(Balance, 5), is.Member(Flags, "new"), is.Key(Limits, "new"), is.Element(History, "new"),
			is.Above(is.Len(History), 3), is.Equal(is.Size(Flags), 3))
		before, after := ops.Check(p), ops.Check(p)
		res, err := m.Exec(ctx, "x", tx.Of(before, ops.Require(is.Not(p)), ops.Incr(Balance, 1), ops.Add(Flags, "new"),
			ops.SetItem(Limits, "new", 1), ops.Append(History, "new"), after, ops.Require(is.Not(p))))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if v, err := before.Result(res); v || err != nil {
			t.Errorf("Check before the writes: %v, %v; want false", v, err)
		}
		if v, err := after.Result(res); !v || err != nil {
			t.Errorf("Check after the writes: %v, %v; want true", v, err)
		}
	})
}

// TestCheckOfACorruptFieldWritesNothing: a Check whose field does not parse
// as its kind fails the batch before the first write, wherever it stands.
func TestCheckOfACorruptFieldWritesNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", base)
		if err := b.Client.HSet(ctx, root(t, m, "x"), "big", "12x").Err(); err != nil {
			t.Fatal(err)
		}
		_, err := m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), ops.Check(is.Below(Big, 3))))
		if !errors.Is(err, rapyer.ErrCorrupt) {
			t.Fatalf("Check of a corrupt field: %v; want ErrCorrupt", err)
		}
		if n, err := b.Client.HGet(ctx, root(t, m, "x"), "balance").Int(); err != nil || n != base.Balance {
			t.Fatalf("balance %d (%v) after a failed batch; want %d", n, err, base.Balance)
		}
	})
}
