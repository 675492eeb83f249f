package rapyer_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// The README's quick start, word for word but for the client (connect gives
// miniredis, or REDIS_URL).
type QuickAccount struct {
	Owner   string
	Balance int
	History []string
	Limits  map[string]int
}

var (
	QuickBalance = lens.Of(func(a *QuickAccount) *int { return &a.Balance })
	QuickHistory = lens.Of(func(a *QuickAccount) *[]string { return &a.History })
)

func Example_quickStart() {
	rdb, prefix, stop := connect("quickstart")
	defer stop()
	ctx := context.Background()
	accounts := rapyer.MustNew[QuickAccount](rdb, rapyer.Options{Prefix: prefix + "_account"})

	_ = accounts.Save(ctx, "alice", QuickAccount{Owner: "alice", Balance: 100})

	// One round trip, all or nothing, the guard checked on the server.
	_, err := accounts.Exec(ctx, "alice", tx.Of(
		ops.AtLeast(QuickBalance, 30),
		ops.Decr(QuickBalance, 30),
		ops.Append(QuickHistory, "withdraw:30"),
	))
	if errors.Is(err, rapyer.ErrPrecondition) {
		fmt.Println("insufficient funds: nothing changed")
	}

	// Decide in Go, retried on conflict.
	_, err = accounts.Update(ctx, "alice", func(a QuickAccount) (tx.Batch, error) {
		return tx.Of(ops.Set(QuickBalance, a.Balance*2)), nil
	})

	// Or wait your turn: what the function changes is saved, fenced by the lock.
	err = accounts.Lock(ctx, "alice", "withdraw", func(a *QuickAccount) error {
		a.Balance -= 10
		return nil
	})

	a, err := accounts.Get(ctx, "alice")
	fmt.Println(a.Balance, a.History, err)
	// Output: 130 [withdraw:30] <nil>
}
