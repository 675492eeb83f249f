package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// canceller is a go-redis hook that cancels the context of the at-th
// call it sees (a command or a pipeline), just before the call goes on:
// so that a Save or a Lock meets a cancelled context at each of its
// points in turn.
type canceller struct {
	at, seen atomic.Int64
	cancel   atomic.Pointer[context.CancelFunc]
}

func (c *canceller) arm(at int64, cancel context.CancelFunc) {
	c.seen.Store(0)
	c.at.Store(at)
	c.cancel.Store(&cancel)
}

func (c *canceller) tick() {
	if c.seen.Add(1) == c.at.Load() {
		if f := c.cancel.Load(); f != nil {
			(*f)()
		}
	}
}

func (c *canceller) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *canceller) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.tick(); return next(ctx, cmd) }
}

func (c *canceller) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.tick(); return next(ctx, cmds) }
}

// TestCancelAtEveryPointOfSaveAndLock: a context cancelled before each
// call a Save (the direct path) or a Model.Lock makes, in turn, gives nil
// or a typed error; an error that says nothing was sent (ErrNotSent)
// leaves the model as it was, and a Lock that fails leaves no lock held;
// on every tier.
func TestCancelAtEveryPointOfSaveAndLock(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		c := &canceller{}
		rdb := b.NewClient(t, nil)
		rdb.AddHook(c)
		m := rapyer.MustNew[Item](rdb, rapyer.Options{Prefix: b.Prefix + "cancel"})
		bg := context.Background()
		outcomes := map[string]int{}
		for at := int64(1); at <= 8; at++ {
			for _, what := range []string{"save", "lock"} {
				id := fmt.Sprint(what, at)
				if err := m.Save(bg, id, Item{SKU: "before"}); err != nil {
					t.Fatal(err)
				}
				_, ver, _ := m.GetWithVersion(bg, id)
				ctx, cancel := context.WithCancel(bg)
				c.arm(at, cancel)
				var err error
				if what == "save" {
					err = m.Save(ctx, id, Item{SKU: "after"})
				} else {
					_, err = m.Lock(ctx, id, "a", func(_ context.Context, v *Item) error { v.SKU = "after"; return nil })
				}
				c.arm(0, cancel)
				cancel()
				checkCancelled(t, b, m, fmt.Sprint(what, " cancelled at call ", at), id, ver, err)
				outcomes[fmt.Sprint(what, " ", err == nil)]++
			}
		}
		for _, k := range []string{"save true", "save false", "lock true", "lock false"} {
			if outcomes[k] == 0 {
				t.Fatalf("outcomes %v: none of %q; the test tried too little", outcomes, k)
			}
		}
	})
}

// checkCancelled checks what a call cancelled at some point left.
func checkCancelled(t *testing.T, b *testenv.Backend, m *rapyer.Model[Item], what, id string, ver int64, err error) {
	t.Helper()
	bg := context.Background()
	got, gver, gerr := m.GetWithVersion(bg, id)
	if gerr != nil {
		t.Fatalf("%s: Get: %v", what, gerr)
	}
	switch {
	case err == nil:
		if got.SKU != "after" {
			t.Fatalf("%s: said nil, stored %+v", what, got)
		}
	case errors.Is(err, rapyer.ErrNotSent):
		if got.SKU != "before" || gver != ver {
			t.Fatalf("%s: %v, yet the model went from v%d to %+v v%d", what, err, ver, got, gver)
		}
	case !errors.Is(err, rapyer.ErrUnknownOutcome) && !errors.Is(err, context.Canceled):
		t.Fatalf("%s: %v; want nil or a typed error", what, err)
	}
	root, _ := m.Key(id)
	if n := b.Client.Exists(bg, root+":lock:a").Val(); n != 0 {
		t.Fatalf("%s: %v, and the lock key is left held", what, err)
	}
}
