package bench_test

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// recordScenarios are row groups of TestPeerServer that the peer table
// does not show, run only when RAPYER_BENCH_SERVER_ONLY names them: what
// the Save's exactly-once record costs the server (docs/performance.md,
// "Session 18: the Save's server time").
var recordScenarios = []peerScenario{
	{"(not in the table) Save of an 8-field model, without a record", scenario{name: "Save8NoRecord", workers: 1, sides: []side{
		{"rapyer", saveItemRapyer}, {"rapyer, tx.NoRecord", saveItemNoRecord}, {"om Save twin", saveItemOm}}}},
	{"(not in the table) a record's SET alone, in a script", scenario{name: "RecordSet", workers: 1, sides: []side{
		{"SET NX PX of a new key", recordSetNew}, {"SET PX GET of one key", recordSetReused}, {"no SET", recordSetNone}}}},
}

func saveItemNoRecord(tb testing.TB, e *env) prepared {
	m := rapyer.MustNew[Item](e.rdb, rapyer.Options{Prefix: "item", Exec: tx.Options{Record: tx.NoRecord}})
	id := e.id("s8n")
	it := newItem()
	return prepared{op: func() error { return m.Save(e.ctx, id, it) }}
}

// recordScripts are the bare scripts of RecordSet: a record of a new key a
// call (as a Save's), one key written again and again, no record.
var recordScripts = map[string]*redis.Script{
	"new":   redis.NewScript("local r = redis.pcall('SET', KEYS[1], '1', 'PX', '10000', 'NX') if not r then return 0 end return 1"),
	"reuse": redis.NewScript("local r = redis.pcall('SET', KEYS[1], ARGV[1], 'PX', '10000', 'GET') if r == ARGV[1] then return 0 end return 1"),
	"none":  redis.NewScript("return 1"),
}

func recordSide(e *env, which string, fresh bool) prepared {
	base := e.id("rk")
	n := 0
	return prepared{op: func() error {
		n++
		k := "tx{" + base + "}:" + base
		if fresh {
			k = fmt.Sprintf("tx{%s}:%016d", base, n)
		}
		return recordScripts[which].Run(e.ctx, e.rdb, []string{k}, fmt.Sprint(n)).Err()
	}}
}

func recordSetNew(tb testing.TB, e *env) prepared    { return recordSide(e, "new", true) }
func recordSetReused(tb testing.TB, e *env) prepared { return recordSide(e, "reuse", false) }
func recordSetNone(tb testing.TB, e *env) prepared   { return recordSide(e, "none", false) }
