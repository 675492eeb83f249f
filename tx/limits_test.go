package tx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestBudgetReachesTheServer: Options.Budget is what the server checks, in
// atomic and in optimistic executions, from the model's options or one
// call's; the zero value is the default budget and Unlimited lifts it.
func TestBudgetReachesTheServer(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		history := make([]string, 20)
		for i := range history {
			history[i] = fmt.Sprint(i)
		}
		near := ops.InsertAt(History, 5, "x") // costs 5 moves
		// DefaultBytes + 2 bytes of text
		big := ops.Repeat(lens.Of(func(a *Account) *string { return &a.Owner }), tx.DefaultBytes/2+1)
		tight := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "tight", Exec: tx.Options{Budget: tx.Budget{Moves: 4}}})
		plain := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "plain"})
		for _, m := range []*rapyer.Model[Account]{tight, plain} {
			if err := m.Save(ctx, "a", Account{Owner: "ab", History: history}); err != nil {
				t.Fatal(err)
			}
		}
		tooLarge := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, rapyer.ErrTooLarge) || !strings.Contains(err.Error(), "InsertAt(history") && !strings.Contains(err.Error(), "Repeat(owner") {
				t.Fatalf("%s: %v; want ErrTooLarge naming the op", what, err)
			}
		}
		ok := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		decide := func(o ops.Op) func(Account) (tx.Batch, error) {
			return func(Account) (tx.Batch, error) { return tx.Of(o), nil }
		}
		_, err := tight.Exec(ctx, "a", tx.Of(near))
		tooLarge("Exec with the model's budget of 4 moves", err)
		_, err = tight.Update(ctx, "a", decide(near))
		tooLarge("Update with the model's budget of 4 moves", err)
		_, err = tx.Exec(ctx, b.Client, tx.On(tight.Target("a"), near), tx.Options{Budget: tx.Budget{Moves: 4}})
		tooLarge("tx.Exec with a budget of 4 moves", err)
		_, err = tight.Exec(ctx, "a", tx.Of(near), rapyer.WithBudget(tx.Budget{Moves: 5}))
		ok("Exec with a budget of 5 moves", err)

		_, err = plain.Exec(ctx, "a", tx.Of(big))
		tooLarge("Exec past the default budget", err)
		_, err = plain.Update(ctx, "a", decide(big))
		tooLarge("Update past the default budget", err)
		_, err = plain.Update(ctx, "a", decide(big), rapyer.WithBudget(tx.Budget{Bytes: tx.Unlimited}))
		ok("Update with no byte budget", err)
		if err := plain.Save(ctx, "a", Account{Owner: "ab"}); err != nil {
			t.Fatal(err)
		}
		_, err = plain.Exec(ctx, "a", tx.Of(big), rapyer.WithBudget(tx.Budget{Bytes: tx.DefaultBytes + 2}))
		ok("Exec with a budget raised to the cost", err)
		got, err := plain.Get(ctx, "a")
		ok("Get", err)
		if len(got.Owner) != tx.DefaultBytes+2 {
			t.Fatalf("after the repeat: %d bytes", len(got.Owner))
		}
	})
}
