package lock

import (
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

func take(t *testing.T, b *testenv.Backend, key string, o Options) *Lock {
	t.Helper()
	l, err := Acquire(t.Context(), b.Client, key, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func let(t *testing.T, l *Lock) {
	t.Helper()
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestNoFence: an acquisition with Options.NoFence has fence 0 and leaves
// the fence key as it was (no key on a fresh lock, the last fence given
// out otherwise), by its own attempt, by a resent attempt of its token and
// when a release hands it the lock; the fenced acquisitions around it
// still get strictly increasing fences.
func TestNoFence(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{nofence}:lock:x"
		fence := func() string { return b.Client.Get(ctx, FenceKey(key)).Val() }

		l := take(t, b, key, Options{NoFence: true, Wait: NoWait})
		if l.Fence() != 0 || b.Client.Exists(ctx, FenceKey(key)).Val() != 0 {
			t.Fatalf("a first acquisition without a fence: fence %d, fence key %q", l.Fence(), fence())
		}
		// the attempt sent again with the same token (a lost reply)
		o, _ := Options{NoFence: true, Wait: NoWait}.resolve()
		a := newAcquirer(b.Client, key, o)
		a.token, a.cmd[4] = l.Token(), l.Token()
		at, err := a.try(ctx)
		if err != nil || !at.ok || at.fence != 0 {
			t.Fatalf("a resent attempt: %+v, %v; want the lock, fence 0", at, err)
		}
		let(t, l)

		f1 := take(t, b, key, Options{Wait: NoWait})
		if f1.Fence() <= 0 {
			t.Fatalf("a fenced acquisition got fence %d", f1.Fence())
		}
		stored := fence()
		// a waiter without a fence, handed the lock by the release
		got := make(chan *Lock, 1)
		naps := counts.naps.Load()
		go func() {
			o := slowPoll
			o.NoFence = true
			l, err := Acquire(ctx, b.Client, key, o)
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
		testenv.Eventually(t, "the waiter naps", func() bool { return counts.naps.Load() > naps })
		h0 := counts.handed.Load()
		let(t, f1)
		w := <-got
		if w == nil {
			t.FailNow()
		}
		if counts.handed.Load() == h0 {
			t.Fatal("the release did not hand the lock over")
		}
		if w.Fence() != 0 || fence() != stored {
			t.Fatalf("a waiter without a fence was handed fence %d, the fence key went from %s to %s", w.Fence(), stored, fence())
		}
		let(t, w)
		f2 := take(t, b, key, Options{Wait: NoWait})
		if f2.Fence() <= f1.Fence() {
			t.Fatalf("the fence after acquisitions without one, %d, is not above %d", f2.Fence(), f1.Fence())
		}
		let(t, f2)
	})
}
