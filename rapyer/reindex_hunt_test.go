package rapyer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestARebuildResumedForOtherIndexesStartsOver: a rebuild keeps its place
// in each group (the last id it synced), which says where the models are
// done only for the indexes that rebuild was building. A rebuild of
// Price stops halfway; then Score is declared too, and the next Reindex
// builds both: it must build Score for the models the first rebuild had
// passed as well (before the fix it resumed after them, and a query of
// Score missed them). The same after DropIndex of an index being built
// and its declaration again.
func TestARebuildResumedForOtherIndexesStartsOver(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "rebuild2"
		opts := func(ixs ...index.Spec) rapyer.Options {
			return rapyer.Options{Prefix: prefix, Groups: 2, Indexes: ixs}
		}
		old := rapyer.MustNew[QItem](b.Client, opts(index.On(iStatus)))
		stored := map[string]QItem{}
		for i := range 40 {
			id := fmt.Sprintf("it%03d", i)
			stored[id] = QItem{Status: "new", Price: i % 10, Score: float64(i % 7)}
			if err := old.Save(ctx, id, stored[id]); err != nil {
				t.Fatal(err)
			}
		}
		defer rapyer.SetReindexChunk(5)()
		halfway := func(m *rapyer.Model[QItem]) {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			calls := 0
			if err := m.Reindex(cctx, func(int, int) {
				if calls++; calls == 2 {
					cancel()
				}
			}); err == nil {
				t.Fatal("a cancelled rebuild returned nil")
			}
		}
		halfway(rapyer.MustNew[QItem](b.Client, opts(index.On(iStatus), index.On(iPrice))))
		both := rapyer.MustNew[QItem](b.Client, opts(index.On(iStatus), index.On(iPrice), index.On(iScore)))
		if err := both.Reindex(ctx, nil); err != nil {
			t.Fatal(err)
		}
		check := func(m *rapyer.Model[QItem], p is.Pred[QItem], when string) {
			t.Helper()
			want := expected(p, stored, nil, false)
			got := findIDs(t, m, query.Where(p))
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: %v, want %v", when, got, want)
			}
		}
		check(both, is.AtMost(iScore, 2.0), "Score, built by a rebuild resumed for Price")
		check(both, is.Below(iPrice, 3), "Price")
		// Score dropped while its rebuild is halfway, then declared again
		halfway(rapyer.MustNew[QItem](b.Client, opts(index.On(iStatus), index.On(iPrice), index.On(iScore), index.On(iAdded))))
		noScore := rapyer.MustNew[QItem](b.Client, opts(index.On(iStatus), index.On(iPrice)))
		if err := noScore.DropIndex(ctx, "added"); err != nil {
			t.Fatal(err)
		}
		again := rapyer.MustNew[QItem](b.Client, opts(index.On(iStatus), index.On(iPrice), index.On(iScore), index.On(iAdded)))
		if err := again.Reindex(ctx, nil); err != nil {
			t.Fatal(err)
		}
		check(again, is.Equal(iAdded, QItem{}.Added), "Added, dropped halfway and declared again")
	})
}

// TestARebuildUnderConcurrentWritesEndsExact: while Reindex builds a new
// index (stopped halfway by its context, then run again), other
// goroutines save, change and delete models; afterwards the index keys
// equal what the stored models give, and random queries on the new index
// answer what a scan of the stored models gives.
func TestARebuildUnderConcurrentWritesEndsExact(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		seed := testenv.Seed(t)
		ctx := context.Background()
		prefix := b.Prefix + "rebuildw"
		opts := func(ixs ...index.Spec) rapyer.Options {
			return rapyer.Options{Prefix: prefix, Groups: 3, Indexes: ixs}
		}
		old := rapyer.MustNew[QItem](b.Client, opts(index.On(iStatus)))
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		for i := range 60 {
			if err := old.Save(ctx, fmt.Sprintf("it%03d", i), randomItem(r)); err != nil {
				t.Fatal(err)
			}
		}
		specs := []index.Spec{index.On(iStatus), index.On(iPrice), index.Prefix(iName)}
		m := rapyer.MustNew[QItem](b.Client, opts(specs...))
		defer rapyer.SetReindexChunk(4)()
		stop := writeUntilStopped(t, 2, seed, 10, rebuildWrite(m))
		cctx, cancel := context.WithCancel(ctx)
		calls := 0
		_ = m.Reindex(cctx, func(int, int) {
			if calls++; calls == 5 {
				cancel()
			}
		})
		cancel()
		err := m.Reindex(ctx, nil)
		stop()
		if err != nil {
			t.Fatal(err)
		}
		ixcheck.MustNew[QItem](t, b.Client, prefix, 3, specs, m.IDs).Check(t, fmt.Sprintf("seed %d: after the rebuild", seed))
		stored := storedItems(t, m)
		for range 20 {
			var p is.Pred[QItem]
			switch r.IntN(3) {
			case 0:
				p = is.AtLeast(iPrice, r.IntN(30)-10)
			case 1:
				p = is.In(iPrice, r.IntN(30)-10, r.IntN(30)-10)
			default:
				p = is.HasPrefix(iName, pick(r, []string{"a", "ap", "b", ""}))
			}
			checkQuery(t, m, tq{q: query.Where(p), p: p}, stored, seed)
		}
	})
}

// rebuildWrite is one write of the rebuild's writers: it saves, changes or
// deletes one of the models it000 .. it079.
func rebuildWrite(m *rapyer.Model[QItem]) func(ctx context.Context, r *rand.Rand) error {
	return func(ctx context.Context, r *rand.Rand) error {
		id := fmt.Sprintf("it%03d", r.IntN(80))
		var err error
		switch r.IntN(4) {
		case 0:
			err = m.Save(ctx, id, randomItem(r))
		case 1:
			_, err = m.Exec(ctx, id, tx.Of(ops.Incr(iPrice, r.IntN(7)-3), ops.Set(iName, pick(r, itemNames))), rapyer.SkipIfMissing())
		case 2:
			_, err = m.Delete(ctx, id)
		default:
			_, err = m.Exec(ctx, id, tx.Of(ops.Set(iHidden, true)), rapyer.SkipIfMissing())
		}
		return err
	}
}

// storedItems reads every stored model by Get.
func storedItems[T any](t *testing.T, m *rapyer.Model[T]) map[string]T {
	t.Helper()
	ctx := context.Background()
	out := map[string]T{}
	for id, err := range m.IDs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		v, err := m.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}
