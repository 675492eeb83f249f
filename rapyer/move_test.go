package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// itemEq compares two QItems as they are stored.
func itemEq(a, b QItem) bool {
	return a.Name == b.Name && a.Status == b.Status && a.Price == b.Price && a.Score == b.Score &&
		a.Added.Equal(b.Added) && a.Hidden == b.Hidden && maps.Equal(a.Tags, b.Tags)
}

// checkMoved holds the indexed model m to stored: every model is found by
// Get, IDs and queries, none twice, none stale, and the index keys are what
// the stored models give (the oracle); no key of the old layout is left.
func checkMoved(t *testing.T, m, plain *rapyer.Model[QItem], groups int, stored map[string]QItem, step string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for id, err := range m.IDs(ctx) {
		if err != nil {
			t.Fatalf("%s: IDs: %v", step, err)
		}
		ids = append(ids, id)
	}
	want := slices.Sorted(maps.Keys(stored))
	if !slices.Equal(ids, want) {
		var extra, lost []string
		for _, id := range ids {
			if _, ok := stored[id]; !ok {
				v, err := m.Get(ctx, id)
				extra = append(extra, fmt.Sprintf("%s (%+v, %v)", id, v, err))
			}
		}
		for _, id := range want {
			if !slices.Contains(ids, id) {
				lost = append(lost, id)
			}
		}
		t.Fatalf("%s: IDs %d models, want %d: not stored %v, not found %v", step, len(ids), len(want), extra, lost)
	}
	for id, it := range stored {
		got, err := m.Get(ctx, id)
		if err != nil || !itemEq(got, it) {
			t.Fatalf("%s: Get(%s) = %+v, %v; want %+v", step, id, got, err, it)
		}
	}
	for _, p := range []is.Pred[QItem]{is.Equal(iStatus, "new"), is.Below(iPrice, 3), is.Member(iTags, "red"), is.HasPrefix(iName, "ap")} {
		got := findIDs(t, m, query.Where(p))
		slices.Sort(got)
		if w := expected(p, stored, nil, false); !slices.Equal(got, w) {
			t.Fatalf("%s: %v: %v, want %v", step, p, got, w)
		}
	}
	ixcheck.MustNew[QItem](t, m.Client(), m.Prefix(), groups, itemIndexes, m.IDs).Check(t, step)
	for id, err := range plain.IDs(ctx) {
		t.Fatalf("%s: model %s of the old layout is left (%v)", step, id, err)
	}
}

// TestAFirstIndexMovesAStoredTypeOnline: 500 models stored without
// indexes (with collections, TTLs and versions); the type declares its
// indexes; the indexed model finds every model before any move (Get,
// Exec, Update, Lock, Delete move it on demand); queries refuse to answer
// (ErrNotIndexed) until Reindex is done; Reindex, cancelled midway while
// writes go on, then run again, moves them all: every model is found by
// Get, IDs and queries, none lost, none twice, none stale, the writes made
// meanwhile kept, TTLs kept, versions kept (ops.VersionIs holds); a third
// Reindex has nothing to do.
func TestAFirstIndexMovesAStoredTypeOnline(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(seed, 6))
		prefix := b.Prefix + "mv"
		plain := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix})
		stored := map[string]QItem{}
		for i := range 500 {
			id := fmt.Sprintf("m%04d", i)
			stored[id] = randomItem(r)
			if err := plain.Save(ctx, id, stored[id]); err != nil {
				t.Fatal(err)
			}
			if i%10 == 0 {
				if err := plain.Expire(ctx, id, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
		}
		_, ver, err := plain.GetWithVersion(ctx, "m0100")
		if err != nil {
			t.Fatal(err)
		}
		const groups = 4
		m := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Indexes: itemIndexes, Groups: groups})

		// before the move: every call finds the models of the old layout
		if got, err := m.Get(ctx, "m0001"); err != nil || !itemEq(got, stored["m0001"]) {
			t.Fatalf("Get before the move: %+v, %v", got, err)
		}
		if ok, err := m.Exists(ctx, "m0002"); err != nil || !ok {
			t.Fatalf("Exists before the move: %v, %v", ok, err)
		}
		if d, err := m.TTL(ctx, "m0010"); err != nil || d <= 0 {
			t.Fatalf("TTL before the move: %v, %v", d, err)
		}
		it := stored["m0003"]
		it.Price += 7
		stored["m0003"] = it
		if _, err := m.Exec(ctx, "m0003", tx.Of(ops.Incr(iPrice, 7))); err != nil {
			t.Fatalf("Exec before the move: %v", err)
		}
		it = stored["m0004"]
		it.Status = "sold"
		stored["m0004"] = it
		if _, err := m.Update(ctx, "m0004", func(v QItem) (tx.Batch, error) { return tx.Of(ops.Set(iStatus, "sold")), nil }); err != nil {
			t.Fatalf("Update before the move: %v", err)
		}
		it = stored["m0005"]
		it.Name = "apricot"
		stored["m0005"] = it
		if _, err := m.Lock(ctx, "m0005", "edit", func(ctx context.Context, v *QItem) error { v.Name = "apricot"; return nil }); err != nil {
			t.Fatalf("Lock before the move: %v", err)
		}
		if ok, err := m.Delete(ctx, "m0006"); err != nil || !ok {
			t.Fatalf("Delete before the move: %v, %v", ok, err)
		}
		delete(stored, "m0006")
		if _, err := m.Get(ctx, "m0006"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("Get of a deleted model: %v", err)
		}
		found, missing, err := m.GetMany(ctx, []string{"m0007", "nobody", "m0008"})
		if err != nil || len(found) != 2 || found[0].ID != "m0007" || !itemEq(found[1].Value, stored["m0008"]) || !slices.Equal(missing, []string{"nobody"}) {
			t.Fatalf("GetMany before the move: %v, %v, %v", found, missing, err)
		}
		if gone, err := m.DeleteMany(ctx, "m0009", "nobody", "m0011"); err != nil || !slices.Equal(gone, []string{"m0009", "m0011"}) {
			t.Fatalf("DeleteMany before the move: %v, %v", gone, err)
		}
		delete(stored, "m0009")
		delete(stored, "m0011")
		if err := m.Create(ctx, "m0012", QItem{}); !errors.Is(err, rapyer.ErrExists) {
			t.Fatalf("Create of a model not moved: %v", err)
		}
		if _, err := m.Get(ctx, "nobody"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("Get of no model: %v", err)
		}

		// the move, cancelled midway while writes go on
		defer rapyer.SetReindexChunk(50)()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var first []int
		err = m.Reindex(cctx, func(done, total int) {
			first = append(first, done)
			if done == 150 {
				if _, err := m.Count(ctx, query.Where(is.Equal(iStatus, "new"))); !errors.Is(err, rapyer.ErrNotIndexed) {
					t.Errorf("a query during the move: %v", err)
				}
				cancel()
			}
		})
		if err == nil || len(first) != 150 {
			t.Fatalf("a cancelled move: %v after %d models", err, len(first))
		}
		if _, err := m.Count(ctx, query.Where(is.Equal(iStatus, "new"))); !errors.Is(err, rapyer.ErrNotIndexed) {
			t.Fatalf("a query after a cancelled move: %v", err)
		}
		// a scan reads the groups' listings, which lack the models not moved
		if n, err := m.Count(ctx, query.Where(is.Equal(iStatus, "new")).Scan()); !errors.Is(err, rapyer.ErrNotIndexed) {
			t.Fatalf("a scan after a cancelled move: %d, %v", n, err)
		}
		for _, err := range m.IDs(ctx) {
			if !errors.Is(err, rapyer.ErrNotIndexed) {
				t.Fatalf("IDs after a cancelled move: %v", err)
			}
			break
		}
		for i := range 20 { // writes between the two runs, on moved and unmoved models
			id := fmt.Sprintf("m%04d", 7+i*24)
			it := stored[id]
			it.Price++
			stored[id] = it
			if _, err := m.Exec(ctx, id, tx.Of(ops.Incr(iPrice, 1))); err != nil {
				t.Fatal(err)
			}
		}
		stored["n1"] = QItem{Status: "new", Price: 1}
		if err := m.Save(ctx, "n1", stored["n1"]); err != nil {
			t.Fatal(err)
		}
		var second [][2]int
		if err := m.Reindex(ctx, func(done, total int) { second = append(second, [2]int{done, total}) }); err != nil {
			t.Fatal(err)
		}
		if len(second) == 0 || second[len(second)-1][0] != second[len(second)-1][1] {
			t.Fatalf("the progress of the second run: %v", second)
		}
		for i := 1; i < len(second); i++ {
			if second[i][0] < second[i-1][0] || second[i][0] > second[i][1] {
				t.Fatalf("the progress of the second run: %v", second)
			}
		}
		checkMoved(t, m, plain, groups, stored, "moved")
		for id := range stored {
			var n int
			fmt.Sscanf(id, "m%d", &n)
			d, err := m.TTL(ctx, id)
			if err != nil || (id[0] == 'm' && n%10 == 0) != (d > 0) {
				t.Fatalf("TTL(%s) = %v, %v", id, d, err)
			}
		}
		if _, err := m.Exec(ctx, "m0100", tx.Of(ops.VersionIs[QItem](ver), ops.Set(iHidden, true))); err != nil {
			t.Fatalf("the version read before the move: %v", err)
		}
		it = stored["m0100"]
		it.Hidden = true
		stored["m0100"] = it
		calls := 0
		if err := m.Reindex(ctx, func(int, int) { calls++ }); err != nil || calls != 0 {
			t.Fatalf("a third Reindex: %v, %d progress calls", err, calls)
		}
		checkMoved(t, m, plain, groups, stored, "again")
	})
}

// TestTheMoveKeepsConcurrentWrites: a writer changes, creates and deletes
// models through the indexed model while Reindex moves the type (at every
// progress report, and from a goroutine of its own): every write is kept,
// and nothing the writer deleted comes back.
func TestTheMoveKeepsConcurrentWrites(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "mvw"
		plain := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix})
		r := rand.New(rand.NewPCG(seed, 7))
		var mu sync.Mutex
		stored := map[string]QItem{}
		const n = 200
		for i := range n {
			id := fmt.Sprintf("w%03d", i)
			stored[id] = randomItem(r)
			if err := plain.Save(ctx, id, stored[id]); err != nil {
				t.Fatal(err)
			}
		}
		m := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Indexes: itemIndexes, Groups: 3})
		// write is one random write of the writer with random source w; the
		// writer owns the ids it touches (the lock is the test's bookkeeping).
		write := func(w *rand.Rand, mine func(int) bool) error {
			i := w.IntN(n + 50)
			if !mine(i) {
				return nil
			}
			id := fmt.Sprintf("w%03d", i)
			mu.Lock()
			old, ok := stored[id]
			mu.Unlock()
			switch k := w.IntN(4); {
			case !ok || k == 0:
				it := randomItem(w)
				if err := m.Save(ctx, id, it); err != nil {
					return err
				}
				mu.Lock()
				stored[id] = it
				mu.Unlock()
			case k == 1:
				if gone, err := m.Delete(ctx, id); err != nil || !gone {
					return fmt.Errorf("Delete(%s): %v, %v", id, gone, err)
				}
				mu.Lock()
				delete(stored, id)
				mu.Unlock()
			default:
				old.Price += 3
				if _, err := m.Exec(ctx, id, tx.Of(ops.Incr(iPrice, 3), ops.Add(iTags, "green"))); err != nil {
					return fmt.Errorf("Exec(%s): %v", id, err)
				}
				if old.Tags == nil {
					old.Tags = map[string]struct{}{}
				}
				old.Tags["green"] = struct{}{}
				mu.Lock()
				stored[id] = old
				mu.Unlock()
			}
			return nil
		}
		stop := make(chan struct{})
		errc := make(chan error, 1)
		go func() { // the goroutine writes the odd ids
			w := rand.New(rand.NewPCG(seed, 8))
			for {
				select {
				case <-stop:
					errc <- nil
					return
				default:
				}
				if err := write(w, func(i int) bool { return i%2 == 1 }); err != nil {
					errc <- err
					return
				}
			}
		}()
		defer rapyer.SetReindexChunk(20)()
		w := rand.New(rand.NewPCG(seed, 9))
		var werr error
		err := m.Reindex(ctx, func(done, total int) { // the progress writes the even ids
			for range 3 {
				if err := write(w, func(i int) bool { return i%2 == 0 }); err != nil && werr == nil {
					werr = err
				}
			}
		})
		close(stop)
		if gerr := <-errc; gerr != nil {
			t.Fatalf("the writer: %v", gerr)
		}
		if err != nil || werr != nil {
			t.Fatalf("Reindex: %v; the writer of the progress: %v", err, werr)
		}
		checkMoved(t, m, plain, 3, stored, "after the move")
	})
}

// TestAMoveStoppedBetweenItsStepsLosesNothing: one model's move stops after
// its copy (both copies stored), another's after its read (its claim
// left): the indexed model reads the copy, a write to it is kept, the
// claim is waited out, and Reindex finishes both moves: the old keys go,
// the new ones keep the writes, the versions and the TTL.
func TestAMoveStoppedBetweenItsStepsLosesNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "mvc"
		plain := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix})
		stored := map[string]QItem{
			"c1": {Name: "apple", Status: "new", Price: 1, Tags: map[string]struct{}{"red": {}}},
			"c2": {Name: "band", Status: "sold", Price: 2, Tags: map[string]struct{}{"blue": {}, "green": {}}},
			"c3": {Name: "a", Status: "new", Price: 3},
		}
		vers := map[string]int64{}
		for id, it := range stored {
			if err := plain.Save(ctx, id, it); err != nil {
				t.Fatal(err)
			}
		}
		if err := plain.Expire(ctx, "c2", time.Hour); err != nil {
			t.Fatal(err)
		}
		for id := range stored {
			_, v, err := plain.GetWithVersion(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			vers[id] = v
		}
		m := rapyer.MustNew[QItem](b.Client, rapyer.Options{Prefix: prefix, Indexes: itemIndexes, Groups: 2})
		crashed := map[string]bool{}
		restore := rapyer.SetMoveCrash(func(id, step string) bool { // once each
			crash := !crashed[id] && ((id == "c1" && step == "copied") || (id == "c2" && step == "read"))
			crashed[id] = crashed[id] || crash
			return crash
		}, 200*time.Millisecond)
		for _, id := range []string{"c1", "c2"} {
			if _, err := m.Get(ctx, id); err == nil {
				t.Fatalf("Get(%s) with a move that crashes: no error", id)
			}
		}
		defer restore()
		// c1 is stored twice: the indexed model reads and writes its copy
		if _, v, err := m.GetWithVersion(ctx, "c1"); err != nil || v != vers["c1"] {
			t.Fatalf("the copy of c1: version %d, %v; want %d", v, err, vers["c1"])
		}
		if _, err := m.Exec(ctx, "c1", tx.Of(ops.VersionIs[QItem](vers["c1"]), ops.Incr(iPrice, 10))); err != nil {
			t.Fatal(err)
		}
		c1 := stored["c1"]
		c1.Price += 10
		stored["c1"] = c1
		// the claims are left: the next mover waits them out (200ms), and
		// takes them over (miniredis expires nothing by itself)
		if got, err := m.Get(ctx, "c2"); err != nil || !itemEq(got, stored["c2"]) {
			t.Fatalf("Get(c2) after a claim was left: %+v, %v", got, err)
		}
		if err := m.Reindex(ctx, nil); err != nil {
			t.Fatal(err)
		}
		checkMoved(t, m, plain, 2, stored, "after the crashes")
		for id, want := range vers {
			_, v, err := m.GetWithVersion(ctx, id)
			if id == "c1" {
				want++ // the Exec
			}
			if err != nil || v != want {
				t.Fatalf("version of %s: %d, %v; want %d", id, v, err, want)
			}
		}
		if d, err := m.TTL(ctx, "c2"); err != nil || d <= 0 || d > time.Hour {
			t.Fatalf("TTL(c2) = %v, %v", d, err)
		}
		for _, k := range []string{prefix + ":{c2}:@moving", prefix + ":{c1}:@moving", prefix + ":{c1}:tags", prefix + ":{c2}:tags"} {
			if n, err := b.Client.Exists(ctx, k).Result(); err != nil || n != 0 {
				t.Fatalf("%s is left: %d, %v", k, n, err)
			}
		}
	})
}
