package bench_test

// The model scenarios of issue #13's table, each with the library side first
// and then the peers our users would pick instead. rueidis `om` is not on the
// module proxy, so its sides here are twins: go-redis code doing the same
// Redis work as om's HashRepository (Save: one script that checks the stored
// version field equals the one the caller holds, then HSETs every field with
// the version plus one; Fetch: HGETALL and decode). The other sides are
// hand-written go-redis, named after what they send.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Item is the 8-field model of the Save, Get and model Lock rows.
type Item struct {
	Name    string
	Email   string
	City    string
	Age     int
	Score   float64
	Active  bool
	Visits  int64
	Balance int64
}

var ItemVisits = lens.Of(func(i *Item) *int64 { return &i.Visits })

func newItem() Item {
	return Item{Name: "Ada Lovelace", Email: "ada@example.com", City: "London", Age: 36,
		Score: 97.5, Active: true, Visits: 1, Balance: 100}
}

// itemFields is the item as om's hash converter writes it: field name and
// text value, the key field included.
func itemFields(id string, it Item) []any {
	return []any{"id", id, "name", it.Name, "email", it.Email, "city", it.City,
		"age", strconv.Itoa(it.Age), "score", strconv.FormatFloat(it.Score, 'f', -1, 64),
		"active", strconv.FormatBool(it.Active), "visits", strconv.FormatInt(it.Visits, 10),
		"balance", strconv.FormatInt(it.Balance, 10)}
}

// decodeItem reads an item from its hash, by hand (om's converter does the
// same with reflection).
func decodeItem(h map[string]string) (Item, error) {
	if len(h) == 0 {
		return Item{}, redis.Nil
	}
	it := Item{Name: h["name"], Email: h["email"], City: h["city"]}
	var errs [5]error
	it.Age, errs[0] = strconv.Atoi(h["age"])
	it.Score, errs[1] = strconv.ParseFloat(h["score"], 64)
	it.Active, errs[2] = strconv.ParseBool(h["active"])
	it.Visits, errs[3] = strconv.ParseInt(h["visits"], 10, 64)
	it.Balance, errs[4] = strconv.ParseInt(h["balance"], 10, 64)
	return it, errors.Join(errs[:]...)
}

// omSaveScript is the twin of om's version-checked save: ARGV is the
// version field and the version the caller holds, then the other fields and
// values. A stored version that differs refuses the save (nil); otherwise
// the fields are written with the version plus one, which is returned.
var omSaveScript = redis.NewScript(`
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored and stored ~= ARGV[2] then return nil end
ARGV[2] = tostring(tonumber(ARGV[2]) + 1)
redis.call('HSET', KEYS[1], unpack(ARGV))
return ARGV[2]`)

var errVersionMismatch = errors.New("om twin: version mismatch")

// omSave runs the save script for the fields at key, holding version ver,
// and returns the new version.
func omSave(ctx context.Context, rdb redis.Scripter, key string, ver int64, fields []any) (int64, error) {
	args := append([]any{"ver", strconv.FormatInt(ver, 10)}, fields...)
	s, err := omSaveScript.Run(ctx, rdb, []string{key}, args...).Text()
	if errors.Is(err, redis.Nil) {
		return 0, errVersionMismatch
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

// --- Save and Get of an 8-field model -----------------------------------------

// omKey is the key of the om entity id: om's Fetch and Save build it on
// every call from the repository's prefix and the id (key(prefix, id) in
// rueidis/om's hash.go), as rapyer's Get and Save build theirs, so the
// twins build it in the timed op too.
func omKey(id string) string { return "om:" + id }

func itemModel(e *env) *rapyer.Model[Item] {
	return rapyer.MustNew[Item](e.rdb, rapyer.Options{Prefix: "item"})
}

func saveItemRapyer(tb testing.TB, e *env) prepared {
	m := itemModel(e)
	id := e.id("s8r")
	it := newItem()
	return prepared{op: func() error { return m.Save(e.ctx, id, it) },
		check: func() error { return sameItem(m.Get(e.ctx, id))(it) }}
}

func sameItem(got Item, err error) func(Item) error {
	return func(want Item) error {
		if err == nil && got != want {
			err = fmt.Errorf("stored %+v, want %+v", got, want)
		}
		return err
	}
}

// saveItemOm is om's HashRepository.Save, twinned: the entity keeps the
// version the last save returned.
func saveItemOm(tb testing.TB, e *env) prepared {
	id := e.id("s8o")
	it := newItem()
	var ver int64
	return prepared{
		op: func() error {
			v, err := omSave(e.ctx, e.rdb, omKey(id), ver, itemFields(id, it))
			ver = v
			return err
		},
		check: func() error {
			h, err := e.rdb.HGetAll(e.ctx, omKey(id)).Result()
			if err != nil {
				return err
			}
			if h["ver"] != strconv.FormatInt(ver, 10) || h["id"] != id {
				return fmt.Errorf("om twin: ver %q id %q, want %d %q", h["ver"], h["id"], ver, id)
			}
			return sameItem(decodeItem(h))(it)
		},
	}
}

func getItemRapyer(tb testing.TB, e *env) prepared {
	m := itemModel(e)
	id := e.id("g8r")
	want := newItem()
	must(tb, m.Save(e.ctx, id, want))
	return prepared{op: func() error { return sameItem(m.Get(e.ctx, id))(want) }}
}

// getItemOm is om's HashRepository.Fetch, twinned: one HGETALL, decoded.
func getItemOm(tb testing.TB, e *env) prepared {
	id := e.id("g8o")
	want := newItem()
	_, err := omSave(e.ctx, e.rdb, omKey(id), 0, itemFields(id, want))
	must(tb, err)
	return prepared{op: func() error {
		h, err := e.rdb.HGetAll(e.ctx, omKey(id)).Result()
		if err != nil {
			return err
		}
		return sameItem(decodeItem(h))(want)
	}}
}

// --- conditional withdrawal: om's optimistic loop -------------------------------

// withdrawOm is the loop an om user writes: Fetch, check, Save with the
// version fetched, and start again when the save reports a mismatch.
func withdrawOm(tb testing.TB, e *env) prepared {
	id := e.id("wo")
	key := "om:" + id
	_, err := omSave(e.ctx, e.rdb, key, 0, []any{"id", id, "owner", "ada", "balance", strconv.Itoa(startBalance)})
	must(tb, err)
	return prepared{op: func() error {
		for {
			h, err := e.rdb.HGetAll(e.ctx, key).Result()
			if err != nil {
				return err
			}
			ver, err1 := strconv.ParseInt(h["ver"], 10, 64)
			n, err2 := strconv.ParseInt(h["balance"], 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			if n < 1 {
				return errInsufficient
			}
			_, err = omSave(e.ctx, e.rdb, key, ver, []any{"id", id, "owner", h["owner"], "balance", strconv.FormatInt(n-1, 10)})
			if !errors.Is(err, errVersionMismatch) {
				return err
			}
		}
	}}
}

// --- a model lock cycle: acquire, load, fenced save, release --------------------

func modelLockRapyer(tb testing.TB, e *env) prepared {
	m := itemModel(e)
	id := e.id("mlr")
	must(tb, m.Save(e.ctx, id, newItem()))
	var cycles int64
	return prepared{
		op: func() error {
			cycles++
			_, err := m.Lock(e.ctx, id, "visit", func(_ context.Context, it *Item) error { it.Visits++; return nil })
			return err
		},
		check: func() error {
			it, err := m.Get(e.ctx, id)
			if err == nil && it.Visits != 1+cycles {
				err = fmt.Errorf("visits %d after %d cycles", it.Visits, cycles)
			}
			return errors.Join(err, noKeys(e, "item:{"+id+"}:lock:visit"))
		},
	}
}

// noKeys fails when any of keys exists: a lock left behind.
func noKeys(e *env, keys ...string) error {
	n, err := e.rdb.Exists(e.ctx, keys...).Result()
	if err == nil && n != 0 {
		err = fmt.Errorf("%d of %v still exist", n, keys)
	}
	return err
}

// fencedSave writes fields of KEYS[1] and bumps its version only while
// KEYS[2] still holds the lock token ARGV[1].
var fencedSave = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return redis.error_reply('lock lost') end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return redis.call('HINCRBY', KEYS[1], 'ver', 1)`)

// modelLockHand is the same cycle by hand in the same two round trips:
// MULTI SET NX PX + HGETALL EXEC, then the fenced save script and the
// compare-and-delete release in one pipeline.
func modelLockHand(tb testing.TB, e *env) prepared {
	id := e.id("mlh")
	root, lk := "hand:{"+id+"}", "hand:{"+id+"}:lock:visit"
	must(tb, e.rdb.HSet(e.ctx, root, append(itemFields(id, newItem()), "ver", "1")...).Err())
	// The pipeline sends EVALSHA only: the scripts are loaded once here.
	must(tb, fencedSave.Load(e.ctx, e.rdb).Err())
	must(tb, handRelease.Load(e.ctx, e.rdb).Err())
	var cycles int64
	return prepared{
		op: func() error {
			cycles++
			return handLockCycle(e.ctx, e.rdb, root, lk)
		},
		check: func() error {
			v, err := e.rdb.HGet(e.ctx, root, "visits").Int64()
			if err == nil && v != 1+cycles {
				err = fmt.Errorf("visits %d after %d cycles", v, cycles)
			}
			return errors.Join(err, noKeys(e, lk))
		},
	}
}

func handLockCycle(ctx context.Context, rdb *redis.Client, root, lk string) error {
	token := rapyerToken()
	var got *redis.BoolCmd
	var load *redis.MapStringStringCmd
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		got = p.SetNX(ctx, lk, token, 10*time.Second)
		load = p.HGetAll(ctx, root)
		return nil
	})
	if err != nil {
		return err
	}
	if !got.Val() {
		return errors.New("SET NX: the lock is held")
	}
	it, err := decodeItem(load.Val())
	if err != nil {
		return err
	}
	it.Visits++
	var save, rel *redis.Cmd
	_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		save = fencedSave.EvalSha(ctx, p, []string{root, lk}, token, "visits", strconv.FormatInt(it.Visits, 10))
		rel = handRelease.EvalSha(ctx, p, []string{lk}, token)
		return nil
	})
	if err == nil && rel.Val() != int64(1) {
		err = errors.New("release: not held")
	}
	return errors.Join(err, save.Err())
}

// --- a guarded batch of three ops --------------------------------------------

func guarded3Rapyer(tb testing.TB, e *env) prepared {
	m := rapyer.MustNew[Account](e.rdb, rapyer.Options{Prefix: "acct"})
	id := e.id("g3r")
	must(tb, m.Save(e.ctx, id, Account{Owner: "ada", Balance: 100}))
	var n int64
	return prepared{
		op: func() error {
			n++
			_, err := m.Exec(e.ctx, id, tx.Of(ops.Require(is.AtLeast(Balance, 0)), ops.Incr(Balance, 1), ops.Append(History, "deposit")))
			return err
		},
		check: func() error {
			a, err := m.Get(e.ctx, id)
			if err == nil && (a.Balance != 100+n || int64(len(a.History)) != n) {
				err = fmt.Errorf("balance %d, %d deposits after %d batches", a.Balance, len(a.History), n)
			}
			return err
		},
	}
}

// guarded3Lua is the same batch as one hand-written Lua function with the
// promises a batch keeps and nothing general: the record of an applied batch
// answers a resend; the model must exist; the guard is checked and the list
// key's type before the first write; then HINCRBY, RPUSH, the version bump,
// and the record (SET PX, as long as tx.DefaultRecord).
const guarded3Lua = `#!lua name=bench_guarded3
redis.register_function('bench_guarded3', function(keys, args)
  local root, hist, rec = keys[1], keys[2], keys[3]
  local prev = redis.call('GET', rec)
  if prev then return prev end
  if redis.call('HEXISTS', root, '__v') ~= 1 then return redis.error_reply('missing') end
  local cur = redis.call('HGET', root, 'balance') or '0'
  if not string.match(cur, '^%-?%d+$') then return redis.error_reply('corrupt') end
  if tonumber(cur) < tonumber(args[1]) then return redis.error_reply('precondition') end
  local t = redis.call('TYPE', hist).ok
  if t ~= 'none' and t ~= 'list' then return redis.error_reply('wrongtype') end
  local nv = redis.call('HINCRBY', root, 'balance', args[2])
  redis.call('RPUSH', hist, args[3])
  redis.call('HINCRBY', root, '__v', 1)
  redis.call('SET', rec, nv, 'PX', args[4])
  return nv
end)`

func guarded3Function(tb testing.TB, e *env) prepared {
	must(tb, e.rdb.FunctionLoadReplace(e.ctx, guarded3Lua).Err())
	id := e.id("g3l")
	root, hist := "lua:{"+id+"}", "lua:{"+id+"}:history"
	must(tb, e.rdb.HSet(e.ctx, root, "__v", 1, "owner", "ada", "balance", 100).Err())
	var n int64
	record := strconv.FormatInt(tx.DefaultRecord.Milliseconds(), 10)
	return prepared{
		op: func() error {
			n++
			rec := fmt.Sprintf("tx{%s}:%016d", id, n)
			got, err := e.rdb.FCall(e.ctx, "bench_guarded3", []string{root, hist, rec}, 0, 1, "deposit", record).Int64()
			if err == nil && got != 100+n {
				err = fmt.Errorf("balance %d after %d batches", got, n)
			}
			return err
		},
		check: func() error { return handAccount(e, root, hist, 100+n, n) },
	}
}

// guarded3Multi is the batch without its guard, version or record: MULTI
// HINCRBY RPUSH EXEC.
func guarded3Multi(tb testing.TB, e *env) prepared {
	id := e.id("g3m")
	root, hist := "hand:{"+id+"}", "hand:{"+id+"}:history"
	must(tb, e.rdb.HSet(e.ctx, root, "owner", "ada", "balance", 100).Err())
	var n int64
	return prepared{
		op: func() error {
			n++
			_, err := e.rdb.TxPipelined(e.ctx, func(p redis.Pipeliner) error {
				p.HIncrBy(e.ctx, root, "balance", 1)
				p.RPush(e.ctx, hist, "deposit")
				return nil
			})
			return err
		},
		check: func() error { return handAccount(e, root, hist, 100+n, n) },
	}
}

func handAccount(e *env, root, hist string, balance, deposits int64) error {
	b, err := e.rdb.HGet(e.ctx, root, "balance").Int64()
	if err != nil {
		return err
	}
	l, err := e.rdb.LLen(e.ctx, hist).Result()
	if err == nil && (b != balance || l != deposits) {
		err = fmt.Errorf("balance %d and %d deposits, want %d and %d", b, l, balance, deposits)
	}
	return err
}

// TestPeerChecks makes sure the checks of the peer sides fail when the work
// was not done: a changed field after the om twin's save, a lock left
// behind, two holders at once; and that the om twin refuses a stale version,
// as om does.
func TestPeerChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	e := newEnv(t)
	save := saveItemOm(t, e)
	key := fmt.Sprintf("om:s8o%d", e.ids.Load())
	must(t, save.op())
	must(t, save.check())
	must(t, e.rdb.HSet(e.ctx, key, "city", "Paris").Err())
	if save.check() == nil {
		t.Error("the om twin's check passed over a changed field")
	}
	if _, err := omSave(e.ctx, e.rdb, key, 0, itemFields("x", newItem())); !errors.Is(err, errVersionMismatch) {
		t.Errorf("a stale version saved: %v", err)
	}
	for _, c := range []struct {
		p    prepare
		lock string
	}{{modelLockHand, "hand:{mlh%d}:lock:visit"}, {modelLockRapyer, "item:{mlr%d}:lock:visit"}} {
		cycle := c.p(t, e)
		lock := fmt.Sprintf(c.lock, e.ids.Load())
		must(t, cycle.op())
		must(t, cycle.check())
		must(t, e.rdb.Set(e.ctx, lock, "x", time.Minute).Err())
		if cycle.check() == nil {
			t.Errorf("%s left behind passed the check", lock)
		}
	}
	var x exclusive
	x.inside.Add(1)
	if x.hold(func() error { return nil }) == nil {
		t.Error("two holders at once passed")
	}
}
