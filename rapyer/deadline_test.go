package rapyer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestTinyDeadlinesOnSaveAndGet: Save (the direct path of a plain Save) and
// Get (the reply read in place) under deadlines from a nanosecond to ten
// milliseconds either succeed or fail with a typed error; a Save that says
// nil is stored, and what is stored after any of them is one whole value
// that some Save wrote, never a mix.
func TestTinyDeadlinesOnSaveAndGet(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		m := rapyer.MustNew[Item](b.Client, rapyer.Options{Prefix: b.Prefix + "tiny"})
		bg := context.Background()
		if err := m.Save(bg, "i", Item{SKU: "s0", Qty: 0, Price: 0}); err != nil {
			t.Fatal(err)
		}
		typed := func(err error) bool {
			return err == nil || errors.Is(err, context.DeadlineExceeded) ||
				errors.Is(err, rapyer.ErrUnknownOutcome) || errors.Is(err, rapyer.ErrNotSent)
		}
		deadlines := []time.Duration{time.Nanosecond, time.Microsecond, 10 * time.Microsecond,
			100 * time.Microsecond, time.Millisecond, 10 * time.Millisecond}
		failed := 0
		for i := 1; i <= 3*len(deadlines); i++ {
			d := deadlines[i%len(deadlines)]
			want := Item{SKU: "s" + string(rune('a'+i%26)), Qty: i, Price: float64(i) / 4}
			ctx, cancel := context.WithTimeout(bg, d)
			err := m.Save(ctx, "i", want)
			_, gerr := m.Get(ctx, "i")
			cancel()
			if !typed(err) || !typed(gerr) {
				t.Fatalf("deadline %v: Save %v, Get %v: want nil or a typed error", d, err, gerr)
			}
			if err != nil {
				failed++
			}
			got, err2 := m.Get(bg, "i")
			if err2 != nil {
				t.Fatal(err2)
			}
			if err == nil && got != want {
				t.Fatalf("deadline %v: Save said nil, stored %+v, want %+v", d, got, want)
			}
			if got.Qty > i || got.Price != float64(got.Qty)/4 || (got.Qty > 0 && got.SKU != "s"+string(rune('a'+got.Qty%26))) {
				t.Fatalf("deadline %v: stored %+v is no value a Save wrote", d, got)
			}
		}
		if failed == 0 {
			t.Fatal("no Save met its deadline: the test tried nothing (a nanosecond must fail)")
		}
	})
}
