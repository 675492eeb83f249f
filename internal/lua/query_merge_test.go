package lua

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// countedQuery is the query entry with every ZRANGEBYLEX and
// ZREVRANGEBYLEX of query.lua counted: the members each returns are added
// to the key <group>:read (in the group's slot).
func countedQuery(t *testing.T) *script.Func {
	t.Helper()
	q := querySource
	for _, c := range []string{"ZRANGEBYLEX", "ZREVRANGEBYLEX"} {
		q = strings.ReplaceAll(q, "redis.call('"+c+"'", "QREAD('"+c+"'")
	}
	if q == querySource {
		t.Fatal("query.lua reads no index with redis.call('ZRANGEBYLEX'")
	}
	count := `
local function QREAD(cmd, key, ...)
  local r = redis.call(cmd, key, ...)
  redis.call('INCRBY', string.match(key, '^(.*):@i') .. ':read', #r)
  return r
end
`
	src := batchSource + "\n" + indexSource + "\n" + count + q
	return script.NewParts("rapyerqcount", script.Part{Source: src, Entries: []string{"query"}}).Func("query")
}

// orCase is an Or of two conditions on two indexes, as the planner sends
// it: a gather.
type orCase struct {
	name   string
	ranges [][4]string
	words  []string
	holds  func(status string, price int) bool
	// most is how many index members a paging (pages of 10) may read
	most func(n, pages int) int
}

var orCases = []orCase{{
	name:   "status a or price 1",
	ranges: [][4]string{{"status", "s", "eq", "a"}, {"price", "i", "eq", "1"}},
	words: []string{"1", "or", "2", "", "", "", "", "1", "cmp", "status", "string", "eq", "a", "",
		"1", "cmp", "price", "int", "eq", "1", "0"},
	holds: func(s string, p int) bool { return s == "a" || p == 1 },
	// each range's members once, plus a chunk read ahead per range and page
	most: func(n, pages int) int { return n/3 + n/4 + pages*2*(10+1) },
}, {
	name:   "status a or price <= 1",
	ranges: [][4]string{{"status", "s", "eq", "a"}, {"price", "i", "le", "1"}},
	words: []string{"1", "or", "2", "", "", "", "", "1", "cmp", "status", "string", "eq", "a", "",
		"1", "cmp", "price", "int", "le", "1", "0"},
	holds: func(s string, p int) bool { return s == "a" || p <= 1 },
	// too many candidates to gather at each call: the ids once, plus
	// what a call reads ahead
	most: func(n, pages int) int { return n + pages*64 },
}}

// TestAnOrOfSeveralIndexesReadsAsFarAsItsPagesGo: paging through an Or on
// two indexes (a gather: no one index holds it) reads the group's indexes
// about once over the whole paging, not every candidate of every range
// again at every call. An Or of equalities merges its ranges, each in the
// order of the ids; one of wider ranges, with more candidates than a call
// should gather, walks the group's ids. Before, every call gathered every
// candidate of the group (and sorted them): a page of 20 of an Or matching
// 8k models of a group read 8k members, a paging of them all 8k * 400,
// and one call held the server for as long (docs/performance.md,
// "Session 19: index hunt").
func TestAnOrOfSeveralIndexesReadsAsFarAsItsPagesGo(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		f := countedQuery(t)
		g := b.Prefix + "p:{" + b.Prefix + "p#0}"
		const n = 300
		for i := range n {
			id := fmt.Sprintf("m%03d", i)
			status, price := string(rune('a'+i%3)), i%4
			b.Client.HSet(ctx, g+":{"+id+"}", "__v", "1", "status", status, "price", price)
			b.Client.ZAdd(ctx, g+":@ids", redis.Z{Member: id})
			b.Client.ZAdd(ctx, g+":@i:status", redis.Z{Member: encStr(status) + id})
			b.Client.ZAdd(ctx, g+":@i:price", redis.Z{Member: encInt(price) + id})
		}
		for _, c := range orCases {
			var want []string
			for i := range n {
				if c.holds(string(rune('a'+i%3)), i%4) {
					want = append(want, fmt.Sprintf("m%03d", i))
				}
			}
			for _, desc := range []bool{false, true} {
				b.Client.Del(ctx, g+":read")
				got, pages := pageOr(t, f, b.Client, g, c, desc)
				exp := slices.Clone(want)
				if desc {
					slices.Reverse(exp)
				}
				if !slices.Equal(got, exp) {
					t.Fatalf("%s, desc %v: %d ids %q, want %d", c.name, desc, len(got), got, len(exp))
				}
				read, _ := b.Client.Get(ctx, g+":read").Int()
				if most := c.most(n, pages); read > most {
					t.Errorf("%s, desc %v: %d pages read %d index members, want at most %d", c.name, desc, pages, read, most)
				}
			}
		}
	})
}

// pageOr pages, 10 a call, through the Or c in group g.
func pageOr(t *testing.T, f *script.Func, cl redis.UniversalClient, g string, c orCase, desc bool) (ids []string, pages int) {
	t.Helper()
	after := ""
	for pages = 1; pages < 100; pages++ {
		q := qcall{what: "ids", plan: "gather", desc: desc, limit: 10, after: after, words: c.words, ranges: c.ranges}
		a := q.args()
		a[0] = g
		r, err := f.Run(context.Background(), cl, script.Command([]string{g + ":@ids"}, a...)).Slice()
		if err != nil || r[0] != "OK" {
			t.Fatalf("%v %v", r, err)
		}
		res := unpackAll(t, r[4].(string))
		for i := 1; i < len(res); i += 2 {
			ids = append(ids, res[i].(string))
		}
		if r[1] == "1" {
			return ids, pages
		}
		after = r[2].(string)
	}
	t.Fatal("no end")
	return nil, 0
}
