package ops_test

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

// Ops are values: they can be built, kept and printed without a server.
// Their type parameters come from the lens, so ops.Append(balance, 1) or
// ops.Incr(history, 1) would not compile.
func Example() {
	type Account struct {
		Balance int
		History []string
		Limits  map[string]int
	}
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	history := lens.Of(func(a *Account) *[]string { return &a.History })
	limits := lens.Of(func(a *Account) *map[string]int { return &a.Limits })

	fmt.Println(ops.Incr(balance, 10))
	fmt.Println(ops.Append(history, "deposit:10"))
	fmt.Println(ops.SetItem(limits, "daily", 500))
	fmt.Println(ops.Require(is.AtLeast(balance, 100)))
	// Output:
	// Incr(balance, 10)
	// Append(history, "deposit:10")
	// SetItem(limits, "daily", 500)
	// Require(AtLeast(balance, 100))
}

// Incr adds to a number field on the server (HINCRBY) and yields the new
// value; read it from the batch's result with the op's Result method.
func ExampleIncr() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct{ Balance int }
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Balance: 100})

	deposit := ops.Incr(balance, 10)
	res, err := accounts.Exec(ctx, "alice", tx.Of(deposit))
	if err != nil {
		fmt.Println(err)
		return
	}
	n, _ := deposit.Result(res)
	fmt.Println(n)
	// Output: 110
}

// Append adds elements at the end of a list field (RPUSH): nothing is read
// into Go and written back, so concurrent appends never lose one another.
func ExampleAppend() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct{ History []string }
	history := lens.Of(func(a *Account) *[]string { return &a.History })
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{History: []string{"open"}})

	_, _ = accounts.Exec(ctx, "alice", tx.Of(ops.Append(history, "deposit:10", "withdraw:5")))
	a, _ := accounts.Get(ctx, "alice")
	fmt.Println(a.History)
	// Output: [open deposit:10 withdraw:5]
}

// PopFirst removes the first element of a list and yields it as a Maybe: an
// empty list yields nothing, and Result says so with false.
func ExamplePopFirst() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Queue struct{ Pending []string }
	pending := lens.Of(func(q *Queue) *[]string { return &q.Pending })
	queues := rapyer.MustNew[Queue](rdb, rapyer.Options{})
	_ = queues.Save(ctx, "jobs", Queue{Pending: []string{"t1"}})

	for range 2 {
		pop := ops.PopFirst(pending)
		res, err := queues.Exec(ctx, "jobs", tx.Of(pop))
		if err != nil {
			fmt.Println(err)
			return
		}
		task, ok, _ := pop.Result(res)
		fmt.Printf("%q %v\n", task, ok)
	}
	// Output:
	// "t1" true
	// "" false
}

// SetItem sets one key of a map field (HSET on the map's own hash); the other
// keys are not touched.
func ExampleSetItem() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct{ Limits map[string]int }
	limits := lens.Of(func(a *Account) *map[string]int { return &a.Limits })
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Limits: map[string]int{"monthly": 9000}})

	_, _ = accounts.Exec(ctx, "alice", tx.Of(ops.SetItem(limits, "daily", 500)))
	a, _ := accounts.Get(ctx, "alice")
	fmt.Println(a.Limits)
	// Output: map[daily:500 monthly:9000]
}

// Add puts members into a set field (a map[E]struct{}, stored as a Redis set)
// and yields how many were new.
func ExampleAdd() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct{ Flags map[string]struct{} }
	flags := lens.Of(func(a *Account) *map[string]struct{} { return &a.Flags })
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Flags: map[string]struct{}{"vip": {}}})

	add := ops.Add(flags, "vip", "beta")
	res, _ := accounts.Exec(ctx, "alice", tx.Of(add))
	added, _ := add.Result(res)
	a, _ := accounts.Get(ctx, "alice")
	fmt.Println(added, len(a.Flags))
	// Output: 1 2
}

// Require is the guard: it writes nothing, and its predicate is checked on the
// server before the batch's first write. When it does not hold, the batch
// fails with rapyer.ErrPrecondition and changes nothing: here the withdrawal and its
// history entry are both refused.
func ExampleRequire() {
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
	_ = accounts.Save(ctx, "alice", Account{Balance: 50})

	_, err := accounts.Exec(ctx, "alice", tx.Of(
		ops.Require(is.AtLeast(balance, 100)),
		ops.Decr(balance, 100),
		ops.Append(history, "withdraw:100"),
	))
	fmt.Println(errors.Is(err, rapyer.ErrPrecondition))
	fmt.Println(err)
	a, _ := accounts.Get(ctx, "alice")
	fmt.Println(a.Balance, a.History)
	// Output:
	// true
	// rapyer: precondition failed: Require(AtLeast(balance, 100)): balance is 50
	// 50 []
}

// A guard on a field's value: an order is paid only while it is still new, so
// a second payment of the same order is refused.
func ExampleRequire_equal() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Order struct{ Status string }
	status := lens.Of(func(o *Order) *string { return &o.Status })
	orders := rapyer.MustNew[Order](rdb, rapyer.Options{})
	_ = orders.Save(ctx, "o1", Order{Status: "new"})

	pay := tx.Of(ops.Require(is.Equal(status, "new")), ops.Set(status, "paid"))
	_, first := orders.Exec(ctx, "o1", pay)
	_, second := orders.Exec(ctx, "o1", pay)
	fmt.Println(first, errors.Is(second, rapyer.ErrPrecondition))
	// Output: <nil> true
}

// Move takes the element at one end of a list and puts it at an end of
// another list of the same model in one step (LMOVE): a worker's hand-off of a
// task from pending to processing, which a crash cannot lose in between.
func ExampleMove() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Queue struct {
		Pending    []string
		Processing []string
	}
	pending := lens.Of(func(q *Queue) *[]string { return &q.Pending })
	processing := lens.Of(func(q *Queue) *[]string { return &q.Processing })
	queues := rapyer.MustNew[Queue](rdb, rapyer.Options{})
	_ = queues.Save(ctx, "jobs", Queue{Pending: []string{"t1", "t2"}})

	take := ops.Move(pending, ops.First, processing, ops.Last)
	res, _ := queues.Exec(ctx, "jobs", tx.Of(take))
	task, ok, _ := take.Result(res)
	q, _ := queues.Get(ctx, "jobs")
	fmt.Println(task, ok, q.Pending, q.Processing)
	// Output: t1 true [t2] [t1]
}

// A guard on the length of a list (is.Len; is.Size for a map or a set): a
// cart takes at most three items, checked on the server in the same step as
// the append.
func ExampleRequire_length() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Cart struct{ Items []string }
	items := lens.Of(func(c *Cart) *[]string { return &c.Items })
	carts := rapyer.MustNew[Cart](rdb, rapyer.Options{})
	_ = carts.Save(ctx, "c1", Cart{Items: []string{"book", "pen"}})

	for _, item := range []string{"lamp", "mug"} {
		_, err := carts.Exec(ctx, "c1", tx.Of(ops.Require(is.Below(is.Len(items), 3)), ops.Append(items, item)))
		fmt.Println(item, errors.Is(err, rapyer.ErrPrecondition))
	}
	c, _ := carts.Get(ctx, "c1")
	fmt.Println(c.Items)
	// Output:
	// lamp false
	// mug true
	// [book pen lamp]
}

// Check yields whether a predicate holds at its point of the batch, and
// does not fail the batch: here whether the account was a VIP before this
// batch added the flag, and whether it is one after.
func ExampleCheck() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Account struct {
		Balance int
		Flags   map[string]struct{}
	}
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	flags := lens.Of(func(a *Account) *map[string]struct{} { return &a.Flags })
	accounts := rapyer.MustNew[Account](rdb, rapyer.Options{})
	_ = accounts.Save(ctx, "alice", Account{Balance: 500})

	wasVIP := ops.Check(is.Member(flags, "vip"))
	rich := ops.Check(is.And(is.AtLeast(balance, 100), is.Not(is.Member(flags, "banned"))))
	isVIP := ops.Check(is.Member(flags, "vip"))
	res, _ := accounts.Exec(ctx, "alice", tx.Of(wasVIP, rich, ops.Add(flags, "vip"), isVIP))
	v, _ := wasVIP.Result(res)
	r, _ := rich.Result(res)
	now, _ := isVIP.Result(res)
	fmt.Println(v, r, now)
	// Output: false true true
}

// RemoveRange deletes a slice of a list with Python's slice bounds (negative
// counts from the end, End is the end) and yields how many elements went.
func ExampleRemoveRange() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Log struct{ Lines []string }
	lines := lens.Of(func(l *Log) *[]string { return &l.Lines })
	logs := rapyer.MustNew[Log](rdb, rapyer.Options{})
	_ = logs.Save(ctx, "app", Log{Lines: []string{"a", "b", "c", "d", "e"}})

	drop := ops.RemoveRange(lines, 0, -2) // keep the last two
	res, _ := logs.Exec(ctx, "app", tx.Of(drop))
	n, _ := drop.Result(res)
	l, _ := logs.Get(ctx, "app")
	fmt.Println(n, l.Lines)
	// Output: 3 [d e]
}

// Max keeps the larger of the field and a value, on the server: a high score
// that only goes up, whatever order the scores arrive in.
func ExampleMax() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Player struct{ Best int }
	best := lens.Of(func(p *Player) *int { return &p.Best })
	players := rapyer.MustNew[Player](rdb, rapyer.Options{})
	_ = players.Save(ctx, "p1", Player{})

	for _, score := range []int{70, 95, 80} {
		_, _ = players.Exec(ctx, "p1", tx.Of(ops.Max(best, score)))
	}
	p, _ := players.Get(ctx, "p1")
	fmt.Println(p.Best)
	// Output: 95
}

// PopItem removes a key from a map and yields its value, or the default and
// false when the key is missing, as Python's dict.pop(k, default).
func ExamplePopItem() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Session struct{ Data map[string]string }
	data := lens.Of(func(s *Session) *map[string]string { return &s.Data })
	sessions := rapyer.MustNew[Session](rdb, rapyer.Options{})
	_ = sessions.Save(ctx, "s1", Session{Data: map[string]string{"theme": "dark"}})

	theme := ops.PopItem(data, "theme", "light")
	lang := ops.PopItem(data, "lang", "en")
	res, _ := sessions.Exec(ctx, "s1", tx.Of(theme, lang))
	t, tok, _ := theme.Result(res)
	l, lok, _ := lang.Result(res)
	fmt.Println(t, tok, l, lok)
	// Output: dark true en false
}

// Expire sets the time to live of every key of the model in the same atomic
// step as the rest of the batch.
func ExampleExpire() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Session struct{ Hits int }
	hits := lens.Of(func(s *Session) *int { return &s.Hits })
	sessions := rapyer.MustNew[Session](rdb, rapyer.Options{})
	_ = sessions.Save(ctx, "s1", Session{})

	_, _ = sessions.Exec(ctx, "s1", tx.Of(ops.Incr(hits, 1), ops.Expire[Session](30*time.Minute)))
	ttl, _ := sessions.TTL(ctx, "s1")
	fmt.Println(ttl)
	// Output: 30m0s
}

// Diff writes only what changed between two values of a model, field by field:
// a list that grew at its end gets only the new elements. It is what a model
// lock saves; here a concurrent change to Views survives the save of Bio.
func ExampleDiff() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Profile struct {
		Bio   string
		Views int
	}
	views := lens.Of(func(p *Profile) *int { return &p.Views })
	profiles := rapyer.MustNew[Profile](rdb, rapyer.Options{})
	_ = profiles.Save(ctx, "ada", Profile{})

	before, _ := profiles.Get(ctx, "ada")
	after := before
	after.Bio = "first programmer"
	_, _ = profiles.Exec(ctx, "ada", tx.Of(ops.Incr(views, 1))) // someone else, meanwhile
	_, _ = profiles.Exec(ctx, "ada", tx.Of(ops.Diff(before, after)))
	p, _ := profiles.Get(ctx, "ada")
	fmt.Printf("%q %d\n", p.Bio, p.Views)
	// Output: "first programmer" 1
}
