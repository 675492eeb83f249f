package bench_test

// The scenarios of the performance table (issue #6), each side as a
// "prepare" function: it sets up its data once and returns the operation
// that is timed, one call per b.N iteration. The library side and its
// hand-written go-redis twin run the same native work on the same server.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Account is the model of scenarios 1, 2 and 7.
type Account struct {
	Owner   string
	Balance int64
	History []string
	Limits  map[string]int
}

var (
	Balance = lens.Of(func(a *Account) *int64 { return &a.Balance })
	History = lens.Of(func(a *Account) *[]string { return &a.History })
	Limits  = lens.Of(func(a *Account) *map[string]int { return &a.Limits })
)

// Profile is the model of scenarios 3 and 8: five scalars, a list of 20
// elements and a map of 20 items.
type Profile struct {
	Name   string
	Email  string
	Age    int
	Score  float64
	Active bool
	Tags   []string
	Scores map[string]int
}

// Counter is the model of scenario 4.
type Counter struct {
	N int64
}

var CounterN = lens.Of(func(c *Counter) *int64 { return &c.N })

// Queue is the model of the list-length growth scenario.
type Queue struct {
	Items []string
}

var Items = lens.Of(func(q *Queue) *[]string { return &q.Items })

// env is what every side needs: one client on one private redis-server.
type env struct {
	ctx context.Context
	rdb *redis.Client
	srv *testenv.ServerProc
	// ids makes every prepared side use keys of its own
	ids atomic.Int64
}

func (e *env) id(name string) string { return fmt.Sprintf("%s%d", name, e.ids.Add(1)) }

// prepared is a side ready to be timed.
type prepared struct {
	op func() error
	// metrics, when set, reports extra figures accumulated since the last
	// reset (retries per success of optimistic updates).
	metrics func() map[string]float64
	reset   func()
	// check, when set, verifies the work the ops did so far (run by the
	// tests, never timed): a side that does less than it claims fails.
	check func() error
	// commands names the commands the side sends through a client of its
	// own, which the hook of peerServer does not see.
	commands []string
}

type prepare func(tb testing.TB, e *env) prepared

// side is one column of a comparison: a name and how to prepare it.
type side struct {
	name    string
	prepare prepare
}

// scenario is a benchmark with its sides; workers > 1 runs the op from that
// many goroutines at once.
type scenario struct {
	name    string
	workers int
	sides   []side
	// paired also times each peer side against the first paired, op by
	// op (pairedTimes), every round: for one-goroutine rows of the peer
	// table, where the sides' runs of their own meet the machine at
	// different moments
	paired bool
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func newProfile() Profile {
	p := Profile{Name: "Ada Lovelace", Email: "ada@example.com", Age: 36, Score: 97.5, Active: true,
		Scores: make(map[string]int, 20)}
	for i := range 20 {
		p.Tags = append(p.Tags, "tag-"+strconv.Itoa(i))
		p.Scores["game-"+strconv.Itoa(i)] = 1000 + i
	}
	return p
}

// --- 1. an atomic batch of three ops ---------------------------------------

func batch3Rapyer(tb testing.TB, e *env) prepared {
	m := rapyer.MustNew[Account](e.rdb, rapyer.Options{Prefix: "acct"})
	id := e.id("b3r")
	must(tb, m.Save(e.ctx, id, Account{Owner: "ada", Balance: 100}))
	return prepared{op: func() error {
		_, err := m.Exec(e.ctx, id, tx.Of(
			ops.Append(History, "deposit"),
			ops.Incr(Balance, 1),
			ops.SetItem(Limits, "daily", 500),
		))
		return err
	}}
}

func batch3Hand(tb testing.TB, e *env) prepared {
	id := e.id("b3h")
	root := "hand:{" + id + "}"
	hist, lim := root+":history", root+":limits"
	must(tb, e.rdb.HSet(e.ctx, root, "owner", "ada", "balance", 100).Err())
	return prepared{op: func() error {
		_, err := e.rdb.TxPipelined(e.ctx, func(p redis.Pipeliner) error {
			p.RPush(e.ctx, hist, "deposit")
			p.HIncrBy(e.ctx, root, "balance", 1)
			p.HSet(e.ctx, lim, "daily", 500)
			return nil
		})
		return err
	}}
}

// --- 2. a conditional withdrawal --------------------------------------------

const startBalance = 1 << 50

func withdrawRapyer(tb testing.TB, e *env) prepared {
	m := rapyer.MustNew[Account](e.rdb, rapyer.Options{Prefix: "acct"})
	id := e.id("wr")
	must(tb, m.Save(e.ctx, id, Account{Owner: "ada", Balance: startBalance}))
	return prepared{op: func() error {
		_, err := m.Exec(e.ctx, id, tx.Of(ops.Require(is.AtLeast(Balance, 1)), ops.Decr(Balance, 1)))
		return err
	}}
}

var errInsufficient = errors.New("insufficient funds")

// withdrawHand is the go-redis documentation's WATCH loop: WATCH, GET, check
// in Go, DECRBY in MULTI/EXEC, start again when EXEC reports a conflict.
func withdrawHand(tb testing.TB, e *env) prepared {
	key := "hand:{" + e.id("wh") + "}:balance"
	must(tb, e.rdb.Set(e.ctx, key, startBalance, 0).Err())
	const amount = 1
	return prepared{op: func() error {
		for {
			err := e.rdb.Watch(e.ctx, func(t *redis.Tx) error {
				n, err := t.Get(e.ctx, key).Int64()
				if err != nil {
					return err
				}
				if n < amount {
					return errInsufficient
				}
				_, err = t.TxPipelined(e.ctx, func(p redis.Pipeliner) error {
					p.DecrBy(e.ctx, key, amount)
					return nil
				})
				return err
			}, key)
			if errors.Is(err, redis.TxFailedErr) {
				continue
			}
			return err
		}
	}}
}

// --- 3. get and save of a model ---------------------------------------------

func getRapyer(tb testing.TB, e *env) prepared {
	m := rapyer.MustNew[Profile](e.rdb, rapyer.Options{Prefix: "profile"})
	id := e.id("gr")
	want := newProfile()
	must(tb, m.Save(e.ctx, id, want))
	return prepared{op: func() error {
		p, err := m.Get(e.ctx, id)
		if err == nil && (len(p.Tags) != 20 || len(p.Scores) != 20 || p.Age != want.Age) {
			err = fmt.Errorf("get: wrong profile %+v", p)
		}
		return err
	}}
}

type handKeys struct{ root, tags, scores string }

func profileKeys(id string) handKeys {
	root := "hand:{" + id + "}"
	return handKeys{root, root + ":tags", root + ":scores"}
}

// saveHand writes a profile the way one would by hand: MULTI, DEL the
// three keys, HSET the scalars, RPUSH the list, HSET the map, EXEC.
func saveHand(ctx context.Context, rdb redis.Cmdable, k handKeys, p Profile) error {
	_, err := rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, k.root, k.tags, k.scores)
		pipe.HSet(ctx, k.root,
			"name", p.Name, "email", p.Email, "age", strconv.Itoa(p.Age),
			"score", strconv.FormatFloat(p.Score, 'g', -1, 64), "active", strconv.FormatBool(p.Active))
		if len(p.Tags) > 0 {
			tags := make([]any, len(p.Tags))
			for i, t := range p.Tags {
				tags[i] = t
			}
			pipe.RPush(ctx, k.tags, tags...)
		}
		if len(p.Scores) > 0 {
			kv := make([]any, 0, 2*len(p.Scores))
			for k, v := range p.Scores {
				kv = append(kv, k, strconv.Itoa(v))
			}
			pipe.HSet(ctx, k.scores, kv...)
		}
		return nil
	})
	return err
}

// getHand reads a profile with a pipeline of HGETALL, LRANGE and HGETALL
// (in MULTI/EXEC when multi is set) and decodes it by hand, without
// reflection.
func getHand(ctx context.Context, rdb redis.Cmdable, k handKeys, multi bool) (Profile, error) {
	var root, scores *redis.MapStringStringCmd
	var tags *redis.StringSliceCmd
	queue := func(p redis.Pipeliner) error {
		root = p.HGetAll(ctx, k.root)
		tags = p.LRange(ctx, k.tags, 0, -1)
		scores = p.HGetAll(ctx, k.scores)
		return nil
	}
	var err error
	if multi {
		_, err = rdb.TxPipelined(ctx, queue)
	} else {
		_, err = rdb.Pipelined(ctx, queue)
	}
	var p Profile
	if err != nil {
		return p, err
	}
	r := root.Val()
	if len(r) == 0 {
		return p, redis.Nil
	}
	p.Name, p.Email = r["name"], r["email"]
	if p.Age, err = strconv.Atoi(r["age"]); err != nil {
		return p, err
	}
	if p.Score, err = strconv.ParseFloat(r["score"], 64); err != nil {
		return p, err
	}
	if p.Active, err = strconv.ParseBool(r["active"]); err != nil {
		return p, err
	}
	p.Tags = tags.Val()
	if s := scores.Val(); len(s) > 0 {
		p.Scores = make(map[string]int, len(s))
		for k, v := range s {
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, err
			}
			p.Scores[k] = n
		}
	}
	return p, nil
}

func getHandSide(tb testing.TB, e *env) prepared { return getHandOf(tb, e, false) }

// getHandMulti is the twin that reads in MULTI/EXEC, as Get does so that it
// never sees half of a batch.
func getHandMulti(tb testing.TB, e *env) prepared { return getHandOf(tb, e, true) }

func getHandOf(tb testing.TB, e *env, multi bool) prepared {
	k := profileKeys(e.id("gh"))
	want := newProfile()
	must(tb, saveHand(e.ctx, e.rdb, k, want))
	return prepared{op: func() error {
		p, err := getHand(e.ctx, e.rdb, k, multi)
		if err == nil && (len(p.Tags) != 20 || len(p.Scores) != 20 || p.Age != want.Age) {
			err = fmt.Errorf("get: wrong profile %+v", p)
		}
		return err
	}}
}

func saveRapyer(tb testing.TB, e *env) prepared {
	m := rapyer.MustNew[Profile](e.rdb, rapyer.Options{Prefix: "profile"})
	id := e.id("sr")
	p := newProfile()
	return prepared{op: func() error { return m.Save(e.ctx, id, p) }}
}

func saveHandSide(tb testing.TB, e *env) prepared {
	k := profileKeys(e.id("sh"))
	p := newProfile()
	return prepared{op: func() error { return saveHand(e.ctx, e.rdb, k, p) }}
}

// --- 4. eight goroutines on one counter --------------------------------------

func counterModel(tb testing.TB, e *env, name string) (*rapyer.Model[Counter], string) {
	m := rapyer.MustNew[Counter](e.rdb, rapyer.Options{Prefix: "counter",
		Exec: tx.Options{Retry: tx.Retry{Attempts: 1000}},
		Lock: lock.Options{Wait: time.Minute}})
	id := e.id(name)
	must(tb, m.Save(e.ctx, id, Counter{}))
	return m, id
}

func counterAtomic(tb testing.TB, e *env) prepared {
	m, id := counterModel(tb, e, "ca")
	return prepared{op: func() error {
		_, err := m.Exec(e.ctx, id, tx.Of(ops.Incr(CounterN, 1)))
		return err
	}}
}

func counterOptimistic(tb testing.TB, e *env) prepared {
	m, id := counterModel(tb, e, "co")
	var attempts, successes atomic.Int64
	return prepared{
		op: func() error {
			res, err := m.Update(e.ctx, id, func(c Counter) (tx.Batch, error) {
				return tx.Of(ops.Set(CounterN, c.N+1)), nil
			})
			if err != nil {
				return err
			}
			attempts.Add(int64(res.Attempts))
			successes.Add(1)
			return nil
		},
		metrics: func() map[string]float64 {
			s := successes.Load()
			if s == 0 {
				return nil
			}
			return map[string]float64{"retries/success": float64(attempts.Load()-s) / float64(s)}
		},
		reset: func() { attempts.Store(0); successes.Store(0) },
	}
}

func counterLock(tb testing.TB, e *env) prepared {
	m, id := counterModel(tb, e, "cl")
	return prepared{op: func() error {
		_, err := m.Lock(e.ctx, id, "incr", func(_ context.Context, c *Counter) error {
			c.N++
			return nil
		})
		return err
	}}
}

func counterHand(tb testing.TB, e *env) prepared {
	key := "hand:{" + e.id("ch") + "}"
	return prepared{op: func() error { return e.rdb.HIncrBy(e.ctx, key, "n", 1).Err() }}
}

// --- 5. lock acquire and release ---------------------------------------------

func lockRapyer(tb testing.TB, e *env) prepared {
	key := "lk:{" + e.id("lr") + "}:lock:x"
	return prepared{op: func() error {
		l, err := lock.Acquire(e.ctx, e.rdb, key, lock.Options{})
		if err != nil {
			return err
		}
		return l.Release(e.ctx)
	}}
}

// handRelease is the token-checked release everyone writes.
var handRelease = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

func lockHand(tb testing.TB, e *env) prepared {
	key := "hand:{" + e.id("lh") + "}:lock"
	keys := []string{key}
	return prepared{op: func() error {
		token := rapyerToken()
		ok, err := e.rdb.SetNX(e.ctx, key, token, 10*time.Second).Result()
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("SET NX: the lock is held")
		}
		n, err := handRelease.Run(e.ctx, e.rdb, keys, token).Int()
		if err == nil && n != 1 {
			err = errors.New("release: not held")
		}
		return err
	}}
}

// --- 7. growth ----------------------------------------------------------------

// batchOf returns n ops cycling through the three of scenario 1.
func batchOf(n int) []ops.Op {
	out := make([]ops.Op, n)
	for i := range out {
		switch i % 3 {
		case 0:
			out[i] = ops.Append(History, "deposit")
		case 1:
			out[i] = ops.Incr(Balance, 1)
		default:
			out[i] = ops.SetItem(Limits, "k"+strconv.Itoa(i%64), i)
		}
	}
	return out
}

func growthRapyer(n int) prepare {
	return func(tb testing.TB, e *env) prepared {
		m := rapyer.MustNew[Account](e.rdb, rapyer.Options{Prefix: "acct"})
		id := e.id("gbr")
		must(tb, m.Save(e.ctx, id, Account{Owner: "ada"}))
		return prepared{op: func() error {
			// Built per call, as callers do when the values vary.
			_, err := m.Exec(e.ctx, id, tx.Of(batchOf(n)...))
			if err == nil {
				// Keep the list from growing without end.
				_, err = e.rdb.Del(e.ctx, "acct:{"+id+"}:history").Result()
			}
			return err
		}}
	}
}

func growthHand(n int) prepare {
	return func(tb testing.TB, e *env) prepared {
		root := "hand:{" + e.id("gbh") + "}"
		hist, lim := root+":history", root+":limits"
		return prepared{op: func() error {
			_, err := e.rdb.TxPipelined(e.ctx, func(p redis.Pipeliner) error {
				for i := range n {
					switch i % 3 {
					case 0:
						p.RPush(e.ctx, hist, "deposit")
					case 1:
						p.HIncrBy(e.ctx, root, "balance", 1)
					default:
						p.HSet(e.ctx, lim, "k"+strconv.Itoa(i%64), strconv.Itoa(i))
					}
				}
				return nil
			})
			if err == nil {
				err = e.rdb.Del(e.ctx, hist).Err()
			}
			return err
		}}
	}
}

// fill returns n list elements.
func fill(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "item-" + strconv.Itoa(i)
	}
	return out
}

// listRapyer appends to and pops from a list of n elements in one batch:
// its length stays n.
func listRapyer(n int) prepare {
	return func(tb testing.TB, e *env) prepared {
		m := rapyer.MustNew[Queue](e.rdb, rapyer.Options{Prefix: "queue"})
		id := e.id("lr")
		must(tb, m.Save(e.ctx, id, Queue{Items: fill(n)}))
		return prepared{op: func() error {
			pop := ops.PopFirst(Items)
			res, err := m.Exec(e.ctx, id, tx.Of(ops.Append(Items, "new"), pop))
			if err != nil {
				return err
			}
			if _, ok, err := pop.Result(res); err != nil || !ok {
				return fmt.Errorf("pop: %v %v", ok, err)
			}
			return nil
		}}
	}
}

func listHand(n int) prepare {
	return func(tb testing.TB, e *env) prepared {
		key := "hand:{" + e.id("lh") + "}:items"
		must(tb, e.rdb.RPush(e.ctx, key, toAny(fill(n))...).Err())
		return prepared{op: func() error {
			var pop *redis.StringCmd
			_, err := e.rdb.TxPipelined(e.ctx, func(p redis.Pipeliner) error {
				p.RPush(e.ctx, key, "new")
				pop = p.LPop(e.ctx, key)
				return nil
			})
			if err == nil && pop.Val() == "" {
				err = errors.New("pop: nothing")
			}
			return err
		}}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
