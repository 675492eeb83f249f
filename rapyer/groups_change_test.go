package rapyer_test

import (
	"context"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

type gcItem struct{ SKU string }

var gcSKU = lens.Of(func(v *gcItem) *string { return &v.SKU })

// TestAUniqueIndexAddedToAGroupedTypeKeepsItsModels: a type indexed with
// index.On (16 slot groups) that later declares index.Unique on the same
// field gets one slot group (Groups is 1 for a type with a Unique index),
// so its models, stored in groups #0..#15, are looked for in group #0
// only. Reindex returns nil and moves nothing; Get of a model stored in
// another group says ErrNotFound and a query counts 0 of 3 models.
// docs/queries.md says "a change of Groups moves nothing and is not
// supported", but adding a Unique index changes Groups implicitly, and
// nothing refuses it: the models vanish silently. The test wants either
// the models found, or the new declaration refused with a typed error.
//
// Known bug, not fixed in session 10 (the fix belongs in the move check,
// which reads every group's @meta once per type: record the number of
// groups there, and refuse a Model whose Groups differs).
func TestAUniqueIndexAddedToAGroupedTypeKeepsItsModels(t *testing.T) {
	t.Skip("known bug (session 10 attack report): a Unique index added to a grouped type hides its models")
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		p := b.Prefix + "uqgroups"
		on := rapyer.MustNew[gcItem](b.Client, rapyer.Options{Prefix: p, Indexes: []index.Spec{index.On(gcSKU)}})
		for _, id := range []string{"a", "b", "c"} {
			if err := on.Save(ctx, id, gcItem{SKU: id}); err != nil {
				t.Fatal(err)
			}
		}
		uq := rapyer.MustNew[gcItem](b.NewClient(t, nil), rapyer.Options{Prefix: p, Indexes: []index.Spec{index.Unique(gcSKU)}})
		err := uq.Reindex(ctx, nil)
		if err != nil {
			return // refused: the models stay where they are, findable by the old declaration
		}
		for _, id := range []string{"a", "b", "c"} {
			if _, err := uq.Get(ctx, id); err != nil {
				t.Errorf("Get %s after a Unique index was added and Reindex said nil: %v", id, err)
			}
		}
		if n, err := uq.Count(ctx, query.All[gcItem]().Scan()); err != nil || n != 3 {
			t.Errorf("Count of every model after a Unique index was added: %d, %v; want 3", n, err)
		}
	})
}
