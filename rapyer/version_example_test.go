package rapyer_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// GetWithVersion reads a model with the version it was read at. A batch
// guarded by ops.VersionIs with that version applies only if nobody wrote
// the model since: here the second writer, who read before the first one
// wrote, fails with rapyer.ErrPrecondition and changes nothing.
func ExampleModel_GetWithVersion() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct {
		Owner   string
		Balance int
	}
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Owner: "alice", Balance: 100})

	// Two writers read the same snapshot.
	a1, v1, _ := accounts.GetWithVersion(ctx, "alice")
	a2, v2, _ := accounts.GetWithVersion(ctx, "alice")
	fmt.Println(a1 == a2, v1 == v2)

	// Each decides a new balance from what it read, and writes it only if
	// the model is still at the version it read.
	_, err := accounts.Exec(ctx, "alice", tx.Of(ops.VersionIs[Account](v1), ops.Set(balance, a1.Balance-30)))
	fmt.Println(err)
	_, err = accounts.Exec(ctx, "alice", tx.Of(ops.VersionIs[Account](v2), ops.Set(balance, a2.Balance-50)))
	fmt.Println(errors.Is(err, rapyer.ErrPrecondition))

	a, v, _ := accounts.GetWithVersion(ctx, "alice")
	fmt.Println(a.Balance, v != v1)
	// Output:
	// true true
	// <nil>
	// true
	// 70 true
}
