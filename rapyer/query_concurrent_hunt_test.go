package rapyer_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// writeUntilStopped runs writers goroutines, writer w drawing from the
// random stream (seed, stream+w), each calling write again and again until
// the returned stop is called (stop waits for them). A write's error fails
// the test and ends its writer.
func writeUntilStopped(t *testing.T, writers int, seed int64, stream uint64, write func(ctx context.Context, r *rand.Rand) error) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(seed), stream+uint64(w)))
			ctx := context.Background()
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := write(ctx, r); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { close(done) }); wg.Wait() }
}

// churn runs writers goroutines that save, change and delete the models
// w000 .. w059 (values drawn as randomItem does, so with ties of the
// quiet models' values) until the returned stop is called.
func churn(t *testing.T, m *rapyer.Model[QItem], seed int64, writers int) (stop func()) {
	return writeUntilStopped(t, writers, seed, 100, func(ctx context.Context, r *rand.Rand) error {
		id := fmt.Sprintf("w%03d", r.IntN(60))
		switch r.IntN(3) {
		case 0:
			return m.Save(ctx, id, randomItem(r))
		case 1:
			_, err := m.Exec(ctx, id, tx.Of(ops.Set(iScore, pick(r, itemScores)), ops.Set(iStatus, pick(r, itemStatus))), rapyer.SkipIfMissing())
			return err
		default:
			_, err := m.Delete(ctx, id)
			return err
		}
	})
}

// TestPagingUnderConcurrentWritersGivesEveryQuietModelOnceInOrder: while
// two goroutines write other models of the type (values that tie with
// them), a caller pages through ordered queries (a float, a time, a text,
// ascending and descending, and unordered ones); every model not changed
// meanwhile that matches comes exactly once, and those come in the
// query's order.
func TestPagingUnderConcurrentWritersGivesEveryQuietModelOnceInOrder(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		seed := testenv.Seed(t)
		r := rand.New(rand.NewPCG(uint64(seed), 5))
		m := newItems(t, b, "cpaging", rapyer.Options{Groups: 4})
		quiet := map[string]QItem{}
		for i := range 50 {
			id, v := fmt.Sprintf("q%03d", i), randomItem(r)
			if err := m.Save(context.Background(), id, v); err != nil {
				t.Fatal(err)
			}
			quiet[id] = v
		}
		stop := churn(t, m, seed, 2)
		defer stop()
		type oq struct {
			q   query.Query[QItem]
			p   is.Pred[QItem]
			key func(a, b QItem) int
		}
		score := func(a, b QItem) int { return cmp.Compare(a.Score, b.Score) }
		added := func(a, b QItem) int { return a.Added.Compare(b.Added) }
		name := func(a, b QItem) int { return strings.Compare(a.Name, b.Name) }
		news, cheap := is.Equal(iStatus, "new"), is.AtLeast(iPrice, 0)
		qs := []oq{
			{query.Where(news).OrderBy(iScore).Desc(), news, score},
			{query.Where(cheap).OrderBy(iScore), cheap, score},
			{query.Where(news).OrderBy(iAdded).Desc(), news, added},
			{query.Where(cheap).OrderBy(iName).Desc(), cheap, name},
			{query.All[QItem]().OrderBy(iAdded), is.Or(news, is.Not(news)), added},
			{query.Where(news), news, nil},
			{query.Where(is.Or(news, cheap)), is.Or(news, cheap), nil},
		}
		for _, x := range qs {
			desc := strings.Contains(x.q.String(), "Desc")
			var got []rapyer.Entry[QItem]
			for cur, n := "", 0; ; n++ {
				p, err := m.Page(context.Background(), x.q.Limit(1+r.IntN(7)), cur)
				if err != nil || n > 500 {
					t.Fatalf("seed %d: %s: %v (page %d)", seed, x.q, err, n)
				}
				got = append(got, p.Items...)
				if cur = p.Next; cur == "" {
					break
				}
			}
			var mine []string
			seen := map[string]int{}
			for _, e := range got {
				if _, ok := quiet[e.ID]; ok {
					mine = append(mine, e.ID)
					seen[e.ID]++
				}
			}
			for id, v := range quiet {
				if want := x.p.Holds(v); (want && seen[id] != 1) || (!want && seen[id] != 0) {
					t.Fatalf("seed %d: %s: %s (%+v) came %d times", seed, x.q, id, v, seen[id])
				}
			}
			ordered := slices.IsSortedFunc(mine, func(a, b string) int {
				c := cmp.Compare(a, b)
				if x.key != nil {
					c = cmp.Or(x.key(quiet[a], quiet[b]), c)
				}
				if desc {
					return -c
				}
				return c
			})
			if !ordered {
				t.Fatalf("seed %d: %s: the quiet models came out of order: %v", seed, x.q, mine)
			}
		}
	})
}

// TestDeleteWhereRacingWritersDeletesOnlyMatches: while two goroutines
// move other models in and out of the predicate, DeleteWhere deletes
// every quiet model that matches and none that does not; once the
// writers stop, Count equals the number of ids FindIDs gives and what a
// scan of the stored models gives.
func TestDeleteWhereRacingWritersDeletesOnlyMatches(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		seed := testenv.Seed(t)
		r := rand.New(rand.NewPCG(uint64(seed), 6))
		ctx := context.Background()
		m := newItems(t, b, "cdelete", rapyer.Options{Groups: 4})
		quiet := map[string]QItem{}
		for i := range 40 {
			id, v := fmt.Sprintf("q%03d", i), randomItem(r)
			if err := m.Save(ctx, id, v); err != nil {
				t.Fatal(err)
			}
			quiet[id] = v
		}
		stop := churn(t, m, seed, 2)
		p := is.Or(is.Equal(iStatus, "sold"), is.Below(iScore, 0.0))
		_, err := m.DeleteWhere(ctx, query.Where(p))
		stop()
		if err != nil {
			t.Fatal(err)
		}
		for id, v := range quiet {
			_, gerr := m.Get(ctx, id)
			if gone := gerr != nil; gone != p.Holds(v) {
				t.Fatalf("seed %d: %s (%+v): gone %v (%v), matches %v", seed, id, v, gone, gerr, p.Holds(v))
			}
		}
		if b.Mini != nil {
			b.Mini.FastForward(time.Second)
		}
		stored := storedItems(t, m)
		for _, q := range []is.Pred[QItem]{p, is.Equal(iStatus, "new"), is.AtLeast(iPrice, 3), is.In(iStatus, "new", "gone")} {
			want := expected(q, stored, nil, false)
			got := findIDs(t, m, query.Where(q))
			slices.Sort(got)
			n, err := m.Count(ctx, query.Where(q))
			if err != nil || n != len(got) || !slices.Equal(got, want) {
				t.Fatalf("seed %d: %s: Count %d (%v), FindIDs %v, scan %v", seed, q, n, err, got, want)
			}
		}
	})
}
