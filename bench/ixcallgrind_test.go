package bench_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestIndexWriteInstructions counts the server's instructions per write
// of the model of TestIndexWriteCost with 0, 1, 2 and 4 On indexes (issue
// #14: each index adds at most 25% to a write): a Save of one of 50
// models (Age and Name change), the same on the generator's shape (before
// saveix.go), a Save that creates its model, the two Execs of
// TestIndexWriteCost on the 50 models; with redis-server under
// valgrind's callgrind (docs/performance.md, "Session 7: indexed writes"):
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestIndexWriteInstructions$' -v ./bench/
//
// RAPYER_CALLGRIND_KEEP=dir keeps the dumps there, one per count, in
// order (cg.out.N). Each write runs calls
// times after a warm-up of 50, counters zeroed before and dumped after;
// whole server: protocol, MULTI/EXEC, script.
func TestIndexWriteInstructions(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	const calls = 300
	cg := startCallgrind(t)
	ctx := context.Background()
	specs := []index.Spec{index.On(ixrAge), index.On(ixrCity), index.On(ixrEmail), index.On(ixrName)}
	v := ixRow{Name: "name", Email: "someone@example.com", City: "Paris", Age: 30, Score: 1.5, Stock: 7, Notes: "notes", Done: true}
	var sb strings.Builder
	sb.WriteString("\n| indexes | Save | Save, generator's shape | Save of a new model | Exec Incr of an indexed and an unindexed field | Exec Incr of an unindexed field |\n|---|---:|---:|---:|---:|---:|\n")
	var base [5]float64
	for _, k := range []int{0, 1, 2, 4} {
		m, err := rapyer.New[ixRow](cg.rdb, rapyer.Options{Prefix: fmt.Sprintf("ixcg%d", k), Indexes: specs[:k]})
		must(t, err)
		mg, err := rapyer.New[ixRow](cg.rdb, rapyer.Options{Prefix: fmt.Sprintf("ixcgg%d", k), Indexes: specs[:k]})
		must(t, err)
		// a Save of one of 50 models saved before: Age and Name change
		save := func(m *rapyer.Model[ixRow], j int, id string) error {
			w := v
			w.Age, w.Name = j%100, fmt.Sprint("name", j)
			return m.Save(ctx, id, w)
		}
		writes := []func(j int) error{
			func(j int) error { return save(m, j, fmt.Sprint("id", j%50)) },
			func(j int) error { return save(mg, j, fmt.Sprint("id", j%50)) },
			func(j int) error { return save(m, j, fmt.Sprint("new", j)) },
			func(j int) error {
				_, err := m.Exec(ctx, fmt.Sprint("id", j%50), tx.Of(ops.Incr(ixrAge, 1), ops.Incr(ixrStock, 1)))
				return err
			},
			func(j int) error {
				_, err := m.Exec(ctx, fmt.Sprint("id", j%50), tx.Of(ops.Incr(ixrStock, 1)))
				return err
			},
		}
		fmt.Fprintf(&sb, "| %d |", k)
		for i, op := range writes {
			shape.SaveIxOff.Store(i == 1) // the generator's shape
			shape.Forget()
			n := cg.count(t, 50, calls, op)
			if k == 0 {
				base[i] = n
				fmt.Fprintf(&sb, " %.0fk |", n/1000)
			} else {
				fmt.Fprintf(&sb, " %.0fk (%.2fx) |", n/1000, n/base[i])
			}
		}
		sb.WriteString("\n")
	}
	shape.SaveIxOff.Store(false)
	shape.Forget()
	t.Log(sb.String())
}

// ixCallgrind is a testenv.Callgrind whose dumps go to
// $RAPYER_CALLGRIND_KEEP when it is set (callgrind_annotate
// --inclusive=yes shows where the instructions go), else to a temporary
// directory.
type ixCallgrind struct {
	*testenv.Callgrind
	rdb *redis.Client
}

func startCallgrind(t *testing.T) ixCallgrind {
	dir := os.Getenv("RAPYER_CALLGRIND_KEEP")
	if dir == "" {
		dir = t.TempDir()
	}
	cg := testenv.StartCallgrind(t, dir)
	return ixCallgrind{Callgrind: cg, rdb: cg.Client}
}

// count runs op warm times, then calls times between a zeroing and a dump
// of the counters, and returns the instructions per call; op gets the
// number of its run.
func (c ixCallgrind) count(t *testing.T, warm, calls int, op func(j int) error) float64 {
	for j := range warm {
		must(t, op(j))
	}
	j := warm
	return c.Count(calls, func() error { j++; return op(j - 1) })
}

// TestIndexSaveFloor counts the server's instructions per call of scripts
// that make only the calls of a Save, and none of its checks, asks or
// record handling: of the 0-index compiled save (HGET, HLEN, PTTL, SET NX,
// HSET), of the 1-index one (also an HMGET field, HGET of @back, ZCARD of
// @exp, ZREM, ZADD, HSET of @back), the latter without @back, and without
// @back nor the ZCARD; and "return 1" with the words of each. The floor of
// a Save that changes an indexed value with this key layout
// (docs/performance.md, "Session 7: indexed writes"):
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestIndexSaveFloor$' -v ./bench/
func TestIndexSaveFloor(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	cg := startCallgrind(t)
	ctx := context.Background()
	fields := []any{"name", "someone@example.com", "Paris", "", "1.5", "7", "notes", "true"}
	// 50 models in 16 groups, as the 50 models of TestIndexWriteInstructions
	args0 := func(j, q int) ([]string, []any) {
		a := append([]any{}, fields...)
		a[3] = strconv.Itoa(j % 100)
		return []string{fmt.Sprintf("f0:{id%d}", j%50), fmt.Sprintf("rec:%d", q)}, a
	}
	args1 := func(j, q int) ([]string, []any) {
		g := fmt.Sprintf("f1:{g%d}", (j%50)%16)
		a := append([]any{"10000", fmt.Sprintf("id%d", j%50)}, fields...)
		a[5] = strconv.Itoa(j % 100)
		return []string{g + fmt.Sprintf(":{id%d}", j%50), g + ":@ids", g + ":@back", g + ":@exp", g + ":@i:age", fmt.Sprintf("rec:%d", q)}, a
	}
	sides := []floorScript{
		{"0 indexes: the calls", floor0, args0},
		{"0 indexes: return 1", "return 1", args0},
		{"1 index: the calls", strings.Replace(floor1, "BACK", "redis.call('HSET', KEYS[3], ARGV[2], 'N3:age' .. #n .. ':' .. n)", 1), args1},
		{"1 index: without @back", strings.Replace(strings.Replace(floor1, "BACK", "", 1), "local b = redis.call('HGET', KEYS[3], ARGV[2])\n", "", 1), args1},
		{"1 index: without @back, ZCARD", strings.Replace(strings.Replace(strings.Replace(floor1, "BACK", "", 1), "local b = redis.call('HGET', KEYS[3], ARGV[2])\n", "", 1), "redis.call('ZCARD', KEYS[4])\n", "", 1), args1},
		{"1 index: return 1", "return 1", args1},
	}
	t.Log(countScripts(t, ctx, cg, sides))
}

// floorScript is a script of a floor count: its name, its text, and the
// keys and arguments of its j-th call (q counts every call, for records).
type floorScript struct {
	name, script string
	args         func(j, q int) ([]string, []any)
}

// countScripts counts each script's server instructions per call (300
// calls after 50 of warm-up, over 50 models) and gives them as a table.
func countScripts(t *testing.T, ctx context.Context, cg ixCallgrind, sides []floorScript) string {
	var sb strings.Builder
	sb.WriteString("\n| script | instructions |\n|---|---:|\n")
	q := 0
	for _, s := range sides {
		sha, err := cg.rdb.ScriptLoad(ctx, s.script).Result()
		must(t, err)
		n := cg.count(t, 50, 300, func(j int) error {
			q++
			keys, a := s.args(j, q)
			cmd := append([]any{"evalsha", sha, len(keys)}, anys(keys)...)
			return cg.rdb.Do(ctx, append(cmd, a...)...).Err()
		})
		fmt.Fprintf(&sb, "| %s | %.0fk |\n", s.name, n/1000)
	}
	return sb.String()
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// floor0 and floor1 are the calls of the compiled saves of 0 and 1 index
// (ARGV as theirs: the fields' values; the record's ms, the id, then the
// values), with no checks; BACK is where @back is written.
const (
	floor0 = `local root = KEYS[1]
local v = redis.call('HGET', root, '__v')
local len = redis.call('HLEN', root)
redis.call('PTTL', root)
redis.call('SET', KEYS[2], '1', 'PX', '10000', 'NX')
redis.call('HSET', root, '__v', '5', 'name', ARGV[1], 'email', ARGV[2], 'city', ARGV[3], 'age', ARGV[4], 'score', ARGV[5], 'stock', ARGV[6], 'notes', ARGV[7], 'done', ARGV[8])
return 1`
	floor1 = `local root = KEYS[1]
local h = redis.call('HMGET', root, '__v', 'age')
local b = redis.call('HGET', KEYS[3], ARGV[2])
redis.call('ZCARD', KEYS[4])
local len = redis.call('HLEN', root)
redis.call('PTTL', root)
redis.call('SET', KEYS[6], '1', 'PX', ARGV[1], 'NX')
redis.call('HSET', root, '__v', '5', 'name', ARGV[3], 'email', ARGV[4], 'city', ARGV[5], 'age', ARGV[6], 'score', ARGV[7], 'stock', ARGV[8], 'notes', ARGV[9], 'done', ARGV[10])
local o = h[2] and ('\2' .. string.char(#h[2]) .. h[2])
local n = '\2' .. string.char(#ARGV[6]) .. ARGV[6]
if o then redis.call('ZREM', KEYS[5], o .. ARGV[2]) end
redis.call('ZADD', KEYS[5], 0, n .. ARGV[2])
BACK
return 1`
)

// TestIndexExecFloor is TestIndexSaveFloor for the Exec of
// TestIndexWriteInstructions that increments an indexed and an unindexed
// field (Incr Age, Incr Stock): scripts that make only its calls, sent
// as the compiled batches are (one EVALSHA, 50 models in 16 groups). The
// 0-index calls (GET of the record, HMGET, three HINCRBY, SET of the
// record); the 1-index ones (also HGET of @back, ZCARD of @exp, ZREM and
// ZADD of the entry, HSET of @back); then without what each layout change
// would take away: the ZCARD (session 8: a model without a TTL reads no
// deadline), the HSET of @back (@back kept only for models with a TTL:
// the HGET stays, it says whether the model has one), @back altogether,
// and the ZREM (an index scored by value, member the id: one ZADD moves
// an entry) (docs/performance.md, "Session 8: indexed writes"):
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestIndexExecFloor$' -v ./bench/
func TestIndexExecFloor(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	cg := startCallgrind(t)
	ctx := context.Background()
	args0 := func(j, q int) ([]string, []any) {
		return []string{fmt.Sprintf("e0:{id%d}", j%50), fmt.Sprintf("rec:%d", q)}, []any{"1", "1"}
	}
	args1 := func(j, q int) ([]string, []any) {
		g := fmt.Sprintf("e1:{g%d}", (j%50)%16)
		return []string{g + fmt.Sprintf(":{id%d}", j%50), g + ":@back", g + ":@exp", g + ":@i:age", fmt.Sprintf("rec:%d", q)}, []any{fmt.Sprintf("id%d", j%50), "1", "1"}
	}
	cut := func(s string, parts ...string) string {
		for _, p := range parts {
			s = strings.Replace(s, p, "", 1)
		}
		return s
	}
	const (
		hget  = "local b = redis.call('HGET', KEYS[2], ARGV[1])\n"
		zcard = "redis.call('ZCARD', KEYS[3])\n"
		hset  = "redis.call('HSET', KEYS[2], ARGV[1], 'N3:age' .. #n .. ':' .. n)\n"
		zrem  = "if o then redis.call('ZREM', KEYS[4], o .. ARGV[1]) end\n"
	)
	sides := []floorScript{
		{"0 indexes: the calls", execFloor0, args0},
		{"0 indexes: return 1", "return 1", args0},
		{"1 index: the calls", execFloor1, args1},
		{"1 index: without the ZCARD", cut(execFloor1, zcard), args1},
		{"1 index: without the ZCARD, the HSET of @back", cut(execFloor1, zcard, hset), args1},
		{"1 index: without the ZCARD, @back", cut(execFloor1, zcard, hset, hget), args1},
		{"1 index: without the ZCARD, @back, the ZREM (ZADD score a, member the id)", strings.Replace(cut(execFloor1, zcard, hset, hget, zrem), "0, n .. ARGV[1]", "a, ARGV[1]", 1), args1},
		{"1 index: return 1", "return 1", args1},
	}
	t.Log(countScripts(t, ctx, cg, sides))
}

// execFloor0 and execFloor1 are the calls of the compiled Exec of Incr
// Age and Incr Stock with 0 and 1 index, with no checks.
const (
	execFloor0 = `local root = KEYS[1]
redis.call('GET', KEYS[2])
local h = redis.call('HMGET', root, '__v', 'age', 'stock')
redis.call('HINCRBY', root, '__v', '1')
local a = redis.call('HINCRBY', root, 'age', ARGV[1])
local s = redis.call('HINCRBY', root, 'stock', ARGV[2])
redis.call('SET', KEYS[2], '[false,false,"' .. a .. '","' .. s .. '"]', 'PX', '10000')
return 1`
	execFloor1 = `local root = KEYS[1]
redis.call('GET', KEYS[5])
local h = redis.call('HMGET', root, '__v', 'age', 'stock')
local b = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZCARD', KEYS[3])
redis.call('HINCRBY', root, '__v', '1')
local a = redis.call('HINCRBY', root, 'age', ARGV[2])
local s = redis.call('HINCRBY', root, 'stock', ARGV[3])
local o = h[2] and ('\2' .. string.char(#h[2]) .. h[2])
local n = '\2' .. string.char(#tostring(a)) .. a
if o then redis.call('ZREM', KEYS[4], o .. ARGV[1]) end
redis.call('ZADD', KEYS[4], 0, n .. ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], 'N3:age' .. #n .. ':' .. n)
redis.call('SET', KEYS[5], '[false,false,"' .. a .. '","' .. s .. '"]', 'PX', '10000')
return 1`
)
