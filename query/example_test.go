package query_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

func client() (*redis.Client, func()) {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return c, func() { c.Close(); mr.Close() }
}

// A catalogue report: the products sold out, cheapest first, and how many
// products each status has, counted from the index without reading a
// product.
func Example_catalogue() {
	rdb, done := client()
	defer done()
	ctx := context.Background()
	products := rapyer.MustNew[Product](rdb, rapyer.Options{Prefix: "product", Indexes: []index.Spec{
		index.On(Status), index.On(Price), index.Prefix(Name), index.Members(Tags)}})
	for i, name := range []string{"anvil", "apron", "axe", "bucket", "broom"} {
		status := []string{"sold out", "in stock"}[i%2]
		p := Product{Name: name, Status: status, Price: 10 * (5 - i), Tags: map[string]struct{}{"tools": {}}}
		if err := products.Save(ctx, name, p); err != nil {
			panic(err)
		}
	}
	for p, err := range products.Find(ctx, query.Where(is.Equal(Status, "sold out")).OrderBy(Price)) {
		if err != nil {
			panic(err)
		}
		fmt.Println(p.Name, p.Price)
	}
	for _, s := range []string{"sold out", "in stock"} {
		n, _ := products.Count(ctx, query.Where(is.Equal(Status, s)))
		fmt.Println(s, n)
	}
	n, _ := products.Count(ctx, query.Where(is.And(is.HasPrefix(Name, "a"), is.Member(Tags, "tools"))))
	fmt.Println("tools starting with a:", n)
	// Output:
	// broom 10
	// axe 30
	// anvil 50
	// sold out 3
	// in stock 2
	// tools starting with a: 3
}

type Order struct {
	User   string
	Placed time.Time
	Total  int
}

var (
	OrderUser   = lens.Of(func(o *Order) *string { return &o.User })
	OrderPlaced = lens.Of(func(o *Order) *time.Time { return &o.Placed })
)

// The orders of a user, newest first, a page at a time: the cursor of a
// page resumes after its last order, whatever was written meanwhile.
func Example_ordersOfAUser() {
	rdb, done := client()
	defer done()
	ctx := context.Background()
	orders := rapyer.MustNew[Order](rdb, rapyer.Options{Prefix: "order", Indexes: []index.Spec{
		index.On(OrderUser), index.On(OrderPlaced)}})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		for _, u := range []string{"ann", "bob"} {
			o := Order{User: u, Placed: start.Add(time.Duration(i) * time.Hour), Total: 10 * i}
			if _, err := orders.Insert(ctx, o); err != nil {
				panic(err)
			}
		}
	}
	q := query.Where(is.Equal(OrderUser, "ann")).OrderBy(OrderPlaced).Desc().Limit(2)
	cursor := ""
	for {
		page, err := orders.Page(ctx, q, cursor)
		if err != nil {
			panic(err)
		}
		for _, e := range page.Items {
			fmt.Print(e.Value.Placed.Format("15:04"), " ")
		}
		fmt.Println("|")
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	// Output:
	// 04:00 03:00 |
	// 02:00 01:00 |
	// 00:00 |
}

type Player struct {
	Name  string
	Score int
}

var PlayerScore = lens.Of(func(p *Player) *int { return &p.Score })

// A leaderboard: the top three by score, highest first (ties by id).
func Example_leaderboard() {
	rdb, done := client()
	defer done()
	ctx := context.Background()
	players := rapyer.MustNew[Player](rdb, rapyer.Options{Prefix: "player", Indexes: []index.Spec{index.On(PlayerScore)}})
	for name, score := range map[string]int{"ann": 30, "bob": 55, "cy": 12, "dee": 55, "eve": 41} {
		if err := players.Save(ctx, name, Player{Name: name, Score: score}); err != nil {
			panic(err)
		}
	}
	for p, err := range players.Find(ctx, query.All[Player]().OrderBy(PlayerScore).Desc().Limit(3)) {
		if err != nil {
			panic(err)
		}
		fmt.Println(p.Name, p.Score)
	}
	// Output:
	// dee 55
	// bob 55
	// eve 41
}

type Account struct {
	Email string
	Name  string
}

var Email = lens.Of(func(a *Account) *string { return &a.Email })

// Registration with a unique e-mail: a second account with the same e-mail
// is refused with rapyer.ErrDuplicate in the step of the write, and nothing
// is written.
func Example_uniqueEmail() {
	rdb, done := client()
	defer done()
	ctx := context.Background()
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: "account", Indexes: []index.Spec{index.Unique(Email)}})
	_, err := accounts.Insert(ctx, Account{Email: "ann@example.com", Name: "Ann"})
	fmt.Println(err)
	_, err = accounts.Insert(ctx, Account{Email: "ann@example.com", Name: "Impostor"})
	fmt.Println(errors.Is(err, rapyer.ErrDuplicate))
	for a, err := range accounts.Find(ctx, query.Where(is.Equal(Email, "ann@example.com"))) {
		fmt.Println(a.Name, err)
	}
	// Output:
	// <nil>
	// true
	// Ann <nil>
}
