package tx_test

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

// TestS25oCreateIfMissingTwiceAndGuardIndexes: of two CreateIfMissing of
// one model in a batch, the first (in the batch's order) creates it, as
// the interpreter means; and a guard before a CreateIfMissing, which the
// builder moves to the front of the model's instructions, keeps its own
// index in the GuardError, on every tier.
func TestS25oCreateIfMissingTwiceAndGuardIndexes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[S25oBox](b.Client, rapyer.Options{Prefix: b.Prefix + "box"})
		_, err := m.Exec(ctx, "two", tx.Of(ops.CreateIfMissing(S25oBox{N: 1}), ops.Append(s25oList, "x"), ops.CreateIfMissing(S25oBox{N: 2})))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := m.Get(ctx, "two"); err != nil || got.N != 1 {
			t.Fatalf("two CreateIfMissing: %+v, %v; want the first's N 1", got, err)
		}
		_, err = m.Exec(ctx, "two", tx.Of(ops.Incr(s25oN, 1), ops.Require(is.AtLeast(s25oN, 100)), ops.CreateIfMissing(S25oBox{})))
		var ge *rapyer.GuardError
		if !errors.As(err, &ge) || ge.Index != 1 {
			t.Fatalf("a guard at index 1 before a CreateIfMissing: %v (%+v)", err, ge)
		}
	})
}
