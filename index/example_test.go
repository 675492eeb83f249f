package index_test

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

type User struct {
	Email string
	Age   int
	Tags  map[string]struct{}
}

var (
	Email = lens.Of(func(u *User) *string { return &u.Email })
	Age   = lens.Of(func(u *User) *int { return &u.Age })
	Tags  = lens.Of(func(u *User) *map[string]struct{} { return &u.Tags })
)

// Unique e-mail on registration: the second registration of an address is
// refused in the step of the write, and writes nothing.
func Example() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	users, err := rapyer.New[User](rdb, rapyer.Options{Indexes: []index.Spec{
		index.Unique(Email), index.On(Age), index.Members(Tags),
	}})
	if err != nil {
		panic(err)
	}
	fmt.Println(users.Create(ctx, "ann", User{Email: "ann@example.com", Age: 31}))
	err = users.Create(ctx, "bob", User{Email: "ann@example.com", Age: 40})
	fmt.Println(errors.Is(err, rapyer.ErrDuplicate), errors.Is(err, rapyer.ErrPrecondition))
	// an address let go is free again
	_, err = users.Exec(ctx, "ann", tx.Of(ops.Set(Email, "ann@example.org")))
	fmt.Println(err, users.Create(ctx, "bob", User{Email: "ann@example.com", Age: 40}))
	// Output:
	// <nil>
	// true true
	// <nil> <nil>
}

// New refuses what cannot be indexed, naming the field.
func ExampleOn() {
	type Order struct {
		Total float64
		Lines map[string]int
	}
	total := lens.Of(func(o *Order) *float64 { return &o.Total })
	lines := lens.Of(func(o *Order) *map[string]int { return &o.Lines })
	fmt.Println(index.On(total), index.On(lines))

	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	_, err := rapyer.New[Order](rdb, rapyer.Options{Indexes: []index.Spec{index.On(total), index.On(lines)}})
	fmt.Println(errors.Is(err, rapyer.ErrUnsupported))
	// Output:
	// index.On(Order.total) index.On(Order.lines)
	// true
}

// Prefix indexes a text field for queries by the start of the text (and
// serves equality and order as On does); Members indexes the members of a
// set or list field. Both are declared once, in Options.Indexes, and kept
// in the same atomic step as every write.
func ExamplePrefix() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	users := rapyer.MustNew[User](rdb, rapyer.Options{Prefix: "member", Indexes: []index.Spec{
		index.Prefix(Email), index.Members(Tags),
	}})
	_ = users.Save(ctx, "ann", User{Email: "ann@example.com", Tags: map[string]struct{}{"admin": {}}})
	_ = users.Save(ctx, "andy", User{Email: "andy@example.org"})
	_ = users.Save(ctx, "bob", User{Email: "bob@example.com", Tags: map[string]struct{}{"admin": {}}})

	for id, err := range users.FindIDs(ctx, query.Where(is.HasPrefix(Email, "an")).OrderBy(Email)) {
		fmt.Println(id, err)
	}
	n, _ := users.Count(ctx, query.Where(is.Member(Tags, "admin")))
	fmt.Println("admins:", n)
	// Output:
	// andy <nil>
	// ann <nil>
	// admins: 2
}
