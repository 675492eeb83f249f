package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestAnIndexAddedLaterIsBuiltOnlineWithoutAWindow: models are stored with
// one index; a second is declared; until Reindex has built it no query uses
// it (ErrNotIndexed, or a scan with query.Scan); the rebuild stops halfway
// (a cancelled context), writes go on, and a second Reindex goes on from
// where it stopped; then the new index answers what a scan gives. DropIndex
// removes an index the model no longer declares.
func TestAnIndexAddedLaterIsBuiltOnlineWithoutAWindow(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "rebuild"
		old := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Groups: 2, Indexes: []index.Spec{index.On(iStatus)}})
		stored := map[string]QItem{}
		for i := range 40 {
			id := fmt.Sprintf("it%03d", i)
			stored[id] = QItem{Status: "new", Price: i % 10}
			if err := old.Save(ctx, id, stored[id]); err != nil {
				t.Fatal(err)
			}
		}
		m := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Groups: 2, Indexes: []index.Spec{index.On(iStatus), index.On(iPrice)}})
		below := is.Below(iPrice, 3)
		cheap := query.Where(below)
		want := expected(below, stored, nil, false)
		if _, err := m.Count(ctx, cheap); !errors.Is(err, rapyer.ErrNotIndexed) {
			t.Fatalf("before the rebuild: %v", err)
		}
		if n, err := m.Count(ctx, cheap.Scan()); err != nil || n != len(want) {
			t.Fatalf("with Scan before the rebuild: %d, %v; want %d", n, err, len(want))
		}
		if n, err := m.Count(ctx, query.Where(is.Equal(iStatus, "new"))); err != nil || n != 40 {
			t.Fatalf("the old index: %d, %v", n, err)
		}
		defer rapyer.SetReindexChunk(5)()
		cctx, cancel := context.WithCancel(ctx)
		calls := 0
		err := m.Reindex(cctx, func(done, total int) {
			if calls++; calls == 2 {
				cancel()
			}
			if total != 40 {
				t.Errorf("total %d", total)
			}
		})
		if err == nil {
			t.Fatal("a cancelled rebuild returned nil")
		}
		if _, err := m.Count(ctx, cheap); !errors.Is(err, rapyer.ErrNotIndexed) {
			t.Fatalf("halfway: %v", err)
		}
		// writes go on, and keep the new index
		stored["it001"] = QItem{Status: "new", Price: 2}
		stored["it050"] = QItem{Status: "new", Price: 0}
		for _, id := range []string{"it001", "it050"} {
			if err := m.Save(ctx, id, stored[id]); err != nil {
				t.Fatal(err)
			}
		}
		last := 0
		if err := m.Reindex(ctx, func(done, total int) { last = done }); err != nil {
			t.Fatal(err)
		}
		if last >= 41 {
			t.Errorf("the second rebuild started over: it did %d", last)
		}
		want = expected(below, stored, nil, false)
		got := findIDs(t, m, cheap)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("after the rebuild: %v, want %v", got, want)
		}
		if err := m.DropIndex(ctx, "price"); !errors.Is(err, rapyer.ErrInvalid) {
			t.Fatalf("DropIndex of a declared index: %v", err)
		}
		if err := old.DropIndex(ctx, "price"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Count(ctx, cheap); !errors.Is(err, rapyer.ErrNotIndexed) {
			t.Fatalf("after DropIndex: %v", err)
		}
	})
}

// TestAScanQueryPagesThroughAnIndexBeingBuilt: a query.Scan query on an
// index declared after its models were stored reads every model while the
// index is not ready; its pages' cursors are the scan's, and the scan goes
// on page after page, before, during and after the Reindex that builds the
// index: every match comes exactly once. Before, the second page's cursor
// was refused with ErrBadCursor ("belongs to another query": each call
// first planned the index, whose fingerprint the scan's cursor lacks). A
// query with OrderBy does not scan while its index is built: ErrNotIndexed.
func TestAScanQueryPagesThroughAnIndexBeingBuilt(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "scanpages"
		old := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Groups: 2, Indexes: []index.Spec{index.On(iStatus)}})
		var want []string
		for i := range 12 {
			id := fmt.Sprintf("it%02d", i)
			if err := old.Save(ctx, id, QItem{Status: "new", Price: i % 2}); err != nil {
				t.Fatal(err)
			}
			if i%2 == 1 {
				want = append(want, id)
			}
		}
		m := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Groups: 2, Indexes: []index.Spec{index.On(iStatus), index.On(iPrice)}})
		q := query.Where(is.Equal(iPrice, 1)).Scan().Limit(2)
		var got []string
		cursor := ""
		next := func(when string) {
			t.Helper()
			p, err := m.Page(ctx, q, cursor)
			if err != nil {
				t.Fatalf("a page %s the rebuild, after %v: %v", when, got, err)
			}
			for _, e := range p.Items {
				got = append(got, e.ID)
			}
			cursor = p.Next
		}
		next("before")
		next("before")
		if _, err := m.Page(ctx, q.OrderBy(iPrice), ""); !errors.Is(err, rapyer.ErrNotIndexed) {
			t.Fatalf("an ordered scan before the rebuild: %v, want ErrNotIndexed", err)
		}
		defer rapyer.SetReindexChunk(2)()
		calls := 0
		if err := m.Reindex(ctx, func(done, total int) {
			if calls++; calls == 2 {
				next("during")
			}
		}); err != nil {
			t.Fatal(err)
		}
		for cursor != "" {
			next("after")
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("the pages gave %v, want %v", got, want)
		}
	})
}
