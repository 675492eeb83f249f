package lua

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// The query script on its own: a group of models and their indexes laid out
// by hand (the members as IX.enc makes them), asked through the query entry.

func encInt(n int) string {
	d := strconv.Itoa(n)
	if n >= 0 {
		return "\x02" + string([]byte{byte(len(d))}) + d
	}
	d = d[1:]
	c := []byte(d)
	for i := range c {
		c[i] = '9' - (c[i] - '0')
	}
	return "\x01" + string([]byte{byte(255 - len(d))}) + string(c)
}

func encStr(s string) string { return strings.ReplaceAll(s, "\x00", "\x00\xff") + "\x00\x01" }

const group = "p:{p#0}"

// qfill stores n models m00..: status a, b, c in turn, price i-15, name
// "n<i>" and a NUL-holding name for every fifth.
func qfill(t *testing.T, c *redis.Client, n int) {
	ctx := context.Background()
	for i := range n {
		id := fmt.Sprintf("m%02d", i)
		status := string(rune('a' + i%3))
		price := i - 15
		name := fmt.Sprintf("n%d", i)
		if i%5 == 0 {
			name = "z\x00" + name
		}
		root := group + ":{" + id + "}"
		c.HSet(ctx, root, "__v", "1", "status", status, "price", price, "name", name)
		c.ZAdd(ctx, group+":@ids", redis.Z{Member: id})
		c.ZAdd(ctx, group+":@i:status", redis.Z{Member: encStr(status) + id})
		c.ZAdd(ctx, group+":@i:price", redis.Z{Member: encInt(price) + id})
		c.ZAdd(ctx, group+":@i:name", redis.Z{Member: encStr(name) + id})
	}
}

// qargs lays out a call: what, plan, desc, limit, after, exact, order
// (name kind zero), ranges (index kind op arg ...), uses, predicate words.
type qcall struct {
	what, plan  string
	desc        bool
	limit       int
	after       string
	exact       bool
	order       []string
	ranges      [][4]string
	uses, words []string
}

func (q qcall) args() []any {
	a := []any{group, q.what, q.plan, map[bool]string{true: "1", false: "0"}[q.desc], q.limit, q.after,
		map[bool]string{true: "1", false: "0"}[q.exact], "0"}
	o := q.order
	if o == nil {
		o = []string{"", "", ""}
	}
	a = append(a, o[0], o[1], o[2], 0, len(q.ranges))
	for _, r := range q.ranges {
		a = append(a, r[0], r[1], r[2], r[3])
	}
	a = append(a, len(q.uses))
	for _, u := range q.uses {
		a = append(a, u)
	}
	a = append(a, len(q.words))
	for _, w := range q.words {
		a = append(a, w)
	}
	return a
}

func runq(t *testing.T, f *script.Func, c *redis.Client, q qcall) (ids []string, done bool, upto string, n int64) {
	t.Helper()
	r, err := f.Run(context.Background(), c, script.Command([]string{group + ":@ids"}, q.args()...)).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if r[0] != "OK" {
		t.Fatalf("%v", r)
	}
	if len(r) > 4 {
		res := unpackAll(t, r[4].(string))
		for i := 0; i+1 < len(res); i += 2 {
			ids = append(ids, res[i+1].(string))
		}
	}
	return ids, r[1] == "1", r[2].(string), r[3].(int64)
}

func want(t *testing.T, what string, got []string, ids ...string) {
	t.Helper()
	if !slices.Equal(got, ids) {
		t.Errorf("%s: %q, want %q", what, got, ids)
	}
}

func TestTheQueryScriptWalksRangesAndEvaluatesThePredicate(t *testing.T) {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer c.Close()
	f := queryFunc()
	qfill(t, c, 30)

	ids, done, _, _ := runq(t, f, c, qcall{what: "ids", plan: "walk", limit: 100, ranges: [][4]string{{"status", "s", "eq", "b"}}})
	want(t, "status b", ids, "m01", "m04", "m07", "m10", "m13", "m16", "m19", "m22", "m25", "m28")
	if !done {
		t.Error("not done")
	}
	and := []string{"1", "and", "2", "", "", "", "", "1", "cmp", "status", "string", "eq", "b", "", "1", "cmp", "price", "int", "ge", "0", "0"}
	ids, _, _, _ = runq(t, f, c, qcall{what: "ids", plan: "walk", limit: 100, ranges: [][4]string{{"status", "s", "eq", "b"}}, words: and})
	want(t, "status b, price >= 0", ids, "m16", "m19", "m22", "m25", "m28")

	// price < 0, descending, pages of 4
	var all []string
	after := ""
	for {
		ids, done, upto, _ := runq(t, f, c, qcall{what: "ids", plan: "walk", desc: true, limit: 4, after: after, ranges: [][4]string{{"price", "i", "lt", "0"}}})
		all = append(all, ids...)
		if done || len(ids) == 0 {
			break
		}
		after = upto
	}
	want(t, "price < 0 desc", all, "m14", "m13", "m12", "m11", "m10", "m09", "m08", "m07", "m06", "m05", "m04", "m03", "m02", "m01", "m00")

	ids, _, _, _ = runq(t, f, c, qcall{what: "ids", plan: "walk", limit: 100, ranges: [][4]string{{"price", "i", "ge", "-2"}, {"price", "i", "le", "-13"}, {"price", "i", "eq", "-1"}}})
	want(t, "In-like merged ranges", ids, "m00", "m01", "m02", "m13", "m14", "m15", "m16", "m17", "m18", "m19", "m20", "m21", "m22", "m23", "m24", "m25", "m26", "m27", "m28", "m29")

	ids, _, _, _ = runq(t, f, c, qcall{what: "ids", plan: "walk", limit: 100, ranges: [][4]string{{"name", "s", "pre", "z\x00n1"}}})
	want(t, "prefix with a NUL", ids, "m10", "m15")

	_, _, _, n := runq(t, f, c, qcall{what: "count", plan: "walk", exact: true, ranges: [][4]string{{"status", "s", "eq", "c"}}})
	if n != 10 {
		t.Errorf("count %d", n)
	}
	_, _, _, n = runq(t, f, c, qcall{what: "count", plan: "all", exact: true})
	if n != 30 {
		t.Errorf("count all %d", n)
	}
	// gather of two indexes, ordered by price descending
	ids, _, _, _ = runq(t, f, c, qcall{what: "ids", plan: "gather", desc: true, limit: 3, order: []string{"price", "i", "0"},
		ranges: [][4]string{{"status", "s", "eq", "a"}, {"price", "i", "le", "-14"}}})
	want(t, "gather by price desc", ids, "m27", "m24", "m21")
	statusA := []string{"1", "cmp", "status", "string", "eq", "a", ""}
	ids, _, _, _ = runq(t, f, c, qcall{what: "ids", plan: "auto", limit: 3, order: []string{"price", "i", "0"},
		ranges: [][4]string{{"status", "s", "eq", "a"}}, words: statusA})
	want(t, "auto by price (a walk)", ids, "m00", "m03", "m06")
	ids, _, _, _ = runq(t, f, c, qcall{what: "ids", plan: "auto", limit: 30, order: []string{"price", "i", "0"},
		ranges: [][4]string{{"status", "s", "eq", "a"}}, words: statusA})
	ids = ids[:3]
	want(t, "auto by price (a gather)", ids, "m00", "m03", "m06")
	// a model whose root is gone is skipped
	c.Del(context.Background(), group+":{m03}")
	ids, _, _, _ = runq(t, f, c, qcall{what: "ids", plan: "all", limit: 3})
	want(t, "all without m03", ids, "m00", "m01", "m02")
	ids, _, _, _ = runq(t, f, c, qcall{what: "ids", plan: "all", limit: 3, after: "m02"})
	want(t, "all after m02", ids, "m04", "m05", "m06")
	c.HSet(context.Background(), group+":@meta", "price", "building")
	r, _ := f.Run(context.Background(), c, script.Command([]string{group + ":@ids"}, qcall{what: "ids", plan: "walk", limit: 1, uses: []string{"price"}, ranges: [][4]string{{"price", "i", "lt", "0"}}}.args()...)).Slice()
	if fmt.Sprint(r) != "[ERR BUILDING 0 the index of price is being built]" {
		t.Errorf("building: %v", r)
	}
}

// unpackAll decodes the results of a reply (MsgNext): texts as strings,
// absent values as nil, arrays as []any.
func unpackAll(t *testing.T, blob string) []any {
	t.Helper()
	v, at := unpackOne(t, blob, 0)
	if at != len(blob) {
		t.Fatalf("%d bytes after the results", len(blob)-at)
	}
	a, ok := v.([]any)
	if !ok {
		t.Fatalf("results %v: not an array", v)
	}
	return a
}

func unpackOne(t *testing.T, s string, at int) (any, int) {
	kind, text, n, next, ok := MsgNext(s, at)
	if !ok {
		t.Fatalf("bad MessagePack at %d of %q", at, s)
	}
	switch kind {
	case MsgNone:
		return nil, next
	case MsgText:
		return text, next
	}
	a := make([]any, n)
	for i := range a {
		a[i], next = unpackOne(t, s, next)
	}
	return a, next
}

// TestTheResultsPackAsCmsgpackDoes: the Lua packer of the results
// (Q.mput, for servers without cmsgpack) writes what cmsgpack writes, at
// every length boundary of texts and arrays, and MsgNext reads it back.
func TestTheResultsPackAsCmsgpackDoes(t *testing.T) {
	src := BatchSource + `
local function rep(n) return string.rep('x', n) end
local function arr(n) local a = {} for i = 1, n do a[i] = 'a' end return a end
local t = {rep(0), rep(31), rep(32), rep(255), rep(256), rep(65535), rep(65536), false,
  {}, {rep(1)}, arr(15), arr(16), arr(65535), arr(65536), {false, {'z', {}}}, '\0\255'}
local ok, mp = pcall(function() return cmsgpack end)
if ok and type(mp) == 'table' then return {Q.lpack(t), mp.pack(t)} end
return {Q.lpack(t)}
`
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		// miniredis's Lua (gopher-lua, under -race) takes seconds
		c := b.NewClient(t, func(o *redis.UniversalOptions) { o.ReadTimeout = time.Minute })
		r, err := c.Eval(context.Background(), src, []string{"x"}).StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		if b.Kind != testenv.Mini && (len(r) != 2 || r[0] != r[1]) {
			t.Fatalf("the Lua packer wrote %d bytes, cmsgpack %d (or no cmsgpack: %d results)", len(r[0]), len(r[len(r)-1]), len(r))
		}
		got := unpackAll(t, r[0])
		lens := []int{0, 31, 32, 255, 256, 65535, 65536}
		if len(got) != 16 {
			t.Fatalf("%d values, want 16", len(got))
		}
		for i, n := range lens {
			if s, _ := got[i].(string); s != strings.Repeat("x", n) {
				t.Errorf("value %d: a text of %d bytes, want %d", i, len(s), n)
			}
		}
		if got[7] != nil {
			t.Errorf("false read as %v", got[7])
		}
		for i, n := range []int{0, 1, 15, 16, 65535, 65536} {
			if a, _ := got[8+i].([]any); len(a) != n {
				t.Errorf("array %d: %d elements, want %d", i, len(a), n)
			}
		}
		if fmt.Sprint(got[14]) != "[<nil> [z []]]" || got[15] != "\x00\xff" {
			t.Errorf("nested %v, binary %q", got[14], got[15])
		}
		for cut := range len(r[0]) {
			if cut%997 == 0 || cut < 64 {
				if _, ok := MsgSkip(r[0][:cut], 0); ok {
					t.Fatalf("a reply cut at %d read as whole", cut)
				}
			}
		}
	})
}
