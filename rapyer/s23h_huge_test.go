package rapyer_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/plan"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// s23hArgs is a go-redis hook that keeps the largest command it saw, in
// bytes of its arguments (a pipeline's commands each on their own), and
// the bytes of every command.
type s23hArgs struct{ max, total atomic.Int64 }

func (h *s23hArgs) DialHook(n redis.DialHook) redis.DialHook { return n }

func (h *s23hArgs) note(c redis.Cmder) {
	n := int64(0)
	for _, a := range c.Args() {
		switch a := a.(type) {
		case string:
			n += int64(len(a))
		default:
			n += int64(len(fmt.Sprint(a)))
		}
	}
	h.total.Add(n)
	for m := h.max.Load(); n > m && !h.max.CompareAndSwap(m, n); m = h.max.Load() {
	}
}

func (h *s23hArgs) ProcessHook(n redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, c redis.Cmder) error { h.note(c); return n(ctx, c) }
}

func (h *s23hArgs) ProcessPipelineHook(n redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cs []redis.Cmder) error {
		for _, c := range cs {
			h.note(c)
		}
		return n(ctx, cs)
	}
}

func (h *s23hArgs) reset() { h.max.Store(0); h.total.Store(0) }

// s23hCase is one query and what it must give: wantErr, or the ids a scan
// in Go of the stored models finds (want, nil when it is refused).
type s23hCase struct {
	name    string
	q       query.Query[QItem]
	p       *is.Pred[QItem] // the predicate the scan reads (nil: every model)
	wantErr error
}

// s23hMaxArg bounds one command of a query within the library's limits:
// the predicate's 1 MiB of words and what a call carries besides.
const s23hMaxArg = 1<<20 + 64<<10

// s23hWorld is the models of a tier and their values as saved, for the
// scan that checks the answers.
type s23hWorld struct {
	m     *rapyer.Model[QItem]
	u     *rapyer.Model[ixUser]
	items map[string]QItem
	rdb   redis.UniversalClient
	args  *s23hArgs
	pfx   string
}

func s23hSetup(t *testing.T, b *testenv.Backend) *s23hWorld {
	ctx := context.Background()
	w := &s23hWorld{args: &s23hArgs{}, items: map[string]QItem{}, pfx: b.Prefix + "s23h"}
	w.rdb = b.NewClient(t, nil)
	w.rdb.AddHook(w.args)
	w.m = rapyer.MustNew[QItem](w.rdb, rapyer.Options{Prefix: w.pfx + "i", Indexes: itemIndexes})
	w.u = rapyer.MustNew[ixUser](w.rdb, rapyer.Options{Prefix: w.pfx + "u",
		Indexes: []index.Spec{index.Unique(ixEmail), index.On(ixAge), index.Members(ixTags)}})
	for i := range 60 {
		v := QItem{Name: "n" + strconv.Itoa(i), Status: "s" + strconv.Itoa(i%7), Price: i * 3, Score: float64(i%11) + 0.5,
			Tags: map[string]struct{}{"t" + strconv.Itoa(i%5): {}}}
		id := "i" + strconv.Itoa(i)
		if err := w.m.Save(ctx, id, v); err != nil {
			t.Fatal(err)
		}
		w.items[id] = v
		if err := w.u.Save(ctx, "u"+strconv.Itoa(i), ixUser{Email: "e" + strconv.Itoa(i), Age: i}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// scan is the ids of the stored models p holds for, sorted.
func (w *s23hWorld) scan(p *is.Pred[QItem]) []string {
	var out []string
	for id, v := range w.items {
		if p == nil || p.Holds(v) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// s23hIn are n values of status (s0, s1, ...), of which s0..s6 are stored.
func s23hVals(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func s23hPred(p is.Pred[QItem]) *is.Pred[QItem] { return &p }

// s23hQueries are the predicates at and past the bounds of a query.
func s23hQueries() []s23hCase {
	ints := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	st := func(i int) string { return "s" + strconv.Itoa(i) }
	nm := func(i int) string { return "n" + strconv.Itoa(i*2) }
	tg := func(n int) []is.Pred[QItem] {
		out := make([]is.Pred[QItem], n)
		for i := range out {
			out[i] = is.Member(iTags, "t"+strconv.Itoa(i*2))
		}
		return out
	}
	mixed := func(n int) []is.Pred[QItem] {
		out := make([]is.Pred[QItem], n)
		for i := range out {
			if i%2 == 0 {
				out[i] = is.Equal(iPrice, i*3)
			} else {
				out[i] = is.AtLeast(iScore, float64(i)+9.25)
			}
		}
		return out
	}
	deep := func(n int) is.Pred[QItem] {
		p := is.Equal(iStatus, "s1")
		for i := range n {
			if i%2 == 0 {
				p = is.Not(p)
			} else {
				p = is.And(p, is.AtLeast(iPrice, 0))
			}
		}
		return p
	}
	ok := func(name string, p is.Pred[QItem], scan bool) s23hCase {
		q := query.Where(p)
		if scan {
			q = q.Scan()
		}
		return s23hCase{name: name, q: q, p: s23hPred(p)}
	}
	big := func(name string, p is.Pred[QItem]) s23hCase {
		return s23hCase{name: name, q: query.Where(p).Scan(), wantErr: rapyer.ErrTooLarge}
	}
	return []s23hCase{
		ok("In100/on", is.In(iStatus, s23hVals(100, st)...), false),
		ok("In40/prefix", is.In(iName, s23hVals(40, nm)...), false),
		ok("In40/range", is.In(iPrice, ints(40)...), false),
		ok("Or40/members", is.Or(tg(40)...), false),
		ok("Or40/mixed", is.Or(mixed(40)...), false),
		ok("depth64", deep(63), true),
		{name: "In40/ordered", q: query.Where(is.In(iStatus, s23hVals(40, st)...)).OrderBy(iPrice).Desc(),
			p: s23hPred(is.In(iStatus, s23hVals(40, st)...))},
		{name: "Or40/auto", q: query.Where(is.And(is.Or(mixed(40)...), is.AtLeast(iPrice, 0))).OrderBy(iScore),
			p: s23hPred(is.And(is.Or(mixed(40)...), is.AtLeast(iPrice, 0)))},
		big("In100k/on", is.In(iStatus, s23hVals(100_000, st)...)),
		big("In100k/prefix", is.In(iName, s23hVals(100_000, nm)...)),
		big("In100k/range", is.In(iPrice, ints(100_000)...)),
		big("In256/on", is.In(iStatus, s23hVals(256, st)...)),
		big("Or100k/members", is.Or(tg(100_000)...)),
		big("Or2000", is.Or(mixed(2000)...)),
		big("Or256", is.Or(mixed(256)...)),
		big("depth10k", deep(10_000)),
		big("depth65", deep(65)),
		big("Equal2MiB", is.Equal(iStatus, strings.Repeat("s", 2<<20))),
		big("In2x600KiB", is.In(iStatus, strings.Repeat("a", 600<<10), strings.Repeat("b", 600<<10))),
	}
}

// TestS23hHugeQueryInputs: predicates, limits and cursors at and past the
// bounds of a query. Within them, Count, FindIDs and a paging (Page of 20
// through every cursor) agree with a scan in Go of the stored models, and
// no command is larger than the predicate's bound allows; past them every
// call (DeleteWhere too) fails with ErrTooLarge, ErrInvalid or
// ErrBadCursor, sends nothing and writes nothing. Before: an In of 100k
// values was sent (4 MB a call) and held the server (BUSY on redis, 40 s
// on miniredis); a forged 10 MB cursor was sent with every call.
func TestS23hHugeQueryInputs(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		w := s23hSetup(t, b)
		for _, c := range s23hQueries() {
			t.Run(c.name, func(t *testing.T) { w.check(t, c) })
		}
		t.Run("unique", func(t *testing.T) { w.unique(t) })
		t.Run("limits", func(t *testing.T) { w.limits(t) })
		t.Run("cursors", func(t *testing.T) { w.cursors(t) })
	})
}

// check runs one case with every call that reads a query.
func (w *s23hWorld) check(t *testing.T, c s23hCase) {
	ctx := context.Background()
	if c.wantErr != nil {
		w.refused(t, c.q, c.wantErr)
		return
	}
	want := w.scan(c.p)
	w.args.reset()
	n, err := w.m.Count(ctx, c.q)
	if err != nil || n != len(want) {
		t.Errorf("Count: %d, %.200v; want %d", n, err, len(want))
	}
	got := findIDs(t, w.m, c.q)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("FindIDs: %v; want %v", got, want)
	}
	if got := w.pages(t, c.q.Limit(20)); !slices.Equal(got, want) {
		t.Errorf("pages: %v; want %v", got, want)
	}
	if m := w.args.max.Load(); m > s23hMaxArg {
		t.Errorf("a command of %d bytes; want at most %d", m, s23hMaxArg)
	}
	t.Logf("%d matches; largest command %d bytes, %d bytes in all", len(want), w.args.max.Load(), w.args.total.Load())
}

// pages is every id of a paging of q from the first page on, sorted; a
// repeated id fails t.
func (w *s23hWorld) pages(t *testing.T, q query.Query[QItem]) []string {
	var out []string
	cur := ""
	for range 100 {
		p, err := w.m.Page(context.Background(), q, cur)
		if err != nil {
			t.Fatalf("Page: %.300v", err)
		}
		for _, e := range p.Items {
			out = append(out, e.ID)
		}
		if cur = p.Next; cur == "" {
			break
		}
	}
	slices.Sort(out)
	if len(slices.Compact(slices.Clone(out))) != len(out) {
		t.Errorf("a paging gave a model twice: %v", out)
	}
	return out
}

// refused checks that every call of q fails with want, before anything
// is sent, and that DeleteWhere deletes nothing.
func (w *s23hWorld) refused(t *testing.T, q query.Query[QItem], want error) {
	ctx := context.Background()
	before := s22Dump(ctx, t, w.rdb, w.pfx+"i")
	w.args.reset()
	_, err1 := w.m.Count(ctx, q)
	_, err2 := w.m.Page(ctx, q, "")
	var err3 error
	for _, err := range w.m.FindIDs(ctx, q) {
		err3 = err
	}
	var err4 error
	for _, err := range w.m.Find(ctx, q) {
		err4 = err
	}
	n, err5 := w.m.DeleteWhere(ctx, q)
	for i, err := range []error{err1, err2, err3, err4, err5} {
		if !errors.Is(err, want) {
			t.Errorf("call %d: %.300v; want %v", i, err, want)
		}
	}
	if n != 0 {
		t.Errorf("DeleteWhere deleted %d", n)
	}
	if sent := w.args.total.Load(); sent != 0 {
		t.Errorf("%d bytes sent (largest command %d); want none", sent, w.args.max.Load())
	}
	if after := s22Dump(ctx, t, w.rdb, w.pfx+"i"); after != before {
		t.Errorf("the keys changed:\n%s\nwant\n%s", after, before)
	}
}

// unique: an In on a Unique index (one group) within the bound finds what
// a scan finds; past it every call is refused, nothing sent.
func (w *s23hWorld) unique(t *testing.T) {
	ctx := context.Background()
	em := func(i int) string { return "e" + strconv.Itoa(i*2) }
	w.args.reset()
	q := query.Where(is.In(ixEmail, s23hVals(255, em)...))
	n, err := w.u.Count(ctx, q)
	if err != nil || n != 30 {
		t.Errorf("Count(In255/unique): %d, %.200v; want 30", n, err)
	}
	if got := findIDs(t, w.u, q); len(got) != 30 {
		t.Errorf("FindIDs(In255/unique): %d ids; want 30", len(got))
	}
	if m := w.args.max.Load(); m > s23hMaxArg {
		t.Errorf("a command of %d bytes", m)
	}
	w.args.reset()
	q = query.Where(is.In(ixEmail, s23hVals(100_000, em)...))
	_, err1 := w.u.Count(ctx, q)
	_, err2 := w.u.Page(ctx, q, "")
	k, err3 := w.u.DeleteWhere(ctx, q)
	for i, err := range []error{err1, err2, err3} {
		if !errors.Is(err, rapyer.ErrTooLarge) {
			t.Errorf("In100k/unique call %d: %.200v; want ErrTooLarge", i, err)
		}
	}
	if sent := w.args.total.Load(); sent != 0 || k != 0 {
		t.Errorf("In100k/unique: %d bytes sent, %d deleted; want none", sent, k)
	}
	if n, _ := w.u.Count(ctx, query.All[ixUser]()); n != 60 {
		t.Errorf("%d users left; want 60", n)
	}
}

// limits: a Limit (a page size) of 0 or below is refused; one of 1<<40
// holds every model on one page.
func (w *s23hWorld) limits(t *testing.T) {
	for _, n := range []int{0, -1, -1 << 40} {
		w.refused(t, query.Where(is.AtLeast(iPrice, 0)).Limit(n), rapyer.ErrInvalid)
	}
	want := w.scan(nil)
	for _, q := range []query.Query[QItem]{
		query.All[QItem]().Limit(1 << 40),
		query.Where(is.AtLeast(iPrice, 0)).OrderBy(iPrice).Desc().Limit(1 << 40),
	} {
		p, err := w.m.Page(context.Background(), q, "")
		var got []string
		for _, e := range p.Items {
			got = append(got, e.ID)
		}
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) || p.Next != "" {
			t.Errorf("Page(%s): %v, next %q, %v; want %v and no next", q, got, p.Next, err, want)
		}
		if got := findIDs(t, w.m, q); len(got) != len(want) {
			t.Errorf("FindIDs(%s): %d ids; want %d", q, len(got), len(want))
		}
	}
}

// cursors: a cursor of another query or model type, one with any one of
// its characters changed, cut short, of 10 MB (garbage, or forged with a
// valid checksum), or not base64, fails with ErrBadCursor and sends
// nothing; "" is the first page, and the real cursor the next one.
func (w *s23hWorld) cursors(t *testing.T) {
	ctx := context.Background()
	q := query.Where(is.AtLeast(iPrice, 0)).OrderBy(iPrice).Limit(5)
	first, err := w.m.Page(ctx, q, "")
	if err != nil || len(first.Items) != 5 || first.Next == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	c := first.Next
	other, _ := w.m.Page(ctx, query.Where(is.AtLeast(iPrice, 1)).OrderBy(iPrice).Limit(5), "")
	users, _ := w.u.Page(ctx, query.Where(is.AtLeast(ixAge, 0)).OrderBy(ixAge).Limit(5), "")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatal(err)
	}
	var fp [8]byte
	copy(fp[:], raw[1:9])
	bad := map[string]string{
		"another query": other.Next, "another model type": users.Next,
		"10 MB":        strings.Repeat("A", 10<<20),
		"10 MB forged": plan.EncodeCursor(fp, "\x02\x02"+strings.Repeat("9", 10<<20)),
		"garbage":      "!!!!", "padded": c + "==", "nul": "\x00\xff\x00",
		"random base64": base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("\x01\x02\x03", 20))),
	}
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range c {
		r := alphabet[(strings.IndexByte(alphabet, c[i])+1+i%63)%64]
		bad["flip "+strconv.Itoa(i)] = c[:i] + string(r) + c[i+1:]
		bad["cut "+strconv.Itoa(i)] = c[:i]
	}
	delete(bad, "cut 0") // "" is the first page
	for name, cur := range bad {
		w.args.reset()
		p, err := w.m.Page(ctx, q, cur)
		if !errors.Is(err, rapyer.ErrBadCursor) || len(p.Items) != 0 {
			t.Errorf("%s: %d items, %.200v; want ErrBadCursor", name, len(p.Items), err)
		}
		if sent := w.args.total.Load(); sent != 0 {
			t.Errorf("%s: %d bytes sent (largest command %d); want none", name, sent, w.args.max.Load())
		}
	}
	again, err := w.m.Page(ctx, q, "")
	if err != nil || fmt.Sprint(again.Items) != fmt.Sprint(first.Items) {
		t.Errorf("Page from \"\": %v, %v; want the first page %v", again.Items, err, first.Items)
	}
	next, err := w.m.Page(ctx, q, c)
	var got []int
	for _, e := range next.Items {
		got = append(got, e.Value.Price)
	}
	if err != nil || !slices.Equal(got, []int{15, 18, 21, 24, 27}) {
		t.Errorf("the second page: prices %v, %v; want 15..27", got, err)
	}
}
