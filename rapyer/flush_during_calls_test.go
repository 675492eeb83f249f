package rapyer_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestScriptsFlushedDuringSavesAndLocks: SCRIPT FLUSH and FUNCTION FLUSH,
// sent again and again while two workers save (the direct path), read (in
// place) and lock (acquire-and-load, fenced save and release) models,
// cost no call an error: every Save, Get and Lock says nil, and every
// model holds what its last write stored; on every tier.
func TestScriptsFlushedDuringSavesAndLocks(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Item](b.Client, rapyer.Options{Prefix: b.Prefix + "flush"})
		var stop atomic.Bool
		var flushes atomic.Int64
		flusher := make(chan error, 1)
		go func() {
			defer close(flusher)
			for !stop.Load() && flushes.Load() < 400 {
				if err := testenv.FlushLua(ctx, b.Client); err != nil {
					flusher <- err
					return
				}
				flushes.Add(1)
			}
		}()
		var wg sync.WaitGroup
		errc := make(chan error, 2)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := flushWorker(ctx, m, w); err != nil {
					errc <- err
				}
			}()
		}
		wg.Wait()
		stop.Store(true)
		if err := <-flusher; err != nil {
			t.Fatal(err)
		}
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		if flushes.Load() < 2 {
			t.Fatalf("%d flushes: the test tried nothing", flushes.Load())
		}
	})
}

// flushWorker saves, reads and locks model w 60 times.
func flushWorker(ctx context.Context, m *rapyer.Model[Item], w int) error {
	id := fmt.Sprint("w", w)
	for i := range 60 {
		want := Item{SKU: fmt.Sprint(id, "-", i), Qty: i}
		if err := m.Save(ctx, id, want); err != nil {
			return fmt.Errorf("save %d: %w", i, err)
		}
		got, err := m.Get(ctx, id)
		if err != nil || got != want {
			return fmt.Errorf("get %d: %+v, %v; saved %+v", i, got, err, want)
		}
		_, err = m.Lock(ctx, id, "a", func(_ context.Context, v *Item) error {
			if *v != want {
				return fmt.Errorf("the lock loaded %+v, saved %+v", *v, want)
			}
			v.Qty = -i
			return nil
		})
		if err != nil {
			return fmt.Errorf("lock %d: %w", i, err)
		}
		if got, err := m.Get(ctx, id); err != nil || got.Qty != -i {
			return fmt.Errorf("after lock %d: %+v, %v", i, got, err)
		}
	}
	return nil
}
