package bench_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// recordForms are the compiled Save's record, as session 17 wrote it (SET
// NX of a new key a call) and as session 18 writes it (SET ... GET of a
// key of the record pool, holding the batch id, the script's ARGV[10]
// here), and the ways of it TestSaveRecord compares: each replaces the
// record lines of saveParts.
var recordForms = []struct {
	name, text string
	reuse      bool // one record key for every call (the pool's)
}{
	{"NX, new key (s17)", "local r = pc('SET', k, '1', 'PX', ms, 'NX')\nif not r then return {'DUP'}\nelseif r.err then return {'AGAIN'} end\n", false},
	{"GET, new key", getRecord, false},
	{"GET, pooled key (s18)", getRecord, true},
	{"GET, pooled key, type()", strings.Replace(getRecord, "if r.err then", "if type(r) == 'table' then", 1), true},
	{"GET, pooled key, KEEPTTL", strings.Replace(getRecord, "'PX', ms, 'GET'", "'KEEPTTL', 'GET'", 1), true},
	{"KEEPTTL, refresh by #id", keepRecord, true},
	{"KEEPTTL, refresh by ARGV[11]", strings.Replace(keepRecord, "#id ~= 16", "AV[11] ~= ''", 1), true},
	{"SET, pooled key, KEEPTTL, no GET", "local id = AV[10]\nlocal r = pc('SET', k, id, 'KEEPTTL')\n", true},
	{"no record", "", true},
}

const getRecord = `local id = AV[10]
local r = pc('SET', k, id, 'PX', ms, 'GET')
if r then
  if r == id or r == '1' then return {'DUP'} end
  if r.err then return {'AGAIN'} end
end
`

const keepRecord = `local id = AV[10]
local r = pc('SET', k, id, 'KEEPTTL', 'GET')
if r then
  if r == id or r == '1' then return {'DUP'} end
  if r.err then return {'AGAIN'} end
  if #id ~= 16 then pc('PEXPIRE', k, ms) end
else pc('PEXPIRE', k, ms) end
`

// TestSaveRecord counts the server's instructions per EVALSHA of the
// compiled Save's text with each of recordForms, as TestSaveParts counts
// (docs/performance.md, "Session 18: the Save's server time"):
//
//	RAPYER_CALLGRIND=1 RAPYER_CALLGRIND_TOGGLE=evalShaCommand go test -count=1 -run '^TestSaveRecord$' -v ./bench/
func TestSaveRecord(t *testing.T) {
	if os.Getenv("RAPYER_CALLGRIND") == "" {
		t.Skip("RAPYER_CALLGRIND=1 to count")
	}
	cg := testenv.StartCallgrind(t, t.TempDir())
	ctx := context.Background()
	rdb := cg.Client
	old := "local r = pc('SET', k, '1', 'PX', ms, 'NX')\nif not r then return {'DUP'}\nelseif r.err then return {'AGAIN'} end\n"
	if !strings.Contains(saveParts, old) {
		t.Fatal("saveParts has no record lines")
	}
	vals := []any{"g", "Ada Lovelace", "ada@example.com", "London", "36", "97.5", "true", "1", "100"}
	seq := 0
	var sides []testenv.Side
	for i, f := range recordForms {
		sha, err := rdb.ScriptLoad(ctx, strings.Replace(saveParts, old, f.text, 1)).Result()
		must(t, err)
		sides = append(sides, testenv.Side{Name: f.name, Op: func() error {
			seq++
			k := fmt.Sprintf("tx{g}:pooled%d", i)
			if !f.reuse {
				k = fmt.Sprintf("tx{g}:%016d", seq)
			}
			return rdb.EvalSha(ctx, sha, []string{"item:{g}", k}, append(vals, fmt.Sprintf("b%015d", seq), "")...).Err()
		}})
	}
	best := cg.Best(3, 300, sides)
	for i, s := range sides {
		t.Logf("%-26s %8.0f instructions per call", s.Name, best[i])
	}
}
