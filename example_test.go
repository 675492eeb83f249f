// The tour of rapyer-go: every scenario of the guide "Atomic actions and
// concurrency" as a runnable example. `make demo` runs them on an embedded
// miniredis, or on the server of REDIS_URL when it is set.
package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// connect returns a client on REDIS_URL, or on a fresh embedded miniredis,
// and a prefix that keeps the example's keys apart; stop cleans up.
func connect(name string) (rdb redis.UniversalClient, prefix string, stop func()) {
	echoed := echo(name)
	rdb, prefix, done := open(name)
	return rdb, prefix, func() { done(); echoed() }
}

// echo shows what an example prints on the terminal as well, when
// RAPYER_DEMO=1 (make demo): the testing package captures it otherwise.
func echo(name string) (stop func()) {
	if os.Getenv("RAPYER_DEMO") != "1" {
		return func() {}
	}
	captured := os.Stdout
	r, w, err := os.Pipe()
	if err != nil {
		return func() {}
	}
	os.Stdout = w
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf, _ := io.ReadAll(r)
		fmt.Fprintf(os.Stderr, "--- %s\n%s", name, buf)
		_, _ = captured.Write(buf)
	}()
	return func() {
		w.Close()
		<-done
		r.Close()
		os.Stdout = captured
	}
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

// The bank transfer: both accounts are locked (in one global order, so two
// opposite transfers cannot deadlock), changed, and saved in one step fenced
// by the locks.
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

	_, err := accounts.LockMany(ctx, []string{"alice", "bob"}, "transfer", func(a []*Account) error {
		from, to := a[0], a[1]
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
func Example_profileAndViews() {
	rdb, prefix, stop := connect("profile")
	defer stop()
	ctx := context.Background()
	profiles := rapyer.MustNew[Profile](rdb, rapyer.Options{Prefix: prefix + "_profile"})
	_ = profiles.Save(ctx, "ada", Profile{Name: "Ada"})

	err := profiles.Lock(ctx, "ada", "profile", func(p *Profile) error {
		p.Bio = "first programmer"
		// Meanwhile a view is counted under the "views" action: it does not
		// wait for the profile lock, and the profile save will not undo it.
		return profiles.Lock(ctx, "ada", "views", func(p *Profile) error {
			p.Views++
			return nil
		})
	})
	p, _ := profiles.Get(ctx, "ada")
	fmt.Printf("%v %q %d\n", err, p.Bio, p.Views)
	// Output: <nil> "first programmer" 1
}

// Locking an instance: the function gets the model; what it changes is saved
// when it returns nil; an error saves nothing.
func Example_lockInstance() {
	rdb, prefix, stop := connect("instance")
	defer stop()
	ctx := context.Background()
	profiles := rapyer.MustNew[Profile](rdb, rapyer.Options{Prefix: prefix + "_profile"})
	_ = profiles.Save(ctx, "grace", Profile{Name: "Grace"})

	_ = profiles.Lock(ctx, "grace", "edit", func(p *Profile) error {
		p.Bio = "compiler pioneer"
		return nil
	})
	err := profiles.Lock(ctx, "grace", "edit", func(p *Profile) error {
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

// Ignore-if-deleted: a batch on a model that is gone does nothing, creates
// nothing, and says so.
func Example_ignoreIfDeleted() {
	rdb, prefix, stop := connect("ignore")
	defer stop()
	ctx := context.Background()
	players := rapyer.MustNew[Player](rdb, rapyer.Options{Prefix: prefix + "_player"})

	_, err := players.Exec(ctx, "gone", tx.Of(ops.Incr(Score, 1)))
	res, err2 := players.Exec(ctx, "gone", tx.Of(ops.Incr(Score, 1)), rapyer.IgnoreIfDeleted())
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
func Example_batchVersusLock() {
	type Wallet struct{ Balance int }
	balance := lens.Of(func(w *Wallet) *int { return &w.Balance })
	rdb, prefix, stop := connect("versus")
	defer stop()
	ctx := context.Background()
	wallets := rapyer.MustNew[Wallet](rdb, rapyer.Options{Prefix: prefix + "_wallet"})
	_ = wallets.Save(ctx, "w", Wallet{})

	_, _ = wallets.Exec(ctx, "w", tx.Of(ops.Incr(balance, 10)))
	_ = wallets.Lock(ctx, "w", "topup", func(w *Wallet) error {
		w.Balance += 10
		return nil
	})
	w, _ := wallets.Get(ctx, "w")
	fmt.Println(w.Balance)
	// Output: 20
}

// Combining a lock with a batch: under the lock the function returns a batch,
// which runs fenced by the lock and releases it in the same step.
func Example_lockWithBatch() {
	rdb, prefix, stop := connect("lockbatch")
	defer stop()
	ctx := context.Background()
	players := rapyer.MustNew[Player](rdb, rapyer.Options{Prefix: prefix + "_player"})
	_ = players.Save(ctx, "p1", Player{Score: 90})

	res, err := players.LockUpdate(ctx, "p1", "bonus", func(p Player) (tx.Batch, error) {
		if p.Score < 100 {
			return tx.Of(ops.Incr(Score, 100-p.Score), ops.Append(Achievements, "topped-up")), nil
		}
		return tx.Batch{}, nil
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
		_, err := orders.ExecAll(ctx, tx.Join(
			tx.On(products.Target("sku-1"), ops.AtLeast(Stock, qty), ops.Decr(Stock, qty)),
			tx.On(orders.Target(id), ops.Equal(OrderStatus, "new"), ops.Set(OrderStatus, "paid")),
		))
		return err
	}
	e1 := process("o1", 2)
	e2 := process("o2", 2)
	p, _ := products.Get(ctx, "sku-1")
	o2, _ := orders.Get(ctx, "o2")
	fmt.Println(e1, errors.Is(e2, rapyer.ErrPrecondition), p.Stock, o2.Status)
	// Output: <nil> true 1 new
}
