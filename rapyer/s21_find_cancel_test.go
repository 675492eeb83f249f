package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestAFindWhoseContextEndsStopsWithItsError: Find and FindIDs read ahead
// (up to 256 results of a group per round). A context cancelled after the
// first result ends the iteration with ErrNotSent wrapping
// context.Canceled at the next step: no result read ahead is given after
// it. Before, the buffered rest came without a word and the error only with
// the next round trip, or never when the buffer held the last results.
func TestAFindWhoseContextEndsStopsWithItsError(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		m := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: b.Prefix + "item", Indexes: itemIndexes})
		const n = 40
		models := make([]rapyer.Entry[QItem], n)
		for i := range models {
			models[i] = rapyer.Entry[QItem]{ID: fmt.Sprintf("i%02d", i), Value: QItem{Status: "new", Price: i}}
		}
		if err := m.SaveMany(t.Context(), models); err != nil {
			t.Fatal(err)
		}
		q := query.Where(is.Equal(iStatus, "new"))
		for _, what := range []string{"Find", "FindIDs"} {
			ctx, cancel := context.WithCancel(t.Context())
			got, afterCancel := 0, 0
			var last error
			step := func(err error) bool {
				if err != nil {
					last = err
					return true
				}
				if got++; got == 1 {
					cancel()
				} else {
					afterCancel++
				}
				return true
			}
			if what == "Find" {
				for _, err := range m.Find(ctx, q) {
					step(err)
				}
			} else {
				for _, err := range m.FindIDs(ctx, q) {
					step(err)
				}
			}
			cancel()
			if afterCancel != 0 {
				t.Errorf("%s gave %d results after its context was cancelled", what, afterCancel)
			}
			if !errors.Is(last, context.Canceled) || !errors.Is(last, rapyer.ErrNotSent) {
				t.Errorf("%s ended with %v, want ErrNotSent wrapping context.Canceled", what, last)
			}
		}
	})
}
