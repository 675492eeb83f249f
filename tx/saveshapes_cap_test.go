package tx_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestManyShapesSavedConcurrently: more plain-Save shapes than the direct
// path keeps (64: here 72 TTLs of one model, each with two field sets),
// first saved at once by 8 goroutines in a random order each, are all
// stored as saved with their TTL, and the direct path keeps no more than
// its 64 shapes; on every tier, under -race.
func TestManyShapesSavedConcurrently(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		restore, count := tx.SetAsideSaveShapes()
		defer restore()
		ctx := context.Background()
		m := rapyer.MustNew[Nest](b.Client, rapyer.Options{Prefix: b.Prefix + "many"})
		const shapes, workers = 72, 8
		testenv.Workers(t, workers, func(w int) error {
			r := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
			for _, i := range r.Perm(2 * shapes) {
				if err := saveShape(ctx, b, m, w, i); err != nil {
					return err
				}
			}
			return nil
		})
		if n := count(); n > 64 {
			t.Fatalf("the direct path keeps %d shapes, past its bound of 64", n)
		}
	})
}

// saveShape saves shape i (a TTL of 600+i/2 s, a Work part when i is odd)
// of model w-i and reads it back.
func saveShape(ctx context.Context, b *testenv.Backend, m *rapyer.Model[Nest], w, i int) error {
	ttl := time.Duration(600+i/2) * time.Second
	v := Nest{Name: fmt.Sprint("w", w, "-", i), Home: NestAddr{City: "c"}, Ratio: float64(i) / 8}
	if i%2 == 1 {
		v.Work = &NestAddr{City: "w"}
	}
	id := fmt.Sprint(w, "-", i)
	target := m.Target(id)
	if _, err := tx.Exec(ctx, b.Client, tx.On(target, ops.Replace(v), ops.Expire[Nest](ttl)), tx.Options{}); err != nil {
		return fmt.Errorf("save %s: %w", id, err)
	}
	got, err := m.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("get %s: %w", id, err)
	}
	if got.Name != v.Name || got.Ratio != v.Ratio || (got.Work == nil) != (v.Work == nil) {
		return fmt.Errorf("%s: read %+v, saved %+v", id, got, v)
	}
	if pttl := b.Client.PTTL(ctx, target.Root()).Val(); pttl <= ttl-time.Minute || pttl > ttl {
		return fmt.Errorf("%s: TTL %v, saved with %v", id, pttl, ttl)
	}
	return nil
}
