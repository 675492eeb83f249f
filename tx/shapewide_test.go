package tx_test

import (
	"context"
	"testing"

	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestShapesAgreeNear2To53: integer guards and Incr compare and add as
// numbers up to 2^53 and by cmpint and addint past it (the texts of two
// numbers past it may convert to one double), and the version's checks
// compare a 16-digit version as text: batches on balances, amounts and
// versions on either side of 2^53 (and of 15 and 16 digits) leave the same
// results, errors and stored state on their compiled shapes as on the
// interpreter, on every tier.
func TestShapesAgreeNear2To53(t *testing.T) {
	const exact = 1 << 53
	balances := []string{"9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740993", "1125899906842624", "999999999999999", "1000000000000000", "-1000000000000001"}
	amounts := []int64{exact - 1, exact, exact + 1, -exact - 1, 1 << 50, 1e15}
	incs := []int64{1, -1, 2, exact - 1, -exact, 1 << 50, 3}
	versions := []string{"7", "1764547200123456", "9007199254740991", "9007199254740992"}
	var batches [][]ops.Op
	for _, a := range amounts {
		batches = append(batches, []ops.Op{ops.Require(is.AtLeast(wBalance, a))}, []ops.Op{ops.Require(is.Below(wBalance, a)), ops.Incr(wBalance, 1)})
	}
	for _, d := range incs {
		batches = append(batches, []ops.Op{ops.Incr(wBalance, d)}, []ops.Op{ops.Set(wOwner, "bob"), ops.Incr(wBalance, d)})
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Wallet](b.Client, rapyer.Options{Prefix: b.Prefix + "wallet"})
		target := m.Target("w")
		root := target.Root()
		shape.Forget()
		settled0, _ := transport.ShapeRuns()
		for _, v := range versions {
			for _, bal := range balances {
				for i, o := range batches {
					state := func() {
						b.Client.Del(ctx, tx.Keys(target)...)
						b.Client.HSet(ctx, root, "__v", v, "owner", "ada", "balance", bal)
					}
					state()
					res, err := tx.ExecOnInterpreter(ctx, b.Client, tx.Of(o...).On(target), tx.Options{})
					want := outcome(ctx, b, target, o, res, err) + "version " + b.Client.HGet(ctx, root, "__v").Val()
					state()
					res, err = tx.Exec(ctx, b.Client, tx.Of(o...).On(target), tx.Options{})
					if got := outcome(ctx, b, target, o, res, err) + "version " + b.Client.HGet(ctx, root, "__v").Val(); got != want {
						t.Fatalf("version %s, balance %s, batch %d %v: compiled\n%s\ninterpreter\n%s", v, bal, i, o, got, want)
					}
				}
			}
		}
		settled, _ := transport.ShapeRuns()
		if n := int64(len(versions) * len(balances) * len(batches)); settled-settled0 < n/2 {
			t.Fatalf("only %d of %d batches ran on a compiled shape", settled-settled0, n)
		}
	})
}
