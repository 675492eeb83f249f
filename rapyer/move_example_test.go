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
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// A type stored without indexes gains its first index: its models move to
// their slot groups. The indexed model finds a model not moved yet (Get
// moves it), queries wait for the move (ErrNotIndexed), and Reindex moves
// the rest, then builds the index.
func ExampleModel_Reindex_firstIndex() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Order struct {
		Status string
		Total  int
	}
	status := lens.Of(func(o *Order) *string { return &o.Status })
	plain := rapyer.MustNew[Order](rdb, rapyer.Options{Prefix: "order"})
	for i := range 5 {
		_ = plain.Save(ctx, fmt.Sprint("o", i), Order{Status: []string{"new", "paid"}[i%2], Total: i})
	}

	orders := rapyer.MustNew[Order](rdb, rapyer.Options{Prefix: "order", Indexes: []index.Spec{index.On(status)}})
	o, err := orders.Get(ctx, "o3") // not moved yet: Get moves it
	fmt.Println(o, err)

	done := 0
	err = orders.Reindex(ctx, func(d, total int) {
		if d == 2 { // while it moves, no query answers
			_, qerr := orders.Count(ctx, query.Where(is.Equal(status, "new")))
			fmt.Println(errors.Is(qerr, rapyer.ErrNotIndexed))
		}
		done = d
	})
	fmt.Println(err, done > 0)
	n, err := orders.Count(ctx, query.Where(is.Equal(status, "new")))
	fmt.Println(n, err)
	// Output:
	// {paid 3} <nil>
	// true
	// <nil> true
	// 3 <nil>
}
