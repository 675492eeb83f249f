package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// sameTag puts every model in one hash slot.
func sameTag(string) string { return "all" }

// TestSaveManyIsOneAtomicBatch: SaveMany of models that share a slot is
// one round trip, and all or nothing: a collection key of another type on
// one model fails the batch and writes none of the others.
func TestSaveManyIsOneAtomicBatch(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "many", HashTag: sameTag})
		var batch []rapyer.Entry[Account]
		for i := range 5 {
			id := fmt.Sprintf("a%d", i)
			batch = append(batch, rapyer.Entry[Account]{ID: id, Value: Account{Owner: id, Balance: i, History: []string{"x"}}})
		}
		if err := m.Save(ctx, "warm", Account{}); err != nil { // loads the library
			t.Fatal(err)
		}
		rt := testenv.CountRoundTrips(m.Client())
		if err := m.SaveMany(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if n := rt.Count(); n != 1 {
			t.Fatalf("SaveMany of 5 took %d round trips: %s", n, rt)
		}
		ids := []string{"a0", "a1", "a2", "a3", "a4"}
		found, _, err := m.GetMany(ctx, ids)
		if err != nil || len(found) != 5 || found[3].Value.Balance != 3 {
			t.Fatalf("GetMany after SaveMany: %+v, %v", found, err)
		}
		// a1's Limits key holds a string: the batch must refuse it.
		ks, _ := m.Keys("a1")
		if err := b.Client.Set(ctx, ks[2], "junk", 0).Err(); err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			batch[i].Value.Balance = 100 + i
			batch[i].Value.Limits = map[string]int{"d": 1}
		}
		if err := m.SaveMany(ctx, batch); !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("SaveMany over a planted string = %v, want ErrWrongType", err)
		}
		a0, err := m.Get(ctx, "a0")
		if err != nil || a0.Balance != 0 {
			t.Fatalf("a failed SaveMany wrote a0: %+v, %v", a0, err)
		}
		if err := m.SaveMany(ctx, batch[:2:2]); !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatal(err)
		}
		if err := m.SaveMany(ctx, append(batch[:1:1], batch[0])); !errors.Is(err, rapyer.ErrInvalid) {
			t.Fatalf("SaveMany with an id twice = %v, want ErrInvalid", err)
		}
	})
}

// TestManyAcrossSlots: without a shared tag, on a cluster, the models span
// slots; SaveMany, InsertMany and DeleteMany still work (one batch per
// slot).
func TestManyAcrossSlots(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "spread"})
		var batch []rapyer.Entry[Account]
		var ids []string
		for i := range 20 {
			id := fmt.Sprintf("s%d", i)
			ids = append(ids, id)
			batch = append(batch, rapyer.Entry[Account]{ID: id, Value: Account{Owner: id, Flags: map[string]struct{}{"f": {}}}})
		}
		if err := m.SaveMany(ctx, batch); err != nil {
			t.Fatal(err)
		}
		newIDs, err := m.InsertMany(ctx, Account{Owner: "x"}, Account{Owner: "y"}, Account{Owner: "z"})
		if err != nil || len(newIDs) != 3 {
			t.Fatal(newIDs, err)
		}
		found, missing, err := m.GetMany(ctx, append(slices.Clone(ids), newIDs...))
		if err != nil || len(found) != 23 || len(missing) != 0 || found[21].Value.Owner != "y" {
			t.Fatalf("found %d, missing %v, %v", len(found), missing, err)
		}
		gone, err := m.DeleteMany(ctx, append(slices.Clone(ids), "nobody", newIDs[0])...)
		if err != nil || !slices.Equal(gone, append(slices.Clone(ids), newIDs[0])) {
			t.Fatalf("DeleteMany = %v, %v", gone, err)
		}
		found, _, err = m.GetMany(ctx, append(slices.Clone(ids), newIDs...))
		if err != nil || len(found) != 2 {
			t.Fatalf("after DeleteMany %d remain, want 2 (%v)", len(found), err)
		}
		for _, id := range ids {
			ks, _ := m.Keys(id)
			if n, _ := b.Client.Exists(ctx, ks...).Result(); n != 0 {
				t.Fatalf("DeleteMany left %d keys of %s", n, id)
			}
		}
	})
}

// TestDeleteManyRoundTrips: when every model exists DeleteMany is one
// round trip; with one missing it still deletes the others, atomically.
func TestDeleteManyRoundTrips(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "del", HashTag: sameTag})
		ids, err := m.InsertMany(ctx, Account{Owner: "a"}, Account{Owner: "b"}, Account{Owner: "c"})
		if err != nil {
			t.Fatal(err)
		}
		rt := testenv.CountRoundTrips(m.Client())
		gone, err := m.DeleteMany(ctx, ids[:2]...)
		if err != nil || len(gone) != 2 || rt.Count() != 1 {
			t.Fatalf("DeleteMany = %v, %v in %d round trips", gone, err, rt.Count())
		}
		gone, err = m.DeleteMany(ctx, ids...)
		if err != nil || !slices.Equal(gone, ids[2:]) {
			t.Fatalf("DeleteMany with two missing = %v, %v", gone, err)
		}
		if ok, _ := m.Exists(ctx, ids[2]); ok {
			t.Fatal("DeleteMany left the model that existed")
		}
	})
}
