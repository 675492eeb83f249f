package rapyer_test

import (
	"context"
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
