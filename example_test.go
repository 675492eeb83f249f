// The tour of rapyer-go: the README's quick start, then every scenario of the
// guide "Atomic actions and concurrency", as runnable examples. `make demo`
// runs them on an embedded miniredis, or on the server of REDIS_URL when it
// is set, and narrates each from its doc comment: the first paragraphs say
// what it does, the last, starting "It prints", why its output is right.
package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// connect returns a client on REDIS_URL, or on a fresh embedded miniredis,
// and a prefix that keeps the example's keys apart; stop cleans up. Under
// make demo (RAPYER_DEMO=1) it also narrates the calling example (demo_test.go).
func connect(name string) (rdb redis.UniversalClient, prefix string, stop func()) {
	told := narrate()
	rdb, prefix, done := open(name)
	return rdb, prefix, func() { done(); told() }
}

func open(name string) (rdb redis.UniversalClient, prefix string, stop func()) {
	prefix = "tour_" + name
	if url := os.Getenv("REDIS_URL"); url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			panic(err)
		}
		c := redis.NewClient(opts)
		clean := func() {
			iter := c.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
			for iter.Next(context.Background()) {
				c.Del(context.Background(), iter.Val())
			}
		}
		clean()
		return c, prefix, func() { clean(); c.Close() }
	}
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return c, prefix, func() { c.Close(); mr.Close() }
}

type Account struct {
	Owner   string
	Balance int
	History []string
	Limits  map[string]int
}

// Lenses name the fields that ops change.
var (
	Balance = lens.Of(func(a *Account) *int { return &a.Balance })
	History = lens.Of(func(a *Account) *[]string { return &a.History })
)

// The README's quick start: a withdrawal guarded on the server in one batch,
// an update decided in Go, and a change made under a lock.
//
// It is the README's program line for line, but for the client (connect
// gives an embedded miniredis, or REDIS_URL) and the key prefix;
// readme_test.go fails when the two differ otherwise.
//
// It prints 130 [withdraw:30] <nil>: alice starts with 100; the batch checks
// she has at least 30, takes them and logs "withdraw:30" (70); the update
// doubles the balance (140); the lock takes 10 (130).
func Example_quickStart() {
	ctx := context.Background()
	rdb, prefix, stop := connect("quickstart")
	defer stop()
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: prefix + "_account"})

	_ = accounts.Save(ctx, "alice", Account{Owner: "alice", Balance: 100})

	// One round trip, all or nothing, the guard checked on the server.
	_, err := accounts.Exec(ctx, "alice", tx.Of(
		ops.Require(is.AtLeast(Balance, 30)),
		ops.Decr(Balance, 30),
		ops.Append(History, "withdraw:30"),
	))
	if errors.Is(err, rapyer.ErrPrecondition) {
		fmt.Println("insufficient funds: nothing changed")
	}

	// Decide in Go, retried on conflict.
	_, err = accounts.Update(ctx, "alice", func(a Account) (tx.Batch, error) {
		return tx.Of(ops.Set(Balance, a.Balance*2)), nil
	})

	// Or wait your turn: what the function changes is saved, fenced by the lock.
	_, err = accounts.Lock(ctx, "alice", "withdraw", func(ctx context.Context, a *Account) error {
		a.Balance -= 10
		return nil
	})

	a, err := accounts.Get(ctx, "alice")
	fmt.Println(a.Balance, a.History, err)
	// Output: 130 [withdraw:30] <nil>
}

// The bank transfer: both accounts are locked (in one global order, so two
// opposite transfers cannot deadlock), changed, and saved in one step fenced
// by the locks.
//
// It prints <nil> 70 50: the function returned nil, so both changes were
// saved together: 30 left alice's 100 and reached bob's 20.
func Example_bankTransfer() {
	type Account struct {
		Owner   string
		Balance int
	}
	rdb, prefix, stop := connect("bank")
	defer stop()
	ctx := context.Background()
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: prefix + "_account"})
	_ = accounts.Save(ctx, "alice", Account{Owner: "alice", Balance: 100})
	_ = accounts.Save(ctx, "bob", Account{Owner: "bob", Balance: 20})

	var from, to Account
	held := []rapyer.Held{accounts.Hold("alice", &from), accounts.Hold("bob", &to)}
	_, err := rapyer.LockAll(ctx, "transfer", held, func(ctx context.Context) error {
		if from.Balance < 30 {
			return errors.New("insufficient funds")
		}
		from.Balance -= 30
		to.Balance += 30
		return nil
	})
	alice, _ := accounts.Get(ctx, "alice")
	bob, _ := accounts.Get(ctx, "bob")
	fmt.Println(err, alice.Balance, bob.Balance)
	// Output: <nil> 70 50
}

type Profile struct {
	Name  string
	Bio   string
	Views int
}

var (
	ProfileBio   = lens.Of(func(p *Profile) *string { return &p.Bio })
	ProfileViews = lens.Of(func(p *Profile) *int { return &p.Views })
)

// Profile updates and view tracking take locks for different actions on the
// same model: they run side by side, and each saves only what it changed.
//
// It prints <nil> "first programmer" 1: neither lock waited for the other,
// and the profile's save kept the view counted meanwhile, since each lock
// saves only the fields its own function changed.
func Example_profileAndViews() {
	rdb, prefix, stop := connect("profile")
	defer stop()
	ctx := context.Background()
	profiles := rapyer.MustNew[Profile](rdb, rapyer.Options{Prefix: prefix + "_profile"})
	_ = profiles.Save(ctx, "ada", Profile{Name: "Ada"})

	_, err := profiles.Lock(ctx, "ada", "profile", func(ctx context.Context, p *Profile) error {
		p.Bio = "first programmer"
		// Meanwhile a view is counted under the "views" action: it does not
		// wait for the profile lock, and the profile save will not undo it.
		_, err := profiles.Lock(ctx, "ada", "views", func(ctx context.Context, p *Profile) error {
			p.Views++
			return nil
		})
		return err
	})
	p, _ := profiles.Get(ctx, "ada")
	fmt.Printf("%v %q %d\n", err, p.Bio, p.Views)
	// Output: <nil> "first programmer" 1
}

// Locking an instance: the function gets the model; what it changes is saved
// when it returns nil; an error saves nothing.
//
// It prints "compiler pioneer" validation failed: the first function
// returned nil, so its bio was saved; the second returned an error, which
// Lock hands back, and its bio was never written.
func Example_lockInstance() {
	rdb, prefix, stop := connect("instance")
	defer stop()
	ctx := context.Background()
	profiles := rapyer.MustNew[Profile](rdb, rapyer.Options{Prefix: prefix + "_profile"})
	_ = profiles.Save(ctx, "grace", Profile{Name: "Grace"})

	_, _ = profiles.Lock(ctx, "grace", "edit", func(ctx context.Context, p *Profile) error {
		p.Bio = "compiler pioneer"
		return nil
	})
	_, err := profiles.Lock(ctx, "grace", "edit", func(ctx context.Context, p *Profile) error {
		p.Bio = "never saved"
		return errors.New("validation failed")
	})
	p, _ := profiles.Get(ctx, "grace")
	fmt.Printf("%q %v\n", p.Bio, err)
	// Output: "compiler pioneer" validation failed
}

type Player struct {
	Name         string
	Score        int
	Level        int
	Achievements []string
	Stats        map[string]int
}

var (
	Score        = lens.Of(func(p *Player) *int { return &p.Score })
	Level        = lens.Of(func(p *Player) *int { return &p.Level })
	Achievements = lens.Of(func(p *Player) *[]string { return &p.Achievements })
	Stats        = lens.Of(func(p *Player) *map[string]int { return &p.Stats })
)

// Completing a game level: score, level, achievements and stats change in
// one atomic batch, one round trip.
//
// It prints <nil> 500 2 [level-1-cleared] map[time_s:93]: no error; the
// increment's result is the new score, 0+500; the level went from 1 to 2;
// the achievement and the stat were added in the same step.
func Example_completeLevel() {
	rdb, prefix, stop := connect("game")
	defer stop()
	ctx := context.Background()
	players := rapyer.MustNew[Player](rdb, rapyer.Options{Prefix: prefix + "_player"})
	_ = players.Save(ctx, "p1", Player{Name: "p1", Level: 1})

	score := ops.Incr(Score, 500)
	res, err := players.Exec(ctx, "p1", tx.Of(
		score,
		ops.Incr(Level, 1),
		ops.Append(Achievements, "level-1-cleared"),
		ops.SetItem(Stats, "time_s", 93),
	))
	total, _ := score.Result(res)
	p, _ := players.Get(ctx, "p1")
	fmt.Println(err, total, p.Level, p.Achievements, p.Stats)
	// Output: <nil> 500 2 [level-1-cleared] map[time_s:93]
}

type User struct {
	Email    string
	Tags     []string
	Metadata map[string]string
}

// Registering a user: Create refuses an id that is taken, atomically.
//
// It prints <nil> true ada@example.com [new] map[source:web]: the first
// Create succeeded, the second failed with rapyer.ErrExists, and the stored
// user is still the first one, tags and metadata included.
func Example_registerUser() {
	rdb, prefix, stop := connect("users")
	defer stop()
	ctx := context.Background()
	users := rapyer.MustNew[User](rdb, rapyer.Options{Prefix: prefix + "_user"})

	err := users.Create(ctx, "ada", User{Email: "ada@example.com", Tags: []string{"new"}, Metadata: map[string]string{"source": "web"}})
	again := users.Create(ctx, "ada", User{Email: "impostor@example.com"})
	u, _ := users.Get(ctx, "ada")
	fmt.Println(err, errors.Is(again, rapyer.ErrExists), u.Email, u.Tags, u.Metadata)
	// Output: <nil> true ada@example.com [new] map[source:web]
}

type Cart struct {
	Items []string
	Total float64
}

var (
	CartItems = lens.Of(func(c *Cart) *[]string { return &c.Items })
	CartTotal = lens.Of(func(c *Cart) *float64 { return &c.Total })
)

// A shopping cart: several items added in one step, the total kept on the
// server.
//
// It prints [book pen] 15.75: both items were appended in order, and the
// increment's result is the total the server now holds, 12.5+3.25.
func Example_shoppingCart() {
	rdb, prefix, stop := connect("cart")
	defer stop()
	ctx := context.Background()
	carts := rapyer.MustNew[Cart](rdb, rapyer.Options{Prefix: prefix + "_cart"})
	_ = carts.Save(ctx, "c1", Cart{})

	total := ops.Incr(CartTotal, 12.5+3.25)
	res, _ := carts.Exec(ctx, "c1", tx.Of(ops.Append(CartItems, "book", "pen"), total))
	sum, _ := total.Result(res)
	c, _ := carts.Get(ctx, "c1")
	fmt.Println(c.Items, sum)
	// Output: [book pen] 15.75
}

// A batch that fails leaves nothing behind: the counter holds text, so the
// increment cannot run, and the append before it is not applied either.
//
// It prints true 1: the batch failed with rapyer.ErrCorrupt, found before
// its first write, so the list still holds its one item: the append before
// the increment was not applied.
func Example_failingBatch() {
	rdb, prefix, stop := connect("fail")
	defer stop()
	ctx := context.Background()
	players := rapyer.MustNew[Player](rdb, rapyer.Options{Prefix: prefix + "_player"})
	_ = players.Save(ctx, "p1", Player{Achievements: []string{"first"}})
	root, _ := players.Key("p1")
	rdb.HSet(ctx, root, "score", "abc") // corrupt it by hand

	_, err := players.Exec(ctx, "p1", tx.Of(ops.Append(Achievements, "second"), ops.Incr(Score, 1)))
	n := rdb.LLen(ctx, root+":achievements").Val()
	fmt.Println(errors.Is(err, rapyer.ErrCorrupt), n)
	// Output: true 1
}

// Skip if missing (Rapyer's ignore-if-deleted): a batch on a model that is
// gone does nothing, creates nothing, and says so.
//
// It prints true true <nil> false: without the option the batch fails with
// rapyer.ErrNotFound; with SkipIfMissing it succeeds and reports Skipped;
// either way the model still does not exist.
func Example_skipIfMissing() {
	rdb, prefix, stop := connect("ignore")
	defer stop()
	ctx := context.Background()
	players := rapyer.MustNew[Player](rdb, rapyer.Options{Prefix: prefix + "_player"})

	_, err := players.Exec(ctx, "gone", tx.Of(ops.Incr(Score, 1)))
	res, err2 := players.Exec(ctx, "gone", tx.Of(ops.Incr(Score, 1)), rapyer.SkipIfMissing())
	exists, _ := players.Exists(ctx, "gone")
	fmt.Println(errors.Is(err, rapyer.ErrNotFound), res.Skipped, err2, exists)
	// Output: true true <nil> false
}

type Queue struct {
	Pending    []string
	Processing []string
}

var (
	Pending    = lens.Of(func(q *Queue) *[]string { return &q.Pending })
	Processing = lens.Of(func(q *Queue) *[]string { return &q.Processing })
)

// The task queue: a worker moves the oldest pending task to processing in
// one step, so a crash can never lose it between the two lists.
//
// It prints t1 true [t2] []: the move took the oldest task, t1 (true: there
// was one), leaving t2 pending; removing t1 when done left processing empty.
func Example_taskQueue() {
	rdb, prefix, stop := connect("queue")
	defer stop()
	ctx := context.Background()
	queues := rapyer.MustNew[Queue](rdb, rapyer.Options{Prefix: prefix + "_queue"})
	_ = queues.Save(ctx, "jobs", Queue{Pending: []string{"t1", "t2"}})

	take := ops.Move(Pending, ops.First, Processing, ops.Last)
	res, _ := queues.Exec(ctx, "jobs", tx.Of(take))
	task, ok, _ := take.Result(res)
	// Done: remove it from processing.
	_, _ = queues.Exec(ctx, "jobs", tx.Of(ops.Remove(Processing, task)))
	q, _ := queues.Get(ctx, "jobs")
	fmt.Println(task, ok, q.Pending, q.Processing)
	// Output: t1 true [t2] []
}

type Limiter struct {
	Hits []int64 // unix milliseconds, oldest first
}

var Hits = lens.Of(func(l *Limiter) *[]int64 { return &l.Hits })

// A rolling-window rate limiter: an optimistic update reads the hits, drops
// those out of the window, and records the new one only under the limit;
// concurrent callers are retried, never double-counted.
//
// It prints [true true true false true]: the hits at 1 s, 2 s and 3 s are
// allowed, the one at 4 s would be the fourth in a minute and is refused, and
// at 62 s the hits at 1 s and 2 s have left the window: there is room again.
func Example_rateLimiter() {
	rdb, prefix, stop := connect("limit")
	defer stop()
	ctx := context.Background()
	limiters := rapyer.MustNew[Limiter](rdb, rapyer.Options{Prefix: prefix + "_limiter"})
	_ = limiters.Save(ctx, "api-key-1", Limiter{})
	const limit, window = 3, int64(60_000)

	allow := func(now int64) bool {
		allowed := false
		_, err := limiters.Update(ctx, "api-key-1", func(l Limiter) (tx.Batch, error) {
			old := 0
			for old < len(l.Hits) && l.Hits[old] <= now-window {
				old++
			}
			allowed = len(l.Hits)-old < limit
			b := tx.Of(ops.RemoveRange(Hits, 0, old))
			if allowed {
				b = b.Then(ops.Append(Hits, now))
			}
			return b, nil
		})
		return err == nil && allowed
	}
	var got []bool
	for _, t := range []int64{1_000, 2_000, 3_000, 4_000, 62_000} {
		got = append(got, allow(t))
	}
	fmt.Println(got)
	// Output: [true true true false true]
}

// Batch or lock? A batch is one round trip and never waits; a lock waits its
// turn and lets Go code decide with the data in hand. Here both raise a
// balance by 10.
//
// It prints 20: the batch added 10 on the server; the lock read 10, added
// 10 in Go and saved 20.
func Example_batchVersusLock() {
	type Wallet struct{ Balance int }
	balance := lens.Of(func(w *Wallet) *int { return &w.Balance })
	rdb, prefix, stop := connect("versus")
	defer stop()
	ctx := context.Background()
	wallets := rapyer.MustNew[Wallet](rdb, rapyer.Options{Prefix: prefix + "_wallet"})
	_ = wallets.Save(ctx, "w", Wallet{})

	_, _ = wallets.Exec(ctx, "w", tx.Of(ops.Incr(balance, 10)))
	_, _ = wallets.Lock(ctx, "w", "topup", func(ctx context.Context, w *Wallet) error {
		w.Balance += 10
		return nil
	})
	w, _ := wallets.Get(ctx, "w")
	fmt.Println(w.Balance)
	// Output: 20
}

// A decision under a lock: the function reads the player as the lock found
// it and changes it; what it changed is saved fenced by the lock, which is
// released in the same step, and the save's Result is returned.
//
// It prints <nil> true 100 [topped-up]: the score was 90, under 100, so the
// function added the missing 10 and the achievement; the save ran (a
// result) under the lock and released it, without error.
func Example_lockedTopUp() {
	rdb, prefix, stop := connect("lockbatch")
	defer stop()
	ctx := context.Background()
	players := rapyer.MustNew[Player](rdb, rapyer.Options{Prefix: prefix + "_player"})
	_ = players.Save(ctx, "p1", Player{Score: 90})

	res, err := players.Lock(ctx, "p1", "bonus", func(ctx context.Context, p *Player) error {
		if p.Score < 100 {
			p.Score = 100
			p.Achievements = append(p.Achievements, "topped-up")
		}
		return nil
	})
	p, _ := players.Get(ctx, "p1")
	fmt.Println(err, res != nil, p.Score, p.Achievements)
	// Output: <nil> true 100 [topped-up]
}

type Product struct {
	Name  string
	Stock int
}

type Order struct {
	Product string
	Qty     int
	Status  string
}

var (
	Stock       = lens.Of(func(p *Product) *int { return &p.Stock })
	OrderStatus = lens.Of(func(o *Order) *string { return &o.Status })
)

// Processing an order against inventory: the stock check, the decrement and
// the order's new status are one atomic batch over two models. The models
// share a hash tag so the batch also runs on Redis Cluster.
//
// It prints <nil> true 1 new: the first order took 2 of the 3 lamps and
// was paid; the second asked for 2 of the 1 left, its guard failed with
// rapyer.ErrPrecondition, and nothing of its batch was applied: its status
// is still "new".
func Example_orderAgainstInventory() {
	rdb, prefix, stop := connect("shop")
	defer stop()
	ctx := context.Background()
	shop := func(string) string { return "shop-1" }
	products := rapyer.MustNew[Product](rdb, rapyer.Options{Prefix: prefix + "_product", HashTag: shop})
	orders := rapyer.MustNew[Order](rdb, rapyer.Options{Prefix: prefix + "_order", HashTag: shop})
	_ = products.Save(ctx, "sku-1", Product{Name: "lamp", Stock: 3})
	_ = orders.Save(ctx, "o1", Order{Product: "sku-1", Qty: 2, Status: "new"})
	_ = orders.Save(ctx, "o2", Order{Product: "sku-1", Qty: 2, Status: "new"})

	process := func(id string, qty int) error {
		_, err := tx.Exec(ctx, rdb, tx.Join(
			tx.On(products.Target("sku-1"), ops.Require(is.AtLeast(Stock, qty)), ops.Decr(Stock, qty)),
			tx.On(orders.Target(id), ops.Require(is.Equal(OrderStatus, "new")), ops.Set(OrderStatus, "paid")),
		), tx.Options{})
		return err
	}
	e1 := process("o1", 2)
	e2 := process("o2", 2)
	p, _ := products.Get(ctx, "sku-1")
	o2, _ := orders.Get(ctx, "o2")
	fmt.Println(e1, errors.Is(e2, rapyer.ErrPrecondition), p.Stock, o2.Status)
	// Output: <nil> true 1 new
}
