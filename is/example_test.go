package is_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

type Account struct {
	Balance int
	Opened  time.Time
	Cart    []string
	Tags    map[string]struct{}
	Limits  map[string]int
}

var (
	Balance = lens.Of(func(a *Account) *int { return &a.Balance })
	Opened  = lens.Of(func(a *Account) *time.Time { return &a.Opened })
	Cart    = lens.Of(func(a *Account) *[]string { return &a.Cart })
	Tags    = lens.Of(func(a *Account) *map[string]struct{} { return &a.Tags })
	Limits  = lens.Of(func(a *Account) *map[string]int { return &a.Limits })
)

// A predicate is a value: it prints, and Holds evaluates it on a Go value
// with the rules the server uses.
func Example() {
	p := is.And(
		is.AtLeast(Balance, 10),
		is.Below(is.Len(Cart), 3),
		is.Not(is.Member(Tags, "banned")),
	)
	fmt.Println(p)
	fmt.Println(p.Holds(Account{Balance: 50, Cart: []string{"book"}}))
	fmt.Println(p.Holds(Account{Balance: 50, Tags: map[string]struct{}{"banned": {}}}))
	// Output:
	// And(AtLeast(balance, 10), Below(Len(cart), 3), Not(Member(tags, "banned")))
	// true
	// false
}

// The same predicate guards a batch on the server (ops.Require) and yields
// whether it holds (ops.Check).
func Example_guard() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Balance: 50, Cart: []string{"book", "pen"}})

	room := is.Below(is.Len(Cart), 3)
	for _, item := range []string{"lamp", "mug"} {
		_, err := accounts.Exec(ctx, "alice", tx.Of(ops.Require(room), ops.Append(Cart, item)))
		fmt.Println(item, errors.Is(err, rapyer.ErrPrecondition))
	}
	vip := ops.Check(is.Or(is.Member(Tags, "vip"), is.AtLeast(Balance, 40)))
	res, _ := accounts.Exec(ctx, "alice", tx.Of(vip))
	ok, _ := vip.Result(res)
	fmt.Println(ok)
	// Output:
	// lamp false
	// mug true
	// true
}

// In is Or of Equal, printed as one.
func ExampleIn() {
	p := is.In(Balance, 0, 100)
	fmt.Println(p, p.Holds(Account{}), p.Holds(Account{Balance: 7}))
	// Output: In(balance, 0, 100) true false
}

// A time.Time compares as an instant: Below is "before", Above "after".
func ExampleBelow() {
	cutoff := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	early := is.Below(Opened, cutoff)
	paris := time.FixedZone("CET", 3600)
	fmt.Println(early)
	fmt.Println(early.Holds(Account{Opened: time.Date(2025, 1, 1, 0, 30, 0, 0, paris)}))
	fmt.Println(is.Equal(Opened, cutoff).Holds(Account{Opened: time.Date(2025, 1, 1, 1, 0, 0, 0, paris)}))
	// Output:
	// Below(opened, 2025-01-01T00:00:00Z)
	// true
	// true
}

// Membership reads "k is a key of Limits", "e is a member of Tags", "e is
// an element of Cart".
func ExampleKey() {
	a := Account{Limits: map[string]int{"daily": 500}, Cart: []string{"book"}}
	fmt.Println(is.Key(Limits, "daily").Holds(a), is.Element(Cart, "pen").Holds(a), is.AtMost(is.Size(Limits), 1).Holds(a))
	// Output: true false true
}
