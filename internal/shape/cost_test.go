package shape

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

func usec(t *testing.T, c *redis.Client, name string) float64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		n, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && n == "cmdstat_"+name {
			for _, f := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(f, "usec_per_call="); ok {
					x, _ := strconv.ParseFloat(v, 64)
					return x
				}
			}
		}
	}
	return 0
}

// TestShapeCostParts runs variants of the guarded 3-op shape's script
// (RAPYER_SHAPE_COST=1 go test -v -run TestShapeCostParts ./internal/shape)
// and logs the server time of each: where the time goes.
func TestShapeCostParts(t *testing.T) {
	if os.Getenv("RAPYER_SHAPE_COST") == "" {
		t.Skip("RAPYER_SHAPE_COST=1 to measure")
	}
	s := testenv.StartServer(t)
	c := s.Client(t)
	ctx := context.Background()
	p := guarded3(t)
	seedAccount(ctx, c)
	variants := costVariants(t, For(p).Text)
	shas := loadVariants(t, c, variants)
	best := make([]float64, len(variants))
	for i := range best {
		best[i] = 1e9
	}
	seq := 0
	for range 40 {
		for i, v := range variants {
			c.ConfigResetStat(ctx)
			for range 100 {
				seq++
				if err := c.Do(ctx, costCmd(p, v.name, shas[i], seq)...).Err(); err != nil {
					t.Fatal(err)
				}
			}
			best[i] = min(best[i], usec(t, c, "evalsha"))
		}
	}
	for i, v := range variants {
		t.Logf("%-28s %.2f µs", v.name, best[i])
	}
}

func seedAccount(ctx context.Context, c *redis.Client) {
	c.HSet(ctx, "acct:{a}", "__v", "1", "owner", "ada", "balance", "100")
	c.RPush(ctx, "acct:{a}:history", "x")
}

type costVariant struct{ name, text string }

// loadVariants loads the variants' scripts and returns their hashes.
func loadVariants(t *testing.T, c *redis.Client, variants []costVariant) []string {
	shas := make([]string, len(variants))
	for i, v := range variants {
		sha, err := c.ScriptLoad(context.Background(), v.text).Result()
		if err != nil {
			t.Fatal(err)
		}
		shas[i] = sha
	}
	return shas
}

// costVariants are the scripts the cost tests run: the compiled shape of
// guarded3, the hand-written twin, and the shape cut short or without a
// part, to see where the server's work goes.
func costVariants(t *testing.T, base string) []costVariant {
	cut := func(at string) string {
		i := strings.Index(base, at)
		if i < 0 {
			t.Fatalf("no %q in the script", at)
		}
		return base[:i] + "do return {'OK'} end\n" + base[i:]
	}
	return []costVariant{
		{"compiled", base},
		{"hand-written Lua", hand},
		{"empty script, same args", "return 1"},
		{"helpers only", base[:strings.Index(base, "local function body()")] + "return 1"},
		{"cut after the record's names", cut("  local root = KS[1]")},
		{"cut after HMGET", cut("  if not v then")},
		{"cut after the guard, incr", cut("  local x5 =")},
		{"cut after LLEN", cut("  local nx")},
		{"cut after the asks", cut("  local rs = ")},
		{"cut after the record SET", cut("  made = recms")},
		{"no asks", strings.Replace(base, "local acl = redis.acl_check_cmd", "local acl = nil", 1)},
		{"no pcall", strings.Replace(base, "local ok, res = pcall(body)", "local ok, res = true, body()", 1)},
		{"no ints closure", strings.Replace(base, "local function ints()", "local ints = nil\nlocal function ints_()", 1)},
		{"no record concat", strings.Replace(base, `rs = '[false,false,"' .. x4 .. '",false]'`, "rs = x4", 1)},
	}
}

// costCmd is the call of variant name (loaded as sha) for the seq-th
// batch: the shape's KEYS and ARGV with a record key of its own, or the
// twin's.
func costCmd(p *prog.Program, name, sha string, seq int) []any {
	rec := "tx{a}:" + strconv.Itoa(seq)
	if strings.HasPrefix(name, "hand") {
		return []any{"evalsha", sha, 3, "acct:{a}", "acct:{a}:history", rec, 0, 1, "deposit", 10000}
	}
	cmd := append([]any{"evalsha", sha}, For(p).Command(p)[2:]...)
	for i, a := range cmd {
		if a == "tx{a}:x" {
			cmd[i] = rec
		}
	}
	return cmd
}

// hand is bench/peers_test.go's guarded3Lua, as a script.
const hand = `local root, hist, rec = KEYS[1], KEYS[2], KEYS[3]
local prev = redis.call('GET', rec)
if prev then return prev end
if redis.call('HEXISTS', root, '__v') ~= 1 then return redis.error_reply('missing') end
local cur = redis.call('HGET', root, 'balance') or '0'
if not string.match(cur, '^%-?%d+$') then return redis.error_reply('corrupt') end
if tonumber(cur) < tonumber(ARGV[1]) then return redis.error_reply('precondition') end
local t = redis.call('TYPE', hist).ok
if t ~= 'none' and t ~= 'list' then return redis.error_reply('wrongtype') end
local nv = redis.call('HINCRBY', root, 'balance', ARGV[2])
redis.call('RPUSH', hist, ARGV[3])
redis.call('HINCRBY', root, '__v', 1)
redis.call('SET', rec, nv, 'PX', ARGV[4])
return nv`
