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

// A failed guard is a *GuardError: errors.As tells which guard of the batch
// failed and what the server saw, so a flash sale tells "sold out" from "no
// credits" without reading the message.
func ExampleGuardError() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Buyer struct {
		Credits int
		Stock   int
	}
	buyers := rapyer.MustNew[Buyer](rdb, rapyer.Options{Prefix: "buyer"})
	credits := lens.Of(func(b *Buyer) *int { return &b.Credits })
	stock := lens.Of(func(b *Buyer) *int { return &b.Stock })
	buy := tx.Of(
		ops.AtLeast(stock, 1),    // op 0: sold out?
		ops.AtLeast(credits, 10), // op 1: no credits?
		ops.Decr(stock, 1),
		ops.Decr(credits, 10),
	)

	_ = buyers.Save(ctx, "ann", Buyer{Credits: 5, Stock: 3})
	_, err := buyers.Exec(ctx, "ann", buy)

	var ge *rapyer.GuardError
	if errors.As(err, &ge) {
		switch ge.Field {
		case "stock":
			fmt.Println("sold out")
		case "credits":
			fmt.Printf("no credits: op %d, %s, has %s\n", ge.Index, ge.Op, ge.Seen)
		}
	}
	fmt.Println(errors.Is(err, rapyer.ErrPrecondition))
	fmt.Println(err)
	// Output:
	// no credits: op 1, AtLeast(credits, 10), has 5
	// true
	// rapyer: precondition failed: AtLeast(credits, 10): credits is 5
}
