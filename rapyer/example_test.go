package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// New binds a struct type to a client and a key prefix. The layout of the type
// is resolved once: scalars go to one hash, slices to lists, maps to hashes,
// map[E]struct{} to sets, all keys in one cluster slot. A type that cannot be
// stored is refused with an error that names the field.
func ExampleNew() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	type Account struct {
		Owner   string
		Balance int
		History []string
		Limits  map[string]int
	}
	accounts, err := rapyer.New[Account](rdb, rapyer.Options{Prefix: "account"})
	if err != nil {
		fmt.Println(err)
		return
	}
	keys, _ := accounts.Keys("alice")
	fmt.Println(keys)

	type Bad struct{ Updates chan int }
	_, err = rapyer.New[Bad](rdb, rapyer.Options{})
	fmt.Println(errors.Is(err, rapyer.ErrUnsupported))
	// Output:
	// [account:{alice} account:{alice}:history account:{alice}:limits]
	// true
}

// Save writes a whole model in one atomic step, collections included,
// replacing what was stored under the id.
func ExampleModel_Save() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct {
		Owner   string
		Balance int
		History []string
	}
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: "account"})

	err := accounts.Save(ctx, "alice", Account{Owner: "alice", Balance: 100, History: []string{"open"}})
	fmt.Println(err)
	// The data is plain Redis: a hash and a list.
	fmt.Println(rdb.HGet(ctx, "account:{alice}", "balance").Val())
	fmt.Println(rdb.LRange(ctx, "account:{alice}:history", 0, -1).Val())
	// Output:
	// <nil>
	// 100
	// [open]
}

// Get reads a model in one round trip, as one consistent snapshot. A missing
// model gives rapyer.ErrNotFound.
func ExampleModel_Get() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct {
		Owner   string
		Balance int
		Limits  map[string]int
	}
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Owner: "alice", Balance: 100, Limits: map[string]int{"daily": 500}})

	a, err := accounts.Get(ctx, "alice")
	fmt.Printf("%+v %v\n", a, err)
	_, err = accounts.Get(ctx, "nobody")
	fmt.Println(errors.Is(err, rapyer.ErrNotFound))
	// Output:
	// {Owner:alice Balance:100 Limits:map[daily:500]} <nil>
	// true
}

// GetMany reads several models in one round trip: those found, each with
// its id, in the order asked, and the ids that do not exist.
func ExampleModel_GetMany() {
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
	_ = accounts.Save(ctx, "alice", Account{Owner: "alice", Balance: 100})
	_ = accounts.Save(ctx, "bob", Account{Owner: "bob", Balance: 20})

	found, missing, err := accounts.GetMany(ctx, []string{"bob", "carol", "alice"})
	for _, e := range found {
		fmt.Println(e.ID, e.Value.Balance)
	}
	fmt.Println(missing, err)
	// Output:
	// bob 20
	// alice 100
	// [carol] <nil>
}

// Exec runs a batch of ops on one model atomically: one round trip, all or
// nothing, guards checked on the server before the first write.
func ExampleModel_Exec() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct {
		Balance int
		History []string
	}
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	history := lens.Of(func(a *Account) *[]string { return &a.History })
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Balance: 100})

	withdraw := func(amount int) error {
		_, err := accounts.Exec(ctx, "alice", tx.Of(
			ops.Require(is.AtLeast(balance, amount)),
			ops.Decr(balance, amount),
			ops.Append(history, fmt.Sprintf("withdraw:%d", amount)),
		))
		return err
	}
	fmt.Println(withdraw(30))
	fmt.Println(errors.Is(withdraw(100), rapyer.ErrPrecondition))
	a, _ := accounts.Get(ctx, "alice")
	fmt.Println(a.Balance, a.History)
	// Output:
	// <nil>
	// true
	// 70 [withdraw:30]
}

// SkipIfMissing makes a call on a model that is gone do nothing, create
// nothing, and report Result.Skipped, instead of failing with rapyer.ErrNotFound.
func ExampleSkipIfMissing() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Session struct{ Hits int }
	hits := lens.Of(func(s *Session) *int { return &s.Hits })
	sessions := rapyer.MustNew[Session](rdb, rapyer.Options{})

	res, err := sessions.Exec(ctx, "expired", tx.Of(ops.Incr(hits, 1)), rapyer.SkipIfMissing())
	exists, _ := sessions.Exists(ctx, "expired")
	fmt.Println(res.Skipped, err, exists)
	// Output: true <nil> false
}

// Per-call options edit a Call, which starts as the model's Exec and Lock
// options: they merge with the model's and never replace them. Here the
// model's locks auto-extend with a 2s TTL; one call asks for a 30s TTL and
// keeps the auto-extension. What belongs to the model (its prefix, TTL, hash
// tag) is not in a Call, so no option can change it.
func ExampleOption() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Report struct{ Rows int }
	reports := rapyer.MustNew[Report](rdb, rapyer.Options{Lock: lock.Options{TTL: 2 * time.Second, AutoExtend: true}})
	_ = reports.Save(ctx, "daily", Report{})

	_, err := reports.Lock(ctx, "daily", "build", func(ctx context.Context, r *Report) error {
		r.Rows = 42 // a long job would watch ctx: cancelled if the lock is lost
		return nil
	}, rapyer.WithLockTTL(30*time.Second), func(c *rapyer.Call) { c.Exec.Resends = tx.NoResends })
	r, _ := reports.Get(ctx, "daily")
	fmt.Println(err, r.Rows)
	// Output:
	// <nil> 42
}

// A batch over several models of any types is tx.Exec of ops bound with
// tx.On to each model's Target. Here an order is paid and the stock taken in
// one step; the models share a hash tag so the batch also runs on Redis
// Cluster.
func Example_batchOverModels() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Product struct{ Stock int }
	type Order struct{ Status string }
	stock := lens.Of(func(p *Product) *int { return &p.Stock })
	status := lens.Of(func(o *Order) *string { return &o.Status })
	shop := func(string) string { return "shop-1" }
	products := rapyer.MustNew[Product](rdb, rapyer.Options{HashTag: shop})
	orders := rapyer.MustNew[Order](rdb, rapyer.Options{HashTag: shop})
	_ = products.Save(ctx, "lamp", Product{Stock: 3})
	_ = orders.Save(ctx, "o1", Order{Status: "new"})

	_, err := tx.Exec(ctx, rdb, tx.Join(
		tx.On(products.Target("lamp"), ops.Require(is.AtLeast(stock, 2)), ops.Decr(stock, 2)),
		tx.On(orders.Target("o1"), ops.Require(is.Equal(status, "new")), ops.Set(status, "paid")),
	), tx.Options{})
	p, _ := products.Get(ctx, "lamp")
	o, _ := orders.Get(ctx, "o1")
	fmt.Println(err, p.Stock, o.Status, products.Target("lamp").Root())
	// Output: <nil> 1 paid product:{shop-1}:{lamp}
}

// Update reads a model, lets a function decide a batch from it, and runs the
// batch only if nobody wrote the model meanwhile; otherwise it starts again.
// The function may run more than once: keep it free of side effects.
func ExampleModel_Update() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Limiter struct{ Hits []int64 }
	hits := lens.Of(func(l *Limiter) *[]int64 { return &l.Hits })
	limiters := rapyer.MustNew[Limiter](rdb, rapyer.Options{})
	_ = limiters.Save(ctx, "api-key-1", Limiter{})

	// At most two hits per minute.
	allow := func(now int64) bool {
		allowed := false
		_, err := limiters.Update(ctx, "api-key-1", func(l Limiter) (tx.Batch, error) {
			old := 0
			for old < len(l.Hits) && l.Hits[old] <= now-60_000 {
				old++
			}
			allowed = len(l.Hits)-old < 2
			b := tx.Of(ops.RemoveRange(hits, 0, old))
			if allowed {
				b = b.Then(ops.Append(hits, now))
			}
			return b, nil
		})
		return err == nil && allowed
	}
	fmt.Println(allow(1_000), allow(2_000), allow(3_000), allow(61_500))
	// Output: true true false true
}

// Lock waits its turn for a (model, action) lock, loads the model, and saves
// what the function changed, fenced by the lock, releasing it in the same
// step. An error from the function saves nothing.
func ExampleModel_Lock() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct {
		Balance int
		History []string
	}
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Balance: 100})
	errInsufficient := errors.New("insufficient funds")

	withdraw := func(amount int) error {
		_, err := accounts.Lock(ctx, "alice", "withdraw", func(ctx context.Context, a *Account) error {
			if a.Balance < amount {
				return errInsufficient // nothing is saved
			}
			a.Balance -= amount
			a.History = append(a.History, fmt.Sprintf("withdraw:%d", amount))
			return nil
		})
		return err
	}
	fmt.Println(withdraw(60))
	fmt.Println(withdraw(60))
	a, _ := accounts.Get(ctx, "alice")
	fmt.Println(a.Balance, a.History)
	// Output:
	// <nil>
	// insufficient funds
	// 40 [withdraw:60]
}

// LockAll locks several models, of one type or of many, in one global order
// of their keys (so a transfer A->B and one B->A cannot deadlock), loads each
// into its variable, and saves what the function changed in all of them in
// one step fenced by the locks. Here an order is paid from an account.
func ExampleLockAll() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct{ Balance int }
	type Order struct {
		Total int
		Paid  bool
	}
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	orders := rapyer.MustNew[Order](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Balance: 100})
	_ = orders.Save(ctx, "o1", Order{Total: 30})

	var a Account
	var o Order
	held := []rapyer.Held{accounts.Hold("alice", &a), orders.Hold("o1", &o)}
	_, err := rapyer.LockAll(ctx, "checkout", held, func(ctx context.Context) error {
		if o.Paid || a.Balance < o.Total {
			return errors.New("cannot pay")
		}
		a.Balance -= o.Total
		o.Paid = true
		return nil
	})
	alice, _ := accounts.Get(ctx, "alice")
	o1, _ := orders.Get(ctx, "o1")
	fmt.Println(err, alice.Balance, o1.Paid)
	// Output: <nil> 70 true
}

// IDs iterates over the ids of the stored models with SCAN (never KEYS); the
// order is the server's.
func ExampleModel_IDs() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct {
		Balance int
		History []string
	}
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	for _, id := range []string{"carol", "alice", "bob"} {
		_ = accounts.Save(ctx, id, Account{History: []string{"open"}})
	}

	var ids []string
	for id, err := range accounts.IDs(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fmt.Println(strings.Join(ids, " "))
	// Output: alice bob carol
}

// Create writes a model under a chosen id only if the id is free, atomically:
// registering a user name.
func ExampleModel_Create() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type User struct{ Email string }
	users := rapyer.MustNew[User](rdb, rapyer.Options{})

	first := users.Create(ctx, "ada", User{Email: "ada@example.com"})
	second := users.Create(ctx, "ada", User{Email: "impostor@example.com"})
	u, _ := users.Get(ctx, "ada")
	fmt.Println(first, errors.Is(second, rapyer.ErrExists), u.Email)
	// Output: <nil> true ada@example.com
}

// With Options.TTL every Save gives the model, and every one of its keys, a
// lifetime in the same atomic step as the write.
func ExampleOptions_ttl() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Session struct {
		User  string
		Pages []string
	}
	sessions := rapyer.MustNew[Session](rdb, rapyer.Options{TTL: 30 * time.Minute})
	_ = sessions.Save(ctx, "s1", Session{User: "ada", Pages: []string{"/"}})

	ttl, _ := sessions.TTL(ctx, "s1")
	fmt.Println(ttl, mr.TTL("session:{s1}:pages"))
	// Output: 30m0s 30m0s
}

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
		ops.Require(is.AtLeast(stock, 1)),    // op 0: sold out?
		ops.Require(is.AtLeast(credits, 10)), // op 1: no credits?
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
	// no credits: op 1, Require(AtLeast(credits, 10)), has 5
	// true
	// rapyer: precondition failed: Require(AtLeast(credits, 10)): credits is 5
}
