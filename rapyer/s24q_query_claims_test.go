package rapyer_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s24qInUse is how many connections of the backend's pool are checked out.
func s24qInUse(b *testenv.Backend) int {
	s := b.Client.PoolStats()
	return int(s.TotalConns) - int(s.IdleConns)
}

// s24qSettle waits, with a generous deadline, until no connection of the
// pool is in use and the goroutines are back to at most base.
func s24qSettle(t *testing.T, b *testenv.Backend, base int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s24qInUse(b) > 0 || runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d connections in use, %d goroutines (were %d)", what, s24qInUse(b), runtime.NumGoroutine(), base)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// s24qFirst ranges over seq and breaks after k results; it fails on an error.
func s24qFirst[V any](t *testing.T, seq iter.Seq2[V, error], k int) []V {
	t.Helper()
	var got []V
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		if got = append(got, v); len(got) == k {
			break
		}
	}
	return got
}

// TestS24qBreakingOutOfAStreamLeavesNothingBehind: a Find, FindIDs or IDs
// left with break after 1, 7 or 29 of 30 results (several rounds of 3
// per group, four groups) holds no connection and no goroutine afterwards;
// what it gave is the start of the full answer, and the next query answers
// whole.
func TestS24qBreakingOutOfAStreamLeavesNothingBehind(t *testing.T) {
	defer rapyer.SetStreamPage(3)()
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "brk", rapyer.Options{Groups: 4})
		saveItems(t, m, 30, func(i int) QItem { return QItem{Status: "new", Price: i % 5, Name: "ap"} })
		qs := []query.Query[QItem]{
			query.Where(is.Equal(iStatus, "new")),
			query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Desc(),
			query.Where(is.Or(is.HasPrefix(iName, "a"), is.AtLeast(iPrice, 0))),
			query.All[QItem](),
			query.Where(is.Equal(iHidden, false)).Scan(),
		}
		for _, q := range qs {
			whole := s24qAll(t, m.FindIDs(ctx, q))
			if len(whole) != 30 {
				t.Fatalf("%s: %d ids, want 30", q, len(whole))
			}
			base := runtime.NumGoroutine()
			for _, k := range []int{1, 7, 29} {
				ids := s24qFirst(t, m.FindIDs(ctx, q), k)
				vs := s24qFirst(t, m.Find(ctx, q), k)
				if !slices.Equal(ids, whole[:k]) || len(vs) != k {
					t.Fatalf("%s: break after %d gave %v (%d models), want %v", q, k, ids, len(vs), whole[:k])
				}
				s24qSettle(t, b, base, fmt.Sprintf("%s, break after %d", q, k))
			}
		}
		base := runtime.NumGoroutine()
		if got := s24qFirst(t, m.IDs(ctx), 2); len(got) != 2 {
			t.Fatalf("IDs gave %v", got)
		}
		s24qSettle(t, b, base, "IDs, break after 2")
		if n, err := m.Count(ctx, query.All[QItem]()); err != nil || n != 30 {
			t.Fatalf("Count after the breaks: %d, %v", n, err)
		}
	})
}

// s24qTieItem is a value of the few that the quiet and the churning models
// share: prices 0..2, scores -0, +0 and 1 (-0 and 0 are one value).
func s24qTieItem(r *rand.Rand) QItem {
	scores := []float64{math.Copysign(0, -1), 0, 1}
	return QItem{Status: pick(r, []string{"new", "sold"}), Price: r.IntN(3), Score: scores[r.IntN(3)], Name: "ap"}
}

// s24qOrdered pages q (pages of 1 to 3) and streams it (rounds of 2 per
// group): each must give every quiet model that matches exactly once, in
// the order of key then id, reversed by desc.
func s24qOrdered(t *testing.T, m *rapyer.Model[QItem], r *rand.Rand, q query.Query[QItem], p is.Pred[QItem],
	key func(a, b QItem) int, desc bool, quiet map[string]QItem) {
	t.Helper()
	var paged []string
	for cur, n := "", 0; ; n++ {
		pg, err := m.Page(context.Background(), q.Limit(1+r.IntN(3)), cur)
		if err != nil || n > 1000 {
			t.Fatalf("%s: %v (page %d)", q, err, n)
		}
		for _, e := range pg.Items {
			if !p.Holds(e.Value) {
				t.Fatalf("%s: page %d gave %s as %+v, which does not match", q, n, e.ID, e.Value)
			}
			paged = append(paged, e.ID)
		}
		if cur = pg.Next; cur == "" {
			break
		}
	}
	streamed := s24qAll(t, m.FindIDs(context.Background(), q))
	for v, err := range m.Find(context.Background(), q) {
		if err != nil || !p.Holds(v) {
			t.Fatalf("%s: Find gave %+v, %v, which does not match", q, v, err)
		}
	}
	var want []string
	for id, v := range quiet {
		if p.Holds(v) {
			want = append(want, id)
		}
	}
	slices.SortFunc(want, func(a, b string) int {
		c := cmp.Or(key(quiet[a], quiet[b]), cmp.Compare(a, b))
		if desc {
			return -c
		}
		return c
	})
	for how, got := range map[string][]string{"paged": paged, "streamed": streamed} {
		mine := slices.DeleteFunc(slices.Clone(got), func(id string) bool { _, ok := quiet[id]; return !ok })
		if !slices.Equal(mine, want) {
			t.Fatalf("%s %s: the quiet models came as\n%v\nwant\n%v", q, how, mine, want)
		}
	}
}

// TestS24qTiesComeInTheirIdOrderOnEveryPageBothWays: while two goroutines
// save, change and delete other models holding the same few values, a
// caller pages and streams ordered queries whose keys tie a lot (-0 and +0
// among them, one value), ascending and descending: every quiet model that
// matches comes exactly once, ties by id, reversed by Desc.
func TestS24qTiesComeInTheirIdOrderOnEveryPageBothWays(t *testing.T) {
	defer rapyer.SetStreamPage(2)()
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		seed := testenv.Seed(t)
		r := rand.New(rand.NewPCG(uint64(seed), 24))
		m := newItems(t, b, "ties", rapyer.Options{Groups: 4})
		quiet := map[string]QItem{}
		for i := range 40 {
			id, v := fmt.Sprintf("q%02d", i), s24qTieItem(r)
			if err := m.Save(context.Background(), id, v); err != nil {
				t.Fatal(err)
			}
			quiet[id] = v
		}
		stop := writeUntilStopped(t, 2, seed, 240, func(ctx context.Context, r *rand.Rand) error {
			id := fmt.Sprintf("w%02d", r.IntN(30))
			switch r.IntN(3) {
			case 0:
				return m.Save(ctx, id, s24qTieItem(r))
			case 1:
				v := s24qTieItem(r)
				_, err := m.Exec(ctx, id, tx.Of(ops.Set(iPrice, v.Price), ops.Set(iScore, v.Score)), rapyer.SkipIfMissing())
				return err
			default:
				_, err := m.Delete(ctx, id)
				return err
			}
		})
		defer stop()
		price := func(a, b QItem) int { return cmp.Compare(a.Price, b.Price) }
		score := func(a, b QItem) int { return cmp.Compare(a.Score, b.Score) }
		byID := func(a, b QItem) int { return 0 }
		news := is.Equal(iStatus, "new")
		all := is.Or(news, is.Not(news))
		for _, desc := range []bool{false, true} {
			for _, x := range []struct {
				q   query.Query[QItem]
				p   is.Pred[QItem]
				key func(a, b QItem) int
			}{
				{query.Where(news).OrderBy(iPrice), news, price},
				{query.All[QItem]().OrderBy(iScore), all, score},
				{query.Where(is.AtLeast(iScore, 0)).OrderBy(iScore), is.AtLeast(iScore, 0.0), score},
				{query.Where(is.Equal(iScore, 0)), is.Equal(iScore, 0.0), byID},
				{query.Where(is.AtMost(iPrice, 1)), is.AtMost(iPrice, 1), price},
				{query.Where(is.In(iPrice, 0, 2)).OrderBy(iPrice), is.In(iPrice, 0, 2), price},
				{query.Where(is.Or(is.Equal(iPrice, 1), is.Equal(iScore, 1))), is.Or(is.Equal(iPrice, 1), is.Equal(iScore, 1.0)), byID},
				{query.Where(is.Or(is.AtLeast(iPrice, 2), is.Below(iScore, 1))), is.Or(is.AtLeast(iPrice, 2), is.Below(iScore, 1.0)), byID},
				{query.Where(is.And(news, is.AtMost(iScore, 0))).OrderBy(iScore), is.And(news, is.AtMost(iScore, 0.0)), score},
			} {
				q := x.q
				if desc {
					q = q.Desc()
				}
				s24qOrdered(t, m, r, q, x.p, x.key, desc, quiet)
			}
		}
	})
}

// TestS24qAUniqueValueHasOneHolderUnderConcurrentChanges: three goroutines
// move four values among eight models by Save, Exec, Update, Lock, Create
// and Delete; every call either succeeds or fails with a typed refusal
// (ErrDuplicate, ErrExists, ErrNotFound, ErrConflict), and at the end no
// two models hold one value, each value's query finds its holder only,
// and the index keys agree with the stored models.
func TestS24qAUniqueValueHasOneHolderUnderConcurrentChanges(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		seed := testenv.Seed(t)
		m, o := ixMembers(t, b, rapyer.Options{})
		emails := []string{"a@x", "b@x", "c@x", "d@x"}
		stop := writeUntilStopped(t, 3, seed, 77, func(ctx context.Context, r *rand.Rand) error {
			err := s24qUniqueWrite(ctx, m, r, fmt.Sprintf("u%d", r.IntN(8)), pick(r, emails))
			switch {
			case err == nil, errors.Is(err, rapyer.ErrDuplicate), errors.Is(err, rapyer.ErrExists),
				errors.Is(err, rapyer.ErrNotFound), errors.Is(err, rapyer.ErrConflict):
				return nil
			}
			return err
		})
		for range 40 {
			n, err := m.Count(ctx, query.Where(is.In(mbEmail, emails...)))
			if err != nil || n > len(emails) {
				stop()
				t.Fatalf("Count of the values while they move: %d, %v", n, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		holder := map[string]string{}
		for id, err := range m.IDs(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			v, err := m.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if prev, ok := holder[v.Email]; ok {
				t.Fatalf("%s and %s both hold %q", prev, id, v.Email)
			}
			holder[v.Email] = id
		}
		for _, e := range emails {
			got := s24qAll(t, m.FindIDs(ctx, query.Where(is.Equal(mbEmail, e))))
			if want := holder[e]; (want == "" && len(got) != 0) || (want != "" && !slices.Equal(got, []string{want})) {
				t.Fatalf("%q: query found %v, holder %q", e, got, want)
			}
		}
		o.Check(t, "after the moves")
	})
}

// s24qUniqueWrite gives id the value e by one of the write paths.
func s24qUniqueWrite(ctx context.Context, m *rapyer.Model[ixMember], r *rand.Rand, id, e string) error {
	switch r.IntN(6) {
	case 0:
		return m.Save(ctx, id, ixMember{Email: e})
	case 1:
		_, err := m.Exec(ctx, id, tx.Of(ops.Set(mbEmail, e)), rapyer.SkipIfMissing())
		return err
	case 2:
		_, err := m.Update(ctx, id, func(v ixMember) (tx.Batch, error) { return tx.Of(ops.Set(mbEmail, e)), nil })
		return err
	case 3:
		_, err := m.Lock(ctx, id, "mv", func(_ context.Context, v *ixMember) error { v.Email = e; return nil })
		return err
	case 4:
		return m.Create(ctx, id, ixMember{Email: e})
	default:
		_, err := m.Delete(ctx, id)
		return err
	}
}

// s24qAll ranges over seq to its end; it fails on an error.
func s24qAll[V any](t *testing.T, seq iter.Seq2[V, error]) []V {
	t.Helper()
	return s24qFirst(t, seq, -1)
}

// TestS24qLimitBoundsDeleteWhereAndNotCount: DeleteWhere of a query with
// Limit(n) deletes at most n models, the first n of the query's order
// (here its OrderBy, descending), and leaves the others; Count counts
// every match whatever the Limit; a cursor goes on with another Limit.
func TestS24qLimitBoundsDeleteWhereAndNotCount(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "dwl", rapyer.Options{Groups: 4})
		ids := saveItems(t, m, 20, func(i int) QItem { return QItem{Status: "new", Price: i} })
		q := query.Where(is.Equal(iStatus, "new")).OrderBy(iPrice).Desc().Limit(7)
		if n, err := m.Count(ctx, q); err != nil || n != 20 {
			t.Fatalf("Count with Limit(7): %d, %v; want 20", n, err)
		}
		// the page size may change from page to page: the cursor goes on
		p1, err := m.Page(ctx, q.Limit(3), "")
		if err != nil {
			t.Fatal(err)
		}
		p2, err := m.Page(ctx, q.Limit(5), p1.Next)
		if err != nil || !slices.Equal(s24qIDs(p2.Items), []string{"it016", "it015", "it014", "it013", "it012"}) {
			t.Fatalf("the next page of another size: %v, %v", s24qIDs(p2.Items), err)
		}
		n, err := m.DeleteWhere(ctx, q)
		if err != nil || n != 7 {
			t.Fatalf("DeleteWhere with Limit(7): %d, %v", n, err)
		}
		left := s24qAll(t, m.FindIDs(ctx, query.All[QItem]()))
		if want := ids[:13]; !slices.Equal(left, want) {
			t.Fatalf("left %v, want %v", left, want)
		}
		if n, err := m.DeleteWhere(ctx, query.Where(is.Equal(iStatus, "new")).Limit(100)); err != nil || n != 13 {
			t.Fatalf("DeleteWhere of the rest: %d, %v", n, err)
		}
	})
}

// TestS24qReindexProgressEndsAtItsTotal: a rebuild of an index declared
// after 30 models were stored, in chunks of 4 over two groups, reports a
// progress that never goes back, whose total is the models' number and
// whose last call has done == total; the index then answers every model.
func TestS24qReindexProgressEndsAtItsTotal(t *testing.T) {
	defer rapyer.SetReindexChunk(4)()
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "prog"
		old := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Groups: 2, Indexes: []index.Spec{index.On(iStatus)}})
		for i := range 30 {
			if err := old.Save(ctx, fmt.Sprintf("it%03d", i), QItem{Status: "new", Price: i}); err != nil {
				t.Fatal(err)
			}
		}
		m := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Groups: 2, Indexes: []index.Spec{index.On(iStatus), index.On(iPrice)}})
		var calls [][2]int
		if err := m.Reindex(ctx, func(done, total int) { calls = append(calls, [2]int{done, total}) }); err != nil {
			t.Fatal(err)
		}
		if len(calls) == 0 || calls[len(calls)-1] != [2]int{30, 30} {
			t.Fatalf("progress %v, want it to end at 30 of 30", calls)
		}
		for i, c := range calls {
			if c[1] != 30 || c[0] > c[1] || (i > 0 && c[0] < calls[i-1][0]) {
				t.Fatalf("progress %v: call %d went back or past its total", calls, i)
			}
		}
		if n, err := m.Count(ctx, query.Where(is.AtLeast(iPrice, 0))); err != nil || n != 30 {
			t.Fatalf("after the rebuild: %d, %v", n, err)
		}
	})
}

// s24qIDs are the ids of es.
func s24qIDs[T any](es []rapyer.Entry[T]) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}
