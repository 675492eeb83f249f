package tx_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Of makes a batch of ops that run on whichever model the batch is executed
// for: one round trip, all or nothing.
func ExampleOf() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Player struct {
		Score        int
		Level        int
		Achievements []string
	}
	score := lens.Of(func(p *Player) *int { return &p.Score })
	level := lens.Of(func(p *Player) *int { return &p.Level })
	achievements := lens.Of(func(p *Player) *[]string { return &p.Achievements })
	players := rapyer.MustNew[Player](rdb, rapyer.Options{})
	_ = players.Save(ctx, "p1", Player{Level: 1})

	levelUp := tx.Of(
		ops.Incr(score, 500),
		ops.Incr(level, 1),
		ops.Append(achievements, "level-1-cleared"),
	)
	_, err := players.Exec(ctx, "p1", levelUp)
	p, _ := players.Get(ctx, "p1")
	fmt.Println(err, p.Score, p.Level, p.Achievements)
	// Output: <nil> 500 2 [level-1-cleared]
}

// A batch renders without a server: String lists its ops, one a line, each
// bound op prefixed by its model's key. Then returns a new batch; the first is
// not changed.
func ExampleBatch_String() {
	type Account struct {
		Balance int
		History []string
	}
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	history := lens.Of(func(a *Account) *[]string { return &a.History })

	withdraw := tx.Of(ops.Require(is.AtLeast(balance, 100)), ops.Decr(balance, 100))
	logged := withdraw.Then(ops.Append(history, "withdraw:100"))
	fmt.Print(withdraw)
	fmt.Println("--")
	fmt.Print(logged)
	fmt.Println("--")
	fmt.Print(tx.On(tx.At[Account]("account:{bob}"), ops.Incr(balance, 100)))
	// Output:
	// Require(AtLeast(balance, 100))
	// Decr(balance, 100)
	// --
	// Require(AtLeast(balance, 100))
	// Decr(balance, 100)
	// Append(history, "withdraw:100")
	// --
	// account:{bob}: Incr(balance, 100)
}

// Commands renders the instructions a batch compiles to for a model, without
// a server, one a line in the order of the ops (the script still checks every
// guard and stored type before its first write). An op that cannot compile is
// reported here as Exec would report it, before sending anything.
func ExampleBatch_Commands() {
	type Account struct {
		Balance int
		History []string
	}
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	history := lens.Of(func(a *Account) *[]string { return &a.History })

	b := tx.Of(
		ops.Require(is.AtLeast(balance, 100)),
		ops.Decr(balance, 100),
		ops.Append(history, "withdraw:100"),
	)
	cmds, err := b.On(tx.At[Account]("account:{alice}")).Commands()
	fmt.Print(cmds)
	fmt.Println(err)
	// Output:
	// gpred account:{alice} cmp balance int ge 100 0
	// incr account:{alice} balance -100 -9223372036854775808 9223372036854775807
	// rpush account:{alice} account:{alice}:history withdraw:100
	// <nil>
}

// Join puts batches together; with On, each part is bound to a model of its
// own, so one atomic batch changes two accounts: the transfer applies entirely
// or, when the guard fails, not at all.
func ExampleJoin() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct{ Balance int }
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Balance: 100})
	_ = accounts.Save(ctx, "bob", Account{Balance: 20})

	transfer := func(from, to string, amount int) error {
		_, err := tx.Exec(ctx, rdb, tx.Join(
			tx.On(accounts.Target(from), ops.Require(is.AtLeast(balance, amount)), ops.Decr(balance, amount)),
			tx.On(accounts.Target(to), ops.Incr(balance, amount)),
		), tx.Options{})
		return err
	}
	first := transfer("alice", "bob", 70)
	second := transfer("alice", "bob", 70)
	alice, _ := accounts.Get(ctx, "alice")
	bob, _ := accounts.Get(ctx, "bob")
	fmt.Println(first, errors.Is(second, rapyer.ErrPrecondition), alice.Balance, bob.Balance)
	// Output: <nil> true 30 90
}

// Exec is the executor itself: it runs a batch atomically on any go-redis
// client; each op runs on the model it is bound to (On, or Batch.On for the
// unbound ops of a batch). rapyer.Model.Exec calls it with the batch bound to
// the model's target.
func ExampleExec() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Counter struct{ N int }
	n := lens.Of(func(c *Counter) *int { return &c.N })
	counters := rapyer.MustNew[Counter](rdb, rapyer.Options{Prefix: "counter"})
	_ = counters.Save(ctx, "hits", Counter{})

	inc := ops.Incr(n, 1)
	res, err := tx.Exec(ctx, rdb, tx.On(tx.At[Counter]("counter:{hits}"), inc), tx.Options{})
	v, _ := inc.Result(res)
	fmt.Println(v, err, res.Skipped, res.Duplicate)

	// A missing model fails the batch, or with SkipIfMissing does nothing.
	gone := tx.At[Counter]("counter:{gone}")
	_, err = tx.Exec(ctx, rdb, tx.On(gone, inc), tx.Options{})
	fmt.Println(errors.Is(err, rapyer.ErrNotFound))
	res, err = tx.Exec(ctx, rdb, tx.On(gone, inc), tx.Options{IfMissing: tx.SkipIfMissing})
	fmt.Println(res.Skipped, err, mr.Exists("counter:{gone}"))
	// Output:
	// 1 <nil> false false
	// true
	// true <nil> false
}

// Optimistic is the read-decide-write loop under WATCH that
// rapyer.Model.Update is built on: queue the reads, decide a batch from their
// replies, and the batch runs only if no watched key changed meanwhile
// (otherwise the whole attempt runs again).
func ExampleOptimistic() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct{ Balance int }
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Balance: 15})
	root, _ := accounts.Key("alice")

	// Round the balance up to a multiple of 10.
	res, err := tx.Optimistic(ctx, rdb, []string{root}, func(p redis.Pipeliner) func() (tx.Batch, error) {
		get := p.HGet(ctx, root, "balance")
		return func() (tx.Batch, error) {
			b, err := strconv.Atoi(get.Val())
			if err != nil {
				return tx.Batch{}, err
			}
			return tx.On(accounts.Target("alice"), ops.Set(balance, (b+9)/10*10)), nil
		}
	}, tx.Options{})
	a, _ := accounts.Get(ctx, "alice")
	fmt.Println(err, res.Attempts, a.Balance)
	// Output: <nil> 1 20
}
