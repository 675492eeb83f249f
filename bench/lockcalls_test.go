package bench_test

// The server's instructions of an uncontended lock acquire + release, by
// the lock package, redislock and the hand-written lock, and of scripts
// that make only the calls of each way of storing the lock's state
// (docs/performance.md "Session 10: the uncontended lock"). It does not
// run in make test: it needs RAPYER_CALLGRIND=1.

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// callsAcquire and callsRelease make only the redis.calls of one way of
// an uncontended fenced acquire and of its release, with the lock key in
// KEYS[1] and the token in ARGV[1] (the fence key, marker and wait flag
// named after it, as lock.lua does), ARGV[2] the way.
var callsAcquire = redis.NewScript(`
local k, t = KEYS[1], ARGV[1]
if ARGV[2] == 'exists-incr-pexpire' then
  if redis.call('EXISTS', k .. ':fence:' .. t) == 1 then return -1 end
  redis.call('SET', k, t, 'NX', 'PX', 10000)
  local n = redis.call('INCR', k .. ':fence')
  redis.call('PEXPIRE', k .. ':fence', 70000)
  return n
elseif ARGV[2] == 'mget-setpx' then
  local v = redis.call('MGET', k .. ':fence', k .. ':fence:' .. t)
  if v[2] then return -1 end
  redis.call('SET', k, t, 'NX', 'PX', 10000)
  local n = (tonumber(v[1]) or 0) + 1
  redis.call('SET', k .. ':fence', string.format('%d', n), 'PX', 70000)
  return n
elseif ARGV[2] == 'mget-incr-pexpire' then
  local v = redis.call('MGET', k .. ':fence', k .. ':fence:' .. t)
  if v[2] then return -1 end
  redis.call('SET', k, t, 'NX', 'PX', 10000)
  local n = redis.call('INCR', k .. ':fence')
  redis.call('PEXPIRE', k .. ':fence', 70000)
  return n
elseif ARGV[2] == 'exists-incr-pttl' then
  if redis.call('EXISTS', k .. ':fence:' .. t) == 1 then return -1 end
  redis.call('SET', k, t, 'NX', 'PX', 10000)
  local n = redis.call('INCR', k .. ':fence')
  if redis.call('PTTL', k .. ':fence') < 40000 then
    redis.call('PEXPIRE', k .. ':fence', 70000)
  end
  return n
elseif ARGV[2] == 'hexists-hincrby-pttl' then
  -- marker, wait flag and counter as fields of one hash
  local f = k .. ':fence'
  if redis.call('HEXISTS', f, 'void:' .. t) == 1 then return -1 end
  redis.call('SET', k, t, 'NX', 'PX', 10000)
  local n = redis.call('HINCRBY', f, 'n', 1)
  if redis.call('PTTL', f) < 40000 then
    redis.call('PEXPIRE', f, 70000)
  end
  return n
elseif ARGV[2] == 'exists-incr' then
  if redis.call('EXISTS', k .. ':fence:' .. t) == 1 then return -1 end
  redis.call('SET', k, t, 'NX', 'PX', 10000)
  return redis.call('INCR', k .. ':fence')
elseif ARGV[2] == 'setnx' then
  redis.call('SET', k, t, 'NX', 'PX', 10000)
  return 0
end
return redis.error_reply('no such way')`)

var callsRelease = redis.NewScript(`
local k, t = KEYS[1], ARGV[1]
if ARGV[2] == 'get-del-exists' then
  if redis.call('GET', k) == t then
    redis.call('DEL', k)
    if redis.call('EXISTS', k .. ':fence:wait') == 1 then return 2 end
    return 1
  end
  return 0
elseif ARGV[2] == 'mget-del' then
  local v = redis.call('MGET', k, k .. ':fence:wait')
  if v[1] == t then
    redis.call('DEL', k)
    if v[2] then return 2 end
    return 1
  end
  return 0
elseif ARGV[2] == 'get-del-hexists' then
  if redis.call('GET', k) == t then
    redis.call('DEL', k)
    if redis.call('HEXISTS', k .. ':fence', 'wait') == 1 then return 2 end
    return 1
  end
  return 0
elseif ARGV[2] == 'get-del' then
  if redis.call('GET', k) == t then
    return redis.call('DEL', k)
  end
  return 0
end
return redis.error_reply('no such way')`)

// TestUncontendedLockCalls counts the server's instructions per
// uncontended acquire + release: the lock package's (fenced, as the peer
// table's lockOnce; NoFence; and fenced by a caller that would wait),
// redislock's, the hand-written lock's,
// and the call-only scripts of each way (callsAcquire, callsRelease), on
// a private redis-server under callgrind, the sides interleaved, the best
// of 3 rounds of 1,000 (RAPYER_CALLGRIND_N; RAPYER_CALLGRIND_SIDES=lock/
// runs only the sides whose names hold it; RAPYER_CALLGRIND_KEEP=dir keeps
// the dumps, for callgrind_annotate; RAPYER_CALLGRIND_AOF=1 turns the
// append-only file on, so that writes are propagated):
//
//	RAPYER_CALLGRIND=1 go test -count=1 -v -run TestUncontendedLockCalls ./bench/
func TestUncontendedLockCalls(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") != "1" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	cg := startCallgrind(t).Callgrind
	e := &env{ctx: t.Context(), rdb: cg.Client}
	if os.Getenv("RAPYER_CALLGRIND_AOF") == "1" {
		// writes propagated, as with a replica or an append-only file
		must(t, e.rdb.ConfigSet(e.ctx, "appendonly", "yes").Err())
		must(t, e.rdb.ConfigSet(e.ctx, "appendfsync", "no").Err())
	}
	nofence := "lk:{" + e.id("nf") + "}:lock:x"
	waiting := "lk:{" + e.id("wt") + "}:lock:x"
	ways := func(acq, rel string) func() error {
		key := "cw:{" + e.id("cw") + "}:lock"
		keys := []string{key}
		return func() error {
			tok := rapyerToken()
			if err := callsAcquire.Run(e.ctx, e.rdb, keys, tok, acq).Err(); err != nil {
				return err
			}
			return callsRelease.Run(e.ctx, e.rdb, keys, tok, rel).Err()
		}
	}
	sides := []testenv.Side{
		{Name: "lock/rapyer", Op: lockOnce(t, e).op},
		{Name: "lock/rapyer NoFence", Op: func() error {
			l, err := lock.Acquire(e.ctx, e.rdb, nofence, lock.Options{TTL: peerLockTTL, Wait: lock.NoWait, NoFence: true})
			if err != nil {
				return err
			}
			return l.Release(e.ctx)
		}},
		{Name: "lock/rapyer waiting", Op: func() error {
			// a caller that would wait (lock.Acquire's default Wait),
			// fenced: its uncontended cycle (session 15)
			l, err := lock.Acquire(e.ctx, e.rdb, waiting, lock.Options{TTL: peerLockTTL})
			if err != nil {
				return err
			}
			return l.Release(e.ctx)
		}},
		{Name: "lock/redislock", Op: lockRedislock(t, e).op},
		{Name: "lock/hand", Op: lockOnceHand(t, e).op},
		{Name: "calls exists-incr-pexpire, get-del-exists", Op: ways("exists-incr-pexpire", "get-del-exists")},
		{Name: "calls exists-incr-pttl, get-del-exists", Op: ways("exists-incr-pttl", "get-del-exists")},
		{Name: "calls hexists-hincrby-pttl, get-del-hexists", Op: ways("hexists-hincrby-pttl", "get-del-hexists")},
		{Name: "calls mget-setpx, mget-del", Op: ways("mget-setpx", "mget-del")},
		{Name: "calls mget-incr-pexpire, mget-del", Op: ways("mget-incr-pexpire", "mget-del")},
		{Name: "calls exists-incr, get-del-exists", Op: ways("exists-incr", "get-del-exists")},
		{Name: "calls setnx, get-del", Op: ways("setnx", "get-del")},
	}
	if only := os.Getenv("RAPYER_CALLGRIND_SIDES"); only != "" {
		sides = slices.DeleteFunc(sides, func(s testenv.Side) bool { return !strings.Contains(s.Name, only) })
	}
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("RAPYER_CALLGRIND_N")); err == nil && v > 0 {
		n = v
	}
	best := cg.Best(3, n, sides)
	for i, s := range sides {
		t.Logf("best %-42s %8.0f instructions per acquire + release", s.Name, best[i])
	}
}
