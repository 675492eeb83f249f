package bench_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// saveParts is the compiled Save's text of the 8-field model as
// internal/shape wrote it in session 17 (compileSave), with the record's
// rare look-up branch (a resend) left out: TestSaveParts takes one part out
// at a time to count what each costs the server.
const saveParts = `local KS, AV, pc = KEYS, ARGV, redis.pcall
local root = KS[1]
local v = pc('HGET', root, '__v')
local nx
if v then
  local d = #v
  if d < 1 or d > 16 or (d == 16 and v >= '9007199254740992') or not (v == '0' or string.find(v, '^[1-9]%d*$')) then return {'AGAIN'} end
  local last = string.byte(v, -1)
  if last ~= 57 then nx = string.sub(v, 1, -2) .. string.char(last + 1) else
    while d > 0 and string.byte(v, d) == 57 do d = d - 1 end
    local zeros = string.rep('0', #v - d)
    if d == 0 then nx = '1' .. zeros else nx = string.sub(v, 1, d - 1) .. string.char(string.byte(v, d) + 1) .. zeros end
  end
else
  local t = pc('TIME')
  if t.err then return {'AGAIN'} end
  local c = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if (c < 2147483648 and c > -2147483648) or string.format('%d', 4294967296) == '4294967296' then nx = string.format('%d', c) else nx = string.format('%.0f', c) end
end
local len = pc('HLEN', root)
local anew = len ~= 10
if not anew and pc('PTTL', root) ~= -1 then anew = true end
local acl = redis.acl_check_cmd
if acl then
  if len ~= 0 and not acl(anew and 'HSET' or 'DEL', root) then return {'AGAIN'} end
end
local ms = '10000'
local k = KS[2]
local r = pc('SET', k, '1', 'PX', ms, 'NX')
if not r then return {'DUP'}
elseif r.err then return {'AGAIN'} end
local res = pc('HSET', root, '__v', nx, 'id', AV[1], 'name', AV[2], 'email', AV[3], 'city', AV[4], 'age', AV[5], 'score', AV[6], 'active', AV[7], 'visits', AV[8], 'balance', AV[9])
return 1
`

// TestSaveParts counts the server's instructions per EVALSHA of the
// compiled Save's text and of the same text with one part taken out (the
// record, PTTL, HLEN, the canonical-version check, the ACL's ask), as
// TestSaveInstructions counts (docs/performance.md, "Session 17: the
// server-time column"):
//
//	RAPYER_CALLGRIND=1 RAPYER_CALLGRIND_TOGGLE=evalShaCommand go test -count=1 -run '^TestSaveParts$' -v ./bench/
func TestSaveParts(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	cg := testenv.StartCallgrind(t, t.TempDir())
	ctx := context.Background()
	rdb := cg.Client
	vars := map[string]string{
		"full":     saveParts,
		"noPTTL":   strings.Replace(saveParts, "if not anew and pc('PTTL', root) ~= -1 then anew = true end\n", "", 1),
		"noACL":    strings.Replace(saveParts, "local acl = redis.acl_check_cmd", "local acl = nil", 1),
		"noHLEN":   strings.Replace(saveParts, "local len = pc('HLEN', root)", "local len = 10", 1),
		"noFind":   strings.Replace(saveParts, "or not (v == '0' or string.find(v, '^[1-9]%d*$'))", "", 1),
		"noRecord": strings.Replace(saveParts, "local r = pc('SET', k, '1', 'PX', ms, 'NX')", "local r = {ok='OK'}", 1),
	}
	names := []string{"full", "noPTTL", "noACL", "noHLEN", "noFind", "noRecord"}
	shas := map[string]string{}
	for _, n := range names {
		s, err := rdb.ScriptLoad(ctx, vars[n]).Result()
		must(t, err)
		shas[n] = s
	}
	vals := []any{"g", "Ada Lovelace", "ada@example.com", "London", "36", "97.5", "true", "1", "100"}
	seq := 0
	var sides []testenv.Side
	for _, n := range names {
		sides = append(sides, testenv.Side{Name: n, Op: func() error {
			seq++
			return rdb.EvalSha(ctx, shas[n], []string{"item:{g}", fmt.Sprintf("tx{g}:%d", seq)}, vals...).Err()
		}})
	}
	must(t, rdb.EvalSha(ctx, shas["full"], []string{"item:{g}", "tx{g}:0"}, vals...).Err())
	best := cg.Best(3, 300, sides)
	for i, s := range sides {
		t.Logf("%-10s %8.0f instructions per call", s.Name, best[i])
	}
}
