package tx_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Options say their defaults one way: a zero field is the default, a named
// negative value turns a thing off (NoRecord, NoResends, Unlimited), and any
// other negative value is refused with rapyer.ErrInvalid naming the field,
// before anything is sent.
func ExampleRetry() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: "acct"})
	_ = accounts.Save(ctx, "a", Account{Balance: 1})
	b := tx.On(accounts.Target("a"), ops.Incr(Balance, 1))

	patient := tx.Options{Retry: tx.Retry{Attempts: 50, Backoff: 2 * time.Millisecond, MaxBackoff: time.Second}}
	_, err := tx.Exec(ctx, rdb, b, patient)
	fmt.Println(err)

	off := tx.Options{Record: tx.NoRecord, Resends: tx.NoResends, Budget: tx.Budget{Moves: tx.Unlimited}}
	_, err = tx.Exec(ctx, rdb, b, off)
	fmt.Println(err)

	_, err = tx.Exec(ctx, rdb, b, tx.Options{Retry: tx.Retry{Attempts: -1}})
	fmt.Println(errors.Is(err, rapyer.ErrInvalid))
	fmt.Println(err)

	a, _ := accounts.Get(ctx, "a")
	fmt.Println(a.Balance)
	// Output:
	// <nil>
	// <nil>
	// true
	// rapyer: invalid argument: tx.Options.Retry.Attempts: a negative count -1; give a positive one, or zero for tx.DefaultAttempts
	// 3
}
