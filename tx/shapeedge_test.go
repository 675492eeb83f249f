package tx_test

import (
	"context"
	"testing"

	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Purse has a narrow integer field: its bounds are in a compiled shape's
// text, compared as numbers on the short path.
type Purse struct {
	Balance int64
	Small   int8
	History []string
}

var (
	pBalance = lens.Of(func(p *Purse) *int64 { return &p.Balance })
	pSmall   = lens.Of(func(p *Purse) *int8 { return &p.Small })
	pHistory = lens.Of(func(p *Purse) *[]string { return &p.History })
)

// TestShapeEdgesAgreeWithTheInterpreter: the short paths of a compiled
// shape (integers compared and summed as numbers below 2^53, a version of
// at most 15 digits taken as below 2^53, bounds in the text) and their
// long ones agree with the interpreter on the edges (and
// TestShapesAgreeNear2To53 on either side of 2^53): versions
// that are not counts or reach 2^53, sums that leave an int8 or an int64,
// integers of 15, 16 and 19 digits, on every tier.
func TestShapeEdgesAgreeWithTheInterpreter(t *testing.T) {
	versions := []string{"7", "999999999999999", "1000000000000000", "9007199254740991", "9007199254740992", "01", "-3", "x", ""}
	balances := []string{"100", "-999999999999999", "999999999999999", "1000000000000000", "-1000000000000000", "9223372036854775806", "-9223372036854775807", "12x"}
	smalls := []string{"0", "126", "-127", "127", "1000"}
	batches := [][]ops.Op{
		{ops.Require(is.AtLeast(pBalance, 0)), ops.Incr(pBalance, 1), ops.Append(pHistory, "d")},
		{ops.Require(is.Below(pBalance, 1000000000000000)), ops.Decr(pBalance, 999999999999999), ops.Incr(pSmall, 1)},
		{ops.Require(is.Not(is.AtMost(pSmall, -2))), ops.Decr(pSmall, 2), ops.Incr(pBalance, 1<<62)},
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Purse](b.Client, rapyer.Options{Prefix: b.Prefix + "purse"})
		target := m.Target("p")
		keys := tx.Keys(target)
		shape.Forget()
		settled0, _ := transport.ShapeRuns()
		set := func(v, bal, small string) {
			b.Client.Del(ctx, keys...)
			b.Client.HSet(ctx, keys[0], "__v", v, "balance", bal, "small", small)
			b.Client.RPush(ctx, keys[1], "h")
		}
		n := 0
		for _, v := range versions {
			for _, bal := range balances {
				for j, small := range smalls {
					o := batches[(n+j)%len(batches)]
					n++
					set(v, bal, small)
					res, err := tx.ExecOnInterpreter(ctx, b.Client, tx.Of(o...).On(target), tx.Options{})
					want := outcome(ctx, b, target, o, res, err)
					set(v, bal, small)
					res, err = tx.Exec(ctx, b.Client, tx.Of(o...).On(target), tx.Options{})
					if got := outcome(ctx, b, target, o, res, err); got != want {
						t.Fatalf("version %q, balance %q, small %q, %v: compiled\n%s\ninterpreter\n%s", v, bal, small, o, got, want)
					}
				}
			}
		}
		settled, _ := transport.ShapeRuns()
		t.Logf("%d of %d batches settled on a compiled shape", settled-settled0, n)
		if settled-settled0 < int64(n/4) {
			t.Fatalf("only %d of %d batches settled on a compiled shape", settled-settled0, n)
		}
	})
}
