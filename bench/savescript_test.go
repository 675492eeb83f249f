package bench_test

// Where the compiled Save's server work goes (issue #13, docs/performance.md
// "Session 7: Save"): the script of the 8-field model's Save, as the
// client sends it, and copies of it cut short one part at a time, counted
// under callgrind; and the client's CPU per Save.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// evalRecorder records the words of the EVAL of a compiled save a client
// sends (its first call, with the script's text).
type evalRecorder struct {
	mu   sync.Mutex
	args []any
}

func (r *evalRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *evalRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		a := cmd.Args()
		if len(a) > 1 && strings.EqualFold(fmt.Sprint(a[0]), "eval") && strings.Contains(fmt.Sprint(a[1]), "a compiled save") {
			r.mu.Lock()
			r.args = append([]any(nil), a...)
			r.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (r *evalRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// saveScriptCuts are the copies of the compiled save's script, each
// without one part: the lines of the part and what replaces them (a cut
// whose lines the script no longer holds fails the test).
var saveScriptCuts = []struct{ name, from, to string }{
	{"without the ACL ask", "local acl = redis.acl_check_cmd\nif acl then\n  if len ~= 0 and not acl(anew and 'HSET' or 'DEL', root) then return {'AGAIN'} end\nend\n", ""},
	{"without HLEN (len = 9)", "local len = pc('HLEN', root)", "local len = 9"},
	{"without PTTL", "if not anew and pc('PTTL', root) ~= -1 then anew = true end\n", ""},
	{"without the version's checks and count (nx = v)", "  local d = #v\n  if d < 1 or d > 16 or (d == 16 and v >= '9007199254740992') or not (v == '0' or string.find(v, '^[1-9]%d*$')) then return {'AGAIN'} end\n" +
		"  local last = string.byte(v, -1)\n  if last ~= 57 then nx = string.sub(v, 1, -2) .. string.char(last + 1) else\n" +
		"    while d > 0 and string.byte(v, d) == 57 do d = d - 1 end\n    local zeros = string.rep('0', #v - d)\n" +
		"    if d == 0 then nx = '1' .. zeros else nx = string.sub(v, 1, d - 1) .. string.char(string.byte(v, d) + 1) .. zeros end\n  end\n", "  nx = v\n"},
	{"without the record", "local r = pc('SET', k, '1', 'PX', ms, 'NX')", "local r = {}"},
}

// saveScriptFloor is the least a save of the model does: the HGET of the
// version and the HSET of the fields, with the compiled save's KEYS and
// ARGV.
const saveScriptFloor = `local root = KEYS[1]
local v = redis.call('HGET', root, '__v')
local AV = ARGV
redis.call('HSET', root, '__v', '5', 'name', AV[1], 'email', AV[2], 'city', AV[3], 'age', AV[4], 'score', AV[5], 'active', AV[6], 'visits', AV[7], 'balance', AV[8])
return 'OK'`

// TestSaveScriptParts counts the server's instructions per call of the
// compiled save of the 8-field model, of copies of its script each cut
// short by one part, of a floor (HGET and HSET only) and of the om twin,
// with redis-server run under callgrind: best of 3 interleaved rounds of
// 500 calls each.
//
//	RAPYER_CALLGRIND=1 go test -count=1 -run '^TestSaveScriptParts$' -v ./bench/
func TestSaveScriptParts(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	cg := testenv.StartCallgrind(t, t.TempDir())
	rdb := cg.Client
	ctx := context.Background()
	rec := &evalRecorder{}
	rdb.AddHook(rec)
	m := rapyer.MustNew[Item](rdb, rapyer.Options{Prefix: "item"})
	must(t, m.Save(ctx, "s", newItem()))
	rec.mu.Lock()
	words := rec.args
	rec.mu.Unlock()
	if len(words) != 3+2+8 {
		t.Fatalf("the compiled save's EVAL was not seen (words %v)", words)
	}
	text, values := words[1].(string), words[5:]
	scripts := []struct{ name, text string }{{"compiled save (as sent)", text}}
	for _, c := range saveScriptCuts {
		if !strings.Contains(text, c.from) {
			t.Fatalf("%s: the script holds no %q", c.name, c.from)
		}
		scripts = append(scripts, struct{ name, text string }{c.name, strings.Replace(text, c.from, c.to, 1)})
	}
	scripts = append(scripts, struct{ name, text string }{"floor: HGET + HSET", saveScriptFloor})
	var sides []testenv.Side
	seq := 0
	for i, s := range scripts {
		sha, err := rdb.ScriptLoad(ctx, s.text).Result()
		must(t, err)
		root := "item:cut" + strconv.Itoa(i)
		sides = append(sides, testenv.Side{Name: s.name, Op: func() error {
			seq++
			res, err := rdb.EvalSha(ctx, sha, []string{root, "item:rec:" + strconv.Itoa(seq)}, values...).Result()
			if err == nil && res != int64(1) && res != "OK" { // the compiled save's 1, the floor's 'OK'
				err = fmt.Errorf("answered %v", res)
			}
			return err
		}})
	}
	omVer, err := omSave(ctx, rdb, "om:cut", 0, itemFields("cut", newItem()))
	must(t, err)
	sides = append(sides, testenv.Side{Name: "om Save twin", Op: func() error {
		v, err := omSave(ctx, rdb, "om:cut", omVer, itemFields("cut", newItem()))
		omVer = v
		return err
	}})
	best := cg.Best(3, 500, sides)
	for i, s := range sides {
		t.Logf("%-50s %8.0f instructions per call (%+.0f)", s.Name, best[i], best[i]-best[0])
	}
}

// BenchmarkSaveClientCPU runs the Save row's sides in turn, three rounds,
// their order reversed every other round (it ran each side once, ours
// always first), with this process's CPU per op (user and system: the
// client's share, the server being another process) and allocations:
//
//	go test -run '^$' -bench BenchmarkSaveClientCPU -benchmem -count 5 ./bench/
func BenchmarkSaveClientCPU(b *testing.B) {
	e := newEnv(b)
	clientCPURounds(b, []namedSide{{"rapyer", saveItemRapyer(b, e)}, {"om_Save_twin", saveItemOm(b, e)}})
}
