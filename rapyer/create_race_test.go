package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestConcurrentCreatesOneWins: 8 goroutines Create (a direct Save that
// must be new) the same ids at once, each with its own value: for every
// id exactly one says nil, the others ErrExists, and the stored model is
// the winner's; on every tier.
func TestConcurrentCreatesOneWins(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Item](b.Client, rapyer.Options{Prefix: b.Prefix + "race"})
		const workers, ids = 8, 10
		won := make([][]int, ids)
		var mu sync.Mutex
		testenv.Workers(t, workers, func(w int) error {
			for i := range ids {
				err := m.Create(ctx, fmt.Sprint("c", i), Item{SKU: fmt.Sprint("w", w), Qty: w})
				switch {
				case err == nil:
					mu.Lock()
					won[i] = append(won[i], w)
					mu.Unlock()
				case !errors.Is(err, rapyer.ErrExists):
					return err
				}
			}
			return nil
		})
		for i, ws := range won {
			if len(ws) != 1 {
				t.Fatalf("id c%d: created by %v, want exactly one", i, ws)
			}
			got, err := m.Get(ctx, fmt.Sprint("c", i))
			if err != nil || got.Qty != ws[0] || got.SKU != fmt.Sprint("w", ws[0]) {
				t.Fatalf("id c%d: stored %+v, %v; created by %d", i, got, err, ws[0])
			}
		}
	})
}
