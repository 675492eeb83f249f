package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// moveCommands are the commands only the move's checks send (Save and a
// Get of a missing model send none of them).
var moveCommands = []string{"hget", "exists", "scan", "hsetnx", "hexists"}

// sentMoveCommands lists the move's commands among cmds.
func sentMoveCommands(cmds []string) []string {
	var out []string
	for _, c := range cmds {
		if slices.Contains(moveCommands, c) {
			out = append(out, c)
		}
	}
	return out
}

// TestAFreshIndexedTypePaysNothingForTheMove: an indexed type that never
// had models of the layout without indexes pays the move's check once per
// process, on its first call; after it a Save is its own round trip and a
// Get of a missing model one round trip. A second process learns "done"
// with one read. Many first calls at once check once; a failed check is
// returned typed, writes nothing and caches nothing. (The first call of a
// Model also reads the type's number of slot groups, groups.go: one HGET,
// and an EXISTS for a store without the record.)
func TestAFreshIndexedTypePaysNothingForTheMove(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		const groups = 3
		opts := rapyer.Options{Prefix: b.Prefix + "mvfresh", Indexes: itemIndexes, Groups: groups}
		c := b.NewClient(t, nil)
		rt := testenv.CountRoundTrips(c)
		m := rapyer.MustNew[QItem](c, opts)

		if err := m.Save(ctx, "a", QItem{Name: "a", Status: "new"}); err != nil {
			t.Fatal(err)
		}
		t.Logf("first Save: %s", rt)
		if got := sentMoveCommands(rt.Commands()); !slices.Contains(got, "scan") {
			t.Fatalf("the first Save sent %v: no check of the layout without indexes", rt)
		}
		for i := range 3 {
			rt.Reset()
			if err := m.Save(ctx, fmt.Sprintf("s%d", i), QItem{Name: "s", Status: "new"}); err != nil {
				t.Fatal(err)
			}
			if rt.Count() != 1 || len(sentMoveCommands(rt.Commands())) > 0 {
				t.Fatalf("Save after the first call: %s; want one round trip and nothing of the move", rt)
			}
			rt.Reset()
			if _, err := m.Get(ctx, fmt.Sprintf("missing%d", i)); !errors.Is(err, rapyer.ErrNotFound) {
				t.Fatalf("Get of a missing model: %v, want ErrNotFound", err)
			}
			if rt.Count() != 1 {
				t.Fatalf("Get of a missing model: %s; want one round trip", rt)
			}
		}
		rt.Reset()
		if err := m.SaveMany(ctx, []rapyer.Entry[QItem]{{ID: "m1", Value: QItem{Name: "m1"}}, {ID: "m2", Value: QItem{Name: "m2"}}}); err != nil {
			t.Fatal(err)
		}
		if got := sentMoveCommands(rt.Commands()); len(got) > 0 {
			t.Fatalf("SaveMany after the first call: %s; want nothing of the move", rt)
		}

		// A second process learns "done" with one read, once (and reads the
		// recorded number of groups, once).
		c2 := b.NewClient(t, nil)
		rt2 := testenv.CountRoundTrips(c2)
		m2 := rapyer.MustNew[QItem](c2, opts)
		if _, err := m2.Get(ctx, "missing"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("Get of a missing model: %v, want ErrNotFound", err)
		}
		if got := sentMoveCommands(rt2.Commands()); slices.Contains(got, "scan") || rt2.Count() > 2+groups {
			t.Fatalf("a second process's first miss: %s; want the Get, one read of @groups and one of @move, no SCAN", rt2)
		}
		rt2.Reset()
		if _, err := m2.Get(ctx, "missing"); !errors.Is(err, rapyer.ErrNotFound) || rt2.Count() != 1 {
			t.Fatalf("a second process's next miss: %v, %s; want ErrNotFound in one round trip", err, rt2)
		}
	})
}

// TestConcurrentFirstCallsCheckOnce: many goroutines' first calls on a
// fresh indexed type run one check between them.
func TestConcurrentFirstCallsCheckOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		const groups = 3
		c := b.NewClient(t, nil)
		rt := testenv.CountRoundTrips(c)
		m := rapyer.MustNew[QItem](c, rapyer.Options{Prefix: b.Prefix + "mvonce", Indexes: itemIndexes, Groups: groups})
		var wg sync.WaitGroup
		errc := make(chan error, 16)
		for i := range 16 {
			wg.Go(func() {
				if i%2 == 0 {
					errc <- m.Save(ctx, fmt.Sprintf("g%d", i), QItem{Name: "g"})
				} else if _, err := m.Get(ctx, fmt.Sprintf("g%d", i)); !errors.Is(err, rapyer.ErrNotFound) {
					errc <- fmt.Errorf("Get: %v, want ErrNotFound", err)
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		for _, cmd := range rt.Commands() {
			if cmd == "hsetnx" {
				n++
			}
		}
		if n != groups+1 { // @move in each group, @groups in group #0
			t.Fatalf("16 first calls recorded the move done %d times in %d groups: %s; want one check", n, groups, rt)
		}
	})
}

// TestAFailedMoveCheckIsTypedAndWritesNothing: the first call's check
// fails: the call returns the error typed, its write is not sent, and
// the next call checks again.
func TestAFailedMoveCheckIsTypedAndWritesNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		c := b.NewClient(t, nil)
		rt := testenv.CountRoundTrips(c)
		m := rapyer.MustNew[QItem](c, rapyer.Options{Prefix: b.Prefix + "mvfail", Indexes: itemIndexes, Groups: 2})
		restore := rapyer.SetMoveCheckFail(errors.New("the check broke (a test)"))
		err := m.Save(ctx, "a", QItem{Name: "a"})
		restore()
		if !errors.Is(err, rapyer.ErrNotSent) {
			t.Fatalf("Save with a failed check: %v, want ErrNotSent", err)
		}
		for _, cmd := range rt.Commands() {
			if cmd != "hget" && cmd != "exists" {
				t.Fatalf("Save with a failed check sent %s: want only the reads of @groups and @move", rt)
			}
		}
		rt.Reset()
		if _, err := m.Get(ctx, "a"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("Get after a failed Save: %v, want ErrNotFound", err)
		}
		if !slices.Contains(rt.Commands(), "scan") {
			t.Fatalf("the call after a failed check: %s; want it to check again", rt)
		}
	})
}

// TestATypeWithOldModelsStillMoves: a type with models of the layout
// without indexes keeps moving them on demand after the check.
func TestATypeWithOldModelsStillMoves(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "mvold"
		plain := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix})
		for _, id := range []string{"o1", "o2"} {
			if err := plain.Save(ctx, id, QItem{Name: id, Status: "old"}); err != nil {
				t.Fatal(err)
			}
		}
		m := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Indexes: itemIndexes, Groups: 2})
		if _, err := m.Get(ctx, "missing"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("Get of a missing model: %v", err)
		}
		for _, id := range []string{"o1", "o2"} {
			if got, err := m.Get(ctx, id); err != nil || got.Name != id {
				t.Fatalf("Get(%s) of a model of the old layout: %+v, %v", id, got, err)
			}
			if _, err := plain.Get(ctx, id); !errors.Is(err, rapyer.ErrNotFound) {
				t.Fatalf("%s left in the old layout after its Get: %v", id, err)
			}
		}
	})
}
