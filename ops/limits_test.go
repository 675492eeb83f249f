package ops_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Bounded work per request (promise 13): the ops whose server time grows
// with an argument are counted against the batch's budget before anything is
// written, and a batch over it fails with rapyer.ErrTooLarge, naming the op.

func budget(bytes, moves int64) rapyer.Option {
	return rapyer.WithBudget(tx.Budget{Bytes: bytes, Moves: moves})
}

// list returns n elements "e0" ... "e<n-1>".
func list(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("e%d", i)
	}
	return out
}

type limitCase struct {
	name  string
	start Acct
	batch tx.Batch
	opt   rapyer.Option // nil: the default budget
	text  []string      // what the error names
}

func limitCases() []limitCase {
	note := func(s string) Acct { return with(func(a *Acct) { a.Note = s }) }
	forty := with(hist(list(40)...))
	mib := strings.Repeat("m", 1<<20)
	return []limitCase{
		// The reproduction, at a size the test can afford: 4 MiB of
		// text, twice the default budget (the old check let anything up to
		// 512 MB through, 5 s of server time and 640 MB at that size).
		{name: "Repeat over the default byte budget", start: note("ab"), batch: tx.Of(ops.Incr(Balance, 1), ops.Repeat(Note, 2<<20)),
			text: []string{"Repeat(note, 2097152)", "costs 4194304 bytes", "budget of 2097152 bytes"}},
		{name: "Repeat over a budget set by the caller", start: note("abc"), batch: tx.Of(ops.Append(History, "x"), ops.Repeat(Note, 4)),
			opt: budget(11, 0), text: []string{"Repeat(note, 4)", "costs 12 bytes", "budget of 11 bytes"}},
		{name: "Repeat past 512 MB with no budget", start: note("ab"), batch: tx.Of(ops.Incr(Balance, 1), ops.Repeat(Note, math.MaxInt32)),
			opt: budget(tx.Unlimited, tx.Unlimited), text: []string{"Repeat(note", "512 MB"}},
		// #cur * count is past 2^63: the check must not overflow.
		{name: "Repeat MaxInt64 times", start: note("ab"), batch: tx.Of(ops.Incr(Balance, 1), ops.Repeat(Note, math.MaxInt64)),
			opt: budget(tx.Unlimited, tx.Unlimited), text: []string{"Repeat(note", "512 MB"}},
		{name: "Repeat of a text made by an AppendText of the batch", start: note(""), batch: tx.Of(ops.AppendText(Note, "xyz"), ops.Repeat(Note, 1<<30)),
			opt: budget(tx.Unlimited, tx.Unlimited), text: []string{"Repeat(note, 1073741824)", "512 MB"}},
		{name: "AppendText counts the text it makes, old and new", start: note(mib), batch: tx.Of(ops.Incr(Balance, 1), ops.AppendText(Note, mib[:1<<19])),
			opt: budget(3<<19-1, 0), text: []string{"AppendText(note", "costs 1572864 bytes", "budget of 1572863 bytes"}},
		{name: "text ops count together", start: note("abcd"), batch: tx.Of(ops.AppendText(Note, "ef"), ops.Repeat(Note, 2), ops.AppendText(Note, "x")),
			opt: budget(30, 0), text: []string{"AppendText(note, \"x\")", "costs 13 bytes (31 with the ops before it)", "budget of 30 bytes"}},

		// Lists: the elements an op moves are those on the shorter side of
		// its index.
		{name: "Insert in the middle", start: forty, batch: tx.Of(ops.Incr(Balance, 1), ops.InsertAt(History, 20, "x")),
			opt: budget(0, 19), text: []string{"InsertAt(history, 20, \"x\")", "costs 20 moves", "budget of 19 moves"}},
		{name: "Insert near the end, counted from it", start: forty, batch: tx.Of(ops.Incr(Balance, 1), ops.InsertAt(History, -12, "x")),
			opt: budget(0, 11), text: []string{"InsertAt(history, -12", "costs 12 moves"}},
		{name: "PopAt in the middle", start: forty, batch: tx.Of(ops.Incr(Balance, 1), ops.PopAt(History, 19)),
			opt: budget(0, 18), text: []string{"PopAt(history, 19)", "costs 19 moves"}},
		{name: "RemoveRange in the middle", start: forty, batch: tx.Of(ops.Incr(Balance, 1), ops.RemoveRange(History, 10, 25)),
			opt: budget(0, 9), text: []string{"RemoveRange(history, 10, 25)", "costs 10 moves"}},
		{name: "list ops count together", start: forty, batch: tx.Of(ops.InsertAt(History, 5, "x"), ops.PopAt(History, -6), ops.InsertAt(History, 3, "y")),
			opt: budget(0, 12), text: []string{"InsertAt(history, 3, \"y\")", "costs 3 moves (13 with the ops before it)"}},
		{name: "an Insert after the list grew in the batch", start: forty, batch: tx.Of(ops.Append(History, list(40)...), ops.InsertAt(History, 40, "x")),
			opt: budget(0, 39), text: []string{"InsertAt(history, 40", "costs 40 moves"}},
	}
}

// TestBatchesOverBudgetWriteNothing: a batch over a budget fails with
// rapyer.ErrTooLarge naming the op, its cost and the budget, and writes nothing.
func TestBatchesOverBudgetWriteNothing(t *testing.T) {
	eachCase(t, limitCases(), func(t *testing.T, b *testenv.Backend, i int, c limitCase) {
		ctx := context.Background()
		m := newModel(t, b, i)
		save(t, m, "x", c.start)
		before := snapshot(t, b, m, "x")
		var opts []rapyer.Option
		if c.opt != nil {
			opts = append(opts, c.opt)
		}
		res, err := m.Exec(ctx, "x", c.batch, opts...)
		if !errors.Is(err, rapyer.ErrTooLarge) {
			t.Fatalf("%s: skipped %v, %v; want ErrTooLarge", c.name, res != nil && res.Skipped, err)
		}
		for _, s := range c.text {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("the error does not say %q: %v", s, err)
			}
		}
		unchanged(t, b, m, before, "a batch over its budget changed the model")
	})
}

// TestWithinBudget: what the budgets allow runs, and costs nothing where the
// op is free: Repeat of an empty text or zero times (the old check let
// Repeat of "" MaxInt32 times run string.rep for 4.5 s), ops at either end of
// a list, Insert and PopAt close to an end of a long list.
func TestWithinBudget(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		tiny := budget(1, 2) // one byte, two moves
		run := func(start Acct, o ops.Op, opt rapyer.Option, want Acct) {
			t.Helper()
			save(t, m, "x", start)
			var opts []rapyer.Option
			if opt != nil {
				opts = append(opts, opt)
			}
			if _, err := m.Exec(ctx, "x", tx.Of(o), opts...); err != nil {
				t.Fatalf("%s: %v", o, err)
			}
			got, err := m.Get(ctx, "x")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, strict); diff != "" {
				t.Errorf("after %s (-want +got):\n%s", o, diff)
			}
		}
		empty := with(func(a *Acct) { a.Note = "" })
		run(empty, ops.Repeat(Note, math.MaxInt32), tiny, empty)
		run(empty, ops.Repeat(Note, math.MaxInt64), tiny, empty)
		run(base, ops.Repeat(Note, 0), tiny, empty)
		run(with(func(a *Acct) { a.Note = "a" }), ops.Repeat(Note, 1), tiny, with(func(a *Acct) { a.Note = "a" }))
		run(empty, ops.AppendText(Note, "z"), tiny, with(func(a *Acct) { a.Note = "z" }))
		// Repeat by doubling: every count up to 9 gives the right text.
		for n := range 10 {
			run(with(func(a *Acct) { a.Note = "ab" }), ops.Repeat(Note, n), nil, with(func(a *Acct) { a.Note = strings.Repeat("ab", n) }))
		}
		// 3 MiB: over the default budget, allowed by a raised one.
		big := with(func(a *Acct) { a.Note = strings.Repeat("ab", 3<<19) })
		run(with(func(a *Acct) { a.Note = "ab" }), ops.Repeat(Note, 3<<19), budget(3<<20, 0), big)
		run(with(func(a *Acct) { a.Note = "ab" }), ops.Repeat(Note, 3<<19), budget(tx.Unlimited, 0), big)

		long := list(100)
		edit := func(f func(l []string) []string) Acct {
			return with(hist(f(slices.Clone(long))...))
		}
		start := with(hist(long...))
		run(start, ops.InsertAt(History, 0, "x"), tiny, edit(func(l []string) []string { return slices.Insert(l, 0, "x") }))
		run(start, ops.InsertAt(History, 100, "x"), tiny, edit(func(l []string) []string { return append(l, "x") }))
		run(start, ops.InsertAt(History, 2, "x"), tiny, edit(func(l []string) []string { return slices.Insert(l, 2, "x") }))
		run(start, ops.InsertAt(History, 98, "x"), tiny, edit(func(l []string) []string { return slices.Insert(l, 98, "x") }))
		run(start, ops.InsertAt(History, -1, "x"), tiny, edit(func(l []string) []string { return slices.Insert(l, 99, "x") }))
		run(start, ops.PopAt(History, 0), tiny, edit(func(l []string) []string { return l[1:] }))
		run(start, ops.PopAt(History, -1), tiny, edit(func(l []string) []string { return l[:99] }))
		run(start, ops.PopAt(History, 2), tiny, edit(func(l []string) []string { return slices.Delete(l, 2, 3) }))
		run(start, ops.PopAt(History, 97), tiny, edit(func(l []string) []string { return slices.Delete(l, 97, 98) }))
		run(start, ops.RemoveRange(History, 0, 60), tiny, edit(func(l []string) []string { return l[60:] }))
		run(start, ops.RemoveRange(History, 40, ops.End), tiny, edit(func(l []string) []string { return l[:40] }))
		run(start, ops.RemoveRange(History, 2, 97), tiny, edit(func(l []string) []string { return slices.Delete(l, 2, 97) }))
		run(start, ops.RemoveRange(History, 3, 98), tiny, edit(func(l []string) []string { return slices.Delete(l, 3, 98) }))
		run(start, ops.Trim(History, 10, 90), tiny, edit(func(l []string) []string { return l[10:90] }))
		run(start, ops.SetAt(History, 50, "x"), tiny, edit(func(l []string) []string { l[50] = "x"; return l }))
	})
}

// TestListOpsAtEveryIndex checks Insert, PopAt and RemoveRange, which
// rewrite only the shorter side of a list, against Go's slices at every index
// of lists of 0 to 6 elements, indexes beyond either end included, with no
// budget and with one just large enough (cost min(i, n-i)).
func TestListOpsAtEveryIndex(t *testing.T) {
	pyIndex := func(i, n int) int {
		if i < 0 {
			i += n
		}
		return i
	}
	clamp := func(i, n int) int { return min(max(pyIndex(i, n), 0), n) }
	type step struct {
		start, want []string
		o           ops.Op
		cost        int
	}
	var steps []step
	for n := 0; n <= 6; n++ {
		l := list(n)
		for i := -n - 2; i <= n+2; i++ {
			c := clamp(i, n)
			steps = append(steps, step{l, slices.Insert(slices.Clone(l), c, "x"), ops.InsertAt(History, i, "x"), min(c, n-c)})
			if j := pyIndex(i, n); j >= 0 && j < n {
				steps = append(steps, step{l, slices.Delete(slices.Clone(l), j, j+1), ops.PopAt(History, i), min(j, n-1-j)})
			}
			for e := i; e <= n+2; e++ {
				s, x := c, max(c, clamp(e, n))
				cost := 0
				if x > s {
					cost = min(s, n-x)
				}
				steps = append(steps, step{l, slices.Delete(slices.Clone(l), s, x), ops.RemoveRange(History, i, e), cost})
			}
		}
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		key := colKey(t, m, "x", "history")
		for _, s := range steps {
			for _, opt := range []rapyer.Option{budget(0, tx.Unlimited), budget(0, int64(max(s.cost, 1)))} {
				save(t, m, "x", with(hist(s.start...)))
				if _, err := m.Exec(ctx, "x", tx.Of(s.o), opt); err != nil {
					t.Fatalf("%s on %q: %v", s.o, s.start, err)
				}
				got, err := b.Client.LRange(ctx, key, 0, -1).Result()
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, s.want) && (len(got) != 0 || len(s.want) != 0) {
					t.Fatalf("%s on %q gave %q, want %q", s.o, s.start, got, s.want)
				}
			}
			if s.cost > 1 { // a budget of 0 is the default one
				save(t, m, "x", with(hist(s.start...)))
				if _, err := m.Exec(ctx, "x", tx.Of(s.o), budget(0, int64(s.cost-1))); !errors.Is(err, rapyer.ErrTooLarge) {
					t.Fatalf("%s on %q with a budget of %d moves: %v; want ErrTooLarge", s.o, s.start, s.cost-1, err)
				}
			}
		}
	})
}

// TestDiffOfAListWritesOnlyWhatChanged: a lock save (ops.Diff) that changed
// a few elements of a long list sets them (LSET) rather than rewriting the
// list (a lock save that changed one element of a 2M-element list held the
// server 1.1-1.3 s), so an element another writer appended meanwhile
// stays; one that cut the list at its end trims it (LTRIM). When the list
// has become shorter than an index the save sets, the save fails with
// rapyer.ErrOutOfRange and writes nothing.
func TestDiffOfAListWritesOnlyWhatChanged(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		key := colKey(t, m, "x", "history")
		before := with(hist(list(1000)...))
		save(t, m, "x", before)
		if err := b.Client.RPush(ctx, key, "other").Err(); err != nil {
			t.Fatal(err)
		}
		after := edit(before, func(a *Acct) { a.History[500], a.History[999] = "x", "y"; a.Balance = 9 })
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Diff(before, after)), budget(0, 1)); err != nil {
			t.Fatal(err)
		}
		want := append(slices.Clone(after.History), "other")
		if got := b.Client.LRange(ctx, key, 0, -1).Val(); !slices.Equal(got, want) {
			t.Fatalf("after the diff the list has %d elements, [500] %q, last %q; want %d, \"x\", \"other\"", len(got), got[500], got[len(got)-1], len(want))
		}

		// cut at the end
		cut := edit(after, func(a *Acct) { a.History = a.History[:10] })
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Diff(after, cut))); err != nil {
			t.Fatal(err)
		}
		if got := b.Client.LRange(ctx, key, 0, -1).Val(); !slices.Equal(got, cut.History) {
			t.Fatalf("after a cut: %q; want %q", got, cut.History)
		}

		// the list is shorter than the save believes
		long := with(hist(list(1000)...))
		save(t, m, "x", long)
		if err := b.Client.LTrim(ctx, key, 0, 99).Err(); err != nil {
			t.Fatal(err)
		}
		snap := snapshot(t, b, m, "x")
		changed := edit(long, func(a *Acct) { a.History[900] = "x"; a.Balance = 1 })
		_, err := m.Exec(ctx, "x", tx.Of(ops.Diff(long, changed)))
		if !errors.Is(err, rapyer.ErrOutOfRange) {
			t.Fatalf("a diff setting index 900 of a list of 100: %v; want ErrOutOfRange", err)
		}
		if diff := cmp.Diff(snap, snapshot(t, b, m, "x")); diff != "" {
			t.Fatalf("the failed diff wrote (-before +after):\n%s", diff)
		}
	})
}
