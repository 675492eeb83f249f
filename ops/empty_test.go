package ops_test

import (
	"context"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/tx"
)

// TestEmptyCallsDoNothing: every variadic op given nothing is a valid op
// that sends no command and writes nothing, so a batch of them leaves every
// key as it was, the version included (an op that writes nothing is not a
// write); its yield is 0. Beside a write, the batch bumps the version once,
// as any write batch does.
func TestEmptyCallsDoNothing(t *testing.T) {
	add, discard, del := ops.Add(Flags), ops.Discard(Flags), ops.DeleteItems(Limits)
	empty := tx.Of(ops.Append(History), ops.Prepend(Queue), ops.SetItems(Limits, nil),
		ops.SetItems(Limits, map[string]int{}), add, discard, del)
	if got, err := empty.On(tx.At[Acct]("m:{1}")).Commands(); err != nil || got != "" {
		t.Fatalf("the empty calls render %q, %v; want no instruction", got, err)
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", base)
		before := snapshot(t, b, m, "x")
		res, err := m.Exec(ctx, "x", empty)
		if err != nil {
			t.Fatalf("a batch of empty calls: %v", err)
		}
		for _, y := range []*ops.Yield[int]{add, discard, del} {
			if n, err := y.Result(res); n != 0 || err != nil {
				t.Errorf("%s yields %d, %v; want 0", y, n, err)
			}
		}
		unchanged(t, b, m, before, "a batch of empty calls changed the model")
		_, v0, err := m.GetWithVersion(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Exec(ctx, "x", empty.Then(ops.Incr(Balance, 1))); err != nil {
			t.Fatal(err)
		}
		if _, v1, err := m.GetWithVersion(ctx, "x"); err != nil || v1 != v0+1 {
			t.Fatalf("version %d after one write batch with empty calls, from %d (%v); want %d", v1, v0, err, v0+1)
		}
	})
}
