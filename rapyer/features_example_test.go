package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Embedded structs promote their fields, as in Go and encoding/json: the
// fields of Base are stored as fields of the user ("id", "created"), and a
// lens reaches them like any other field.
func Example_embeddedStructs() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Base struct {
		ID      string
		Created time.Time
	}
	type User struct {
		Base
		Name string
	}
	users := rapyer.MustNew[User](rdb, rapyer.Options{Prefix: "user"})
	created := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	_ = users.Save(ctx, "u1", User{Base: Base{ID: "u1", Created: created}, Name: "Ann"})

	id := lens.Of(func(u *User) *string { return &u.ID })
	_, err := users.Exec(ctx, "u1", tx.Of(ops.Set(id, "u1-renamed")))
	u, _ := users.Get(ctx, "u1")
	fmt.Println(u.ID, u.Created.Format(time.DateOnly), u.Name, err)
	fmt.Println(rdb.HGet(ctx, "user:{u1}", "id").Val())
	// Output:
	// u1-renamed 2026-11-30 Ann <nil>
	// u1-renamed
}

// SaveMany writes several models in one atomic batch (one round trip on one
// server), InsertMany gives them new ids, and DeleteMany removes several,
// reporting those that existed.
func ExampleModel_SaveMany() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct {
		Owner   string
		Balance int
	}
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	err := accounts.SaveMany(ctx, []rapyer.Entry[Account]{
		{ID: "alice", Value: Account{Owner: "alice", Balance: 100}},
		{ID: "bob", Value: Account{Owner: "bob", Balance: 20}},
	})
	fmt.Println(err)
	ids, err := accounts.InsertMany(ctx, Account{Owner: "carol"}, Account{Owner: "dave"})
	fmt.Println(len(ids), err)

	gone, err := accounts.DeleteMany(ctx, "bob", "nobody", ids[0])
	fmt.Println(gone[0], len(gone), err)
	found, missing, _ := accounts.GetMany(ctx, []string{"alice", "bob"})
	fmt.Println(found[0].ID, missing)
	// Output:
	// <nil>
	// 2 <nil>
	// bob 2 <nil>
	// alice [bob]
}

// Duplicate copies a model, collections included, to a new id (or the one
// given), atomically on one server.
func ExampleModel_Duplicate() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Cart struct {
		Owner string
		Items []string
	}
	carts := rapyer.MustNew[Cart](rdb, rapyer.Options{})
	_ = carts.Save(ctx, "c1", Cart{Owner: "ann", Items: []string{"tea", "milk"}})

	id, err := carts.Duplicate(ctx, "c1", "c2")
	c, _ := carts.Get(ctx, id)
	fmt.Println(id, c, err)
	_, err = carts.Duplicate(ctx, "c1", "c2")
	fmt.Println(errors.Is(err, rapyer.ErrExists))
	// Output:
	// c2 {ann [tea milk]} <nil>
	// true
}

// With RefreshTTL, a model that is used stays: every read and batch gives it
// its full TTL again, in the same step.
func ExampleOptions_refreshTTL() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Session struct{ User string }
	sessions := rapyer.MustNew[Session](rdb, rapyer.Options{TTL: 30 * time.Minute, RefreshTTL: true})
	_ = sessions.Save(ctx, "s1", Session{User: "ann"})

	mr.FastForward(20 * time.Minute)
	before, _ := sessions.TTL(ctx, "s1")
	s, err := sessions.Get(ctx, "s1") // refreshes the TTL
	after, _ := sessions.TTL(ctx, "s1")
	fmt.Println(s.User, err, before, after)
	// Output: ann <nil> 10m0s 30m0s
}

// Sweep deletes the keys that fields removed from the struct left behind:
// here Tags, a list, was removed from Profile.
func ExampleModel_Sweep() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	ctx := context.Background()

	type OldProfile struct {
		Name string
		Tags []string
	}
	old := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer old.Close()
	_ = rapyer.MustNew[OldProfile](old, rapyer.Options{Prefix: "profile"}).
		Save(ctx, "p1", OldProfile{Name: "ann", Tags: []string{"go"}})

	type Profile struct{ Name string } // Tags removed
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	profiles := rapyer.MustNew[Profile](rdb, rapyer.Options{Prefix: "profile"})
	removed, err := profiles.Sweep(ctx)
	fmt.Println(removed, err)
	// Output: [profile:{p1}:tags] <nil>
}
