package rapyer_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Every error of every package wraps one of package rapyer's sentinels:
// tell them apart with errors.Is, whichever package returned the error.
// Some are families: ErrInvalidID is an ErrInvalid, ErrDuplicate an
// ErrPrecondition, ErrLockLost an ErrNotHeld.
func Example_errors() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Wallet struct{ Coins int }
	coins := lens.Of(func(w *Wallet) *int { return &w.Coins })
	wallets := rapyer.MustNew[Wallet](rdb, rapyer.Options{})
	_ = wallets.Save(ctx, "ann", Wallet{Coins: 5})

	_, err := wallets.Get(ctx, "bob")
	fmt.Println("missing:", errors.Is(err, rapyer.ErrNotFound))

	_, err = wallets.Exec(ctx, "ann", tx.Of(ops.Require(is.AtLeast(coins, 10)), ops.Decr(coins, 10)))
	fmt.Println("guard:", errors.Is(err, rapyer.ErrPrecondition))

	_, err = wallets.Get(ctx, "a{b}")
	fmt.Println("bad id:", errors.Is(err, rapyer.ErrInvalidID), errors.Is(err, rapyer.ErrInvalid))

	// a bad option of package tx is refused with rapyer's ErrInvalid too
	_, err = wallets.Update(ctx, "ann", func(w Wallet) (tx.Batch, error) {
		return tx.Of(ops.Set(coins, w.Coins+1)), nil
	}, rapyer.WithRetry(tx.Retry{Attempts: -1}))
	fmt.Println(err)

	w, _ := wallets.Get(ctx, "ann")
	fmt.Println("coins:", w.Coins)
	// Output:
	// missing: true
	// guard: true
	// bad id: true true
	// rapyer: invalid argument: Call.Exec.Retry.Attempts: a negative count -1; give a positive one, or zero for tx.DefaultAttempts
	// coins: 5
}

// Page reads a query a page at a time: the Limit is the size of a page, and
// the Next of a page is the cursor of the one after it ("" after the last).
func ExampleModel_Page() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Player struct {
		Name  string
		Score int
	}
	score := lens.Of(func(p *Player) *int { return &p.Score })
	players := rapyer.MustNew[Player](rdb, rapyer.Options{Indexes: []index.Spec{index.On(score)}})
	for i, name := range []string{"ann", "bob", "cid", "dan", "eve"} {
		_ = players.Save(ctx, name, Player{Name: name, Score: 10 * (i + 1)})
	}

	q := query.Where(is.AtLeast(score, 20)).OrderBy(score).Desc().Limit(2)
	cursor := ""
	for n := 1; ; n++ {
		page, err := players.Page(ctx, q, cursor)
		if err != nil {
			fmt.Println(err)
			return
		}
		var names []string
		for _, e := range page.Items {
			names = append(names, fmt.Sprint(e.ID, "=", e.Value.Score))
		}
		fmt.Println("page", n, names)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	// Output:
	// page 1 [eve=50 dan=40]
	// page 2 [cid=30 bob=20]
}
