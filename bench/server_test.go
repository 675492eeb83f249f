package bench_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/redis/go-redis/v9"
)

// Where the time of an atomic batch goes on the server: the time Redis
// itself records for each command (INFO commandstats usec_per_call), for
// programs of the batch interpreter from nothing up to what Exec sends, and
// for the hand-written twins. Each figure is the median over rounds of a
// pipeline of serverCalls commands, so that it holds the command's own time
// and none of the round trips.

const (
	serverCalls  = 200
	serverRounds = 15
)

// capture records the batches (FCALL commands) a client sends.
type capture struct {
	mu   sync.Mutex
	cmds [][]any
}

func (c *capture) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *capture) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(cmd.Name(), "fcall") {
			c.mu.Lock()
			c.cmds = append(c.cmds, slices.Clone(cmd.Args()))
			c.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}
func (c *capture) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	// Exec sends its batch in MULTI/EXEC: a pipeline.
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if strings.EqualFold(cmd.Name(), "fcall") {
				c.mu.Lock()
				c.cmds = append(c.cmds, slices.Clone(cmd.Args()))
				c.mu.Unlock()
			}
		}
		return next(ctx, cmds)
	}
}

func (c *capture) last() []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmds[len(c.cmds)-1]
}

// fresh returns cmd with its batch id (ARGV[1]) replaced by a new one
// everywhere (the id is also in the record key), so that the server applies
// it instead of answering from the record.
func fresh(cmd []any, n int) []any {
	nk, _ := strconv.Atoi(fmt.Sprint(cmd[2]))
	id := fmt.Sprint(cmd[3+nk])
	out := slices.Clone(cmd)
	if id == "" {
		return out
	}
	nid := fmt.Sprintf("%024d", n)
	for i, a := range out {
		if s, ok := a.(string); ok && strings.Contains(s, id) {
			out[i] = strings.ReplaceAll(s, id, nid)
		}
	}
	return out
}

// usecPerCall reads INFO commandstats: the summed usec of the named
// commands, per call of the first.
func usecPerCall(t *testing.T, e *env, names ...string) float64 {
	info, err := e.rdb.Info(e.ctx, "commandstats").Result()
	must(t, err)
	var usec float64
	calls := 0
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		i := slices.Index(names, strings.TrimPrefix(name, "cmdstat_"))
		if i < 0 {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(f, "=")
			switch {
			case k == "usec":
				x, _ := strconv.ParseFloat(v, 64)
				usec += x
			case k == "calls" && i == 0:
				calls, _ = strconv.Atoi(v)
			}
		}
	}
	if calls == 0 {
		return 0
	}
	return usec / float64(calls)
}

// leanBatch3 is scenario 1 written by hand as one Lua function, with the
// checks, version bump and record a batch has, and nothing general: the
// floor of any server-side check of the three ops.
const leanBatch3 = `#!lua name=bench_lean
local function lean(keys, args)
  local root, lst, mp, rec = keys[1], keys[2], keys[3], keys[4]
  local prev = redis.call('GET', rec)
  if prev then return cjson.decode(prev) end
  if redis.pcall('HEXISTS', root, '__v') ~= 1 then return {err = 'missing'} end
  local l = redis.pcall('LLEN', lst)
  if type(l) == 'table' then return l end
  local cur = redis.call('HGET', root, 'n') or '0'
  if not string.match(cur, '^%-?%d+$') then return {err = 'corrupt'} end
  local nv = string.format('%.0f', tonumber(cur) + tonumber(args[2]))
  local t = redis.call('TYPE', mp)
  if t.ok ~= 'none' and t.ok ~= 'hash' then return {err = 'wrongtype'} end
  redis.call('RPUSH', lst, args[1])
  redis.call('HINCRBY', root, 'n', args[2])
  redis.call('HSET', mp, args[3], args[4])
  redis.call('HINCRBY', root, '__v', 1)
  local out = {'OK', false, nv, false}
  redis.call('SET', rec, cjson.encode(out), 'PX', 60000)
  return out
end
redis.register_function('bench_lean', lean)`

type serverRow struct {
	what string
	// run sends serverCalls commands; names are the top-level commands
	// whose time counts, per call of the first
	run   func(seq int) error
	names []string
}

func serverTable(t *testing.T, shared *env) string {
	// A client of its own: the hook must not slow down other benchmarks.
	e := &env{ctx: shared.ctx, srv: shared.srv, rdb: redis.NewClient(&redis.Options{Addr: shared.srv.Addr()})}
	t.Cleanup(func() { _ = e.rdb.Close() })
	ctx := e.ctx
	hook := &capture{}
	e.rdb.AddHook(hook)

	// The programs Exec sends for scenarios 1, 2 and 3.
	b3 := batch3Rapyer(t, e)
	must(t, b3.op())
	b3cmd := hook.last()
	wd := withdrawRapyer(t, e)
	must(t, wd.op())
	wdcmd := hook.last()
	sv := saveRapyer(t, e)
	must(t, sv.op())
	svcmd := hook.last()

	// Smaller programs, by hand, in the layout batch.lua reads: no program
	// at all, then one model declaration.
	fn := transport.Interpreter.Name()
	b3nk, _ := strconv.Atoi(fmt.Sprint(b3cmd[2]))
	root := b3cmd[3]
	empty := []any{"fcall", fn, "0", "", "0", "10000", "0", "0"}
	model := []any{"fcall", fn, "1", root, "", "0", "10000", "0", "0", "model", "4", "1", "need", "keep", "0"}
	// Batch3's program without its record: ARGV[2] = 0.
	norec := slices.Clone(b3cmd)
	norec[3+b3nk+1] = "0"
	// The same programs as scripts, as servers without functions run them.
	must(t, transport.Script.Load(ctx, e.rdb).Err())
	asScript := func(cmd []any) []any {
		out := slices.Clone(cmd)
		out[0], out[1] = "evalsha", transport.Script.Hash()
		return out
	}
	// Batch ids of their own: a batch id already applied is answered
	// from its record.
	const scriptIDs = 1 << 40
	const multiIDs = 2 << 40
	returnOne := redis.NewScript("return 1")
	must(t, returnOne.Load(ctx, e.rdb).Err())
	must(t, e.rdb.FunctionLoadReplace(ctx, leanBatch3).Err())
	leanRoot := "lean:{" + e.id("l") + "}"
	must(t, e.rdb.HSet(ctx, leanRoot, "__v", 1, "n", 0).Err())
	must(t, e.rdb.FunctionLoadReplace(ctx, "#!lua name=bench_one\nredis.register_function('bench_one', function() return 1 end)").Err())

	// Exec sends a batch in MULTI/EXEC, which go-redis never resends blindly.
	inMulti := func(make func(i int) []any) func(int) error {
		return func(seq int) error {
			_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := range serverCalls {
					p.Do(ctx, "multi")
					p.Do(ctx, make(seq*serverCalls+i)...)
					p.Do(ctx, "exec")
				}
				return nil
			})
			return err
		}
	}
	pipeline := func(make func(i int) []any) func(int) error {
		return func(seq int) error {
			_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := range serverCalls {
					p.Do(ctx, make(seq*serverCalls+i)...)
				}
				return nil
			})
			return err
		}
	}
	sequential := func(p prepared) func(int) error {
		return func(int) error {
			for range serverCalls {
				if err := p.op(); err != nil {
					return err
				}
			}
			return nil
		}
	}
	rows := []serverRow{
		{"EVALSHA of `return 1` (the floor of any script)", pipeline(func(int) []any {
			return []any{"evalsha", returnOne.Hash(), "0"}
		}), []string{"evalsha"}},
		{"FCALL of a function returning 1 (the floor of any function)", pipeline(func(int) []any {
			return []any{"fcall", "bench_one", "0"}
		}), []string{"fcall"}},
		{"batch interpreter, empty program, as a script (its chunk runs on every call)", pipeline(func(int) []any { return asScript(empty) }), []string{"evalsha"}},
		{"batch interpreter, empty program, as a function", pipeline(func(int) []any { return empty }), []string{"fcall"}},
		{"+ one model declaration (existence and type: HEXISTS)", pipeline(func(int) []any { return model }), []string{"fcall"}},
		{"scenario 1: Append + Incr + SetItem, without the batch record", pipeline(func(i int) []any { return fresh(norec, i) }), []string{"fcall"}},
		{"scenario 1: the same with its record", pipeline(func(i int) []any { return fresh(b3cmd, i) }), []string{"fcall"}},
		{"scenario 1 with its record in MULTI/EXEC (what Exec sends; EXEC's time holds the FCALL's)", inMulti(func(i int) []any { return fresh(b3cmd, multiIDs+i) }), []string{"exec", "multi"}},
		{"scenario 1 without its record in MULTI/EXEC (what Exec sends with tx.NoRecord)", inMulti(func(i int) []any { return fresh(norec, i) }), []string{"exec", "multi"}},
		{"scenario 1 as a script (servers without functions)", pipeline(func(i int) []any { return asScript(fresh(b3cmd, scriptIDs+i)) }), []string{"evalsha"}},
		{"scenario 1 by a hand-written Lua function: the same checks, version and record, nothing general", pipeline(func(i int) []any {
			return []any{"fcall", "bench_lean", "4", leanRoot, leanRoot + ":l", leanRoot + ":m", fmt.Sprintf("%s:tx:%d", leanRoot, i), "x", "1", "k", "v"}
		}), []string{"fcall"}},
		{"scenario 1 twin: MULTI RPUSH HINCRBY HSET EXEC", sequential(batch3Hand(t, e)), []string{"exec", "multi"}},
		{"scenario 2: AtLeast + Decr (what Exec sends)", pipeline(func(i int) []any { return fresh(wdcmd, i) }), []string{"fcall"}},
		{"scenario 2 twin: WATCH, GET, MULTI DECRBY EXEC, UNWATCH", sequential(withdrawHand(t, e)), []string{"exec", "multi", "watch", "get", "unwatch"}},
		{"scenario 3: Save of the Profile (what Exec sends)", pipeline(func(i int) []any { return fresh(svcmd, i) }), []string{"fcall"}},
		{"scenario 3 as a script (servers without functions)", pipeline(func(i int) []any { return asScript(fresh(svcmd, scriptIDs+i)) }), []string{"evalsha"}},
		{"scenario 3 twin: MULTI DEL HSET RPUSH HSET EXEC", sequential(saveHandSide(t, e)), []string{"exec", "multi"}},
	}
	var sb strings.Builder
	sb.WriteString("| where | server time per call, median (min) |\n|---|---:|\n")
	for _, r := range rows {
		var us []float64
		for round := range serverRounds {
			must(t, e.rdb.ConfigResetStat(ctx).Err())
			must(t, r.run(round+1))
			us = append(us, usecPerCall(t, e, r.names...))
		}
		fmt.Fprintf(&sb, "| %s | %.1fus (%.1fus) |\n", r.what, median(us), slices.Min(us))
	}
	return sb.String()
}
