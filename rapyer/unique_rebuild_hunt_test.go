package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestARebuildOfAUniqueIndexRefusesTheDuplicatesStoredBefore: models saved
// before a Unique index was declared may share a value. Its rebuild must
// not build a unique index over them: before the fix Reindex claimed the
// value for the last model it passed, said the index ready, and from then
// on the other model could not save its own value (ErrDuplicate naming the
// last), while a query found both. Now Reindex fails with ErrDuplicate
// naming both models, the index stays unready (queries of it fail with
// ErrNotIndexed), and once one of them has another value a second Reindex
// builds it; each model then keeps its own value, and a third is refused.
// Duplicates in one chunk of the rebuild and in two chunks.
func TestARebuildOfAUniqueIndexRefusesTheDuplicatesStoredBefore(t *testing.T) {
	for _, chunk := range []int{200, 1} {
		testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
			defer rapyer.SetReindexChunk(chunk)()
			ctx := context.Background()
			p := b.Prefix + fmt.Sprint("urb", chunk)
			old := rapyer.MustNew[ixMember](b.Client, rapyer.Options{Prefix: p, Groups: 1, Indexes: []index.Spec{index.On(mbScore)}})
			for i, id := range []string{"ann", "bob", "cat"} {
				if err := old.Save(ctx, id, ixMember{Email: []string{"x@x", "y@y", "x@x"}[i], Score: float64(i)}); err != nil {
					t.Fatal(err)
				}
			}
			m := rapyer.MustNew[ixMember](b.Client, rapyer.Options{Prefix: p, Indexes: []index.Spec{index.On(mbScore), index.Unique(mbEmail)}})
			err := m.Reindex(ctx, nil)
			if !errors.Is(err, rapyer.ErrDuplicate) || !errors.Is(err, rapyer.ErrPrecondition) ||
				!strings.Contains(err.Error(), "ann") || !strings.Contains(err.Error(), "cat") {
				t.Fatalf("a rebuild over two models of one value: %v", err)
			}
			x := query.Where(is.Equal(mbEmail, "x@x"))
			if _, err := m.Count(ctx, x); !errors.Is(err, rapyer.ErrNotIndexed) {
				t.Fatalf("a query of the index the rebuild refused: %v", err)
			}
			if err := m.Save(ctx, "cat", ixMember{Email: "z@z", Score: 2}); err != nil {
				t.Fatal(err)
			}
			if err := m.Reindex(ctx, nil); err != nil {
				t.Fatalf("the rebuild once the duplicate is gone: %v", err)
			}
			for i, id := range []string{"ann", "bob", "cat"} {
				if err := m.Save(ctx, id, ixMember{Email: []string{"x@x", "y@y", "z@z"}[i], Score: 9}); err != nil {
					t.Fatalf("%s saves its own value: %v", id, err)
				}
			}
			if n, err := m.Count(ctx, x); err != nil || n != 1 {
				t.Fatalf("count of x@x: %d, %v", n, err)
			}
			if err := m.Save(ctx, "dan", ixMember{Email: "x@x"}); !errors.Is(err, rapyer.ErrDuplicate) {
				t.Fatalf("a new model with a taken value: %v", err)
			}
		})
	}
}
