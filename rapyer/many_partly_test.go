package rapyer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestManyAcrossSlotsSaysWhenPartlyApplied: on a cluster, SaveMany and
// InsertMany write one atomic batch per slot. When one slot's batch fails
// after another slot's was written, the error must wrap
// rapyer.ErrPartlyApplied (and the slot's own cause), and InsertMany must
// hand back the ids it did store: before, InsertMany returned no ids and a
// bare error (ErrExists, or ErrNotSent for a context that ended), so its
// stored models were orphans under ids nobody knew, and a caller who
// retried inserted them twice. On one server each call is one batch: all
// or nothing, never ErrPartlyApplied.
func TestManyAcrossSlotsSaysWhenPartlyApplied(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		next := []string{"n1", "n2"} // {n1} and {n2}: two slots
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", NewID: func() string {
			id := next[0]
			next = next[1:]
			return id
		}})
		cluster := b.Kind == testenv.Cluster

		// InsertMany: n2 exists already, n1 is new
		if err := m.Save(ctx, "n2", Account{Owner: "old"}); err != nil {
			t.Fatal(err)
		}
		ids, err := m.InsertMany(ctx, Account{Owner: "first"}, Account{Owner: "second"})
		if !errors.Is(err, rapyer.ErrExists) {
			t.Fatalf("InsertMany over an existing id: %v, want ErrExists", err)
		}
		_, gerr := m.Get(ctx, "n1")
		stored := gerr == nil
		if cluster != stored {
			t.Fatalf("cluster %v: n1 stored %v (%v)", cluster, stored, gerr)
		}
		if stored && (!errors.Is(err, rapyer.ErrPartlyApplied) || len(ids) != 2 || ids[0] != "n1" || ids[1] != "") {
			t.Fatalf("InsertMany stored n1 and failed n2, yet returned %q, %v: want [n1 \"\"] and ErrPartlyApplied", ids, err)
		}
		if !stored && errors.Is(err, rapyer.ErrPartlyApplied) {
			t.Fatalf("nothing stored, yet %v", err)
		}
		if got, _ := m.Get(ctx, "n2"); got.Owner != "old" {
			t.Fatalf("the existing model was overwritten: %+v", got)
		}

		// SaveMany: the history key of "b" holds a string, "a" is fine
		ks, _ := m.Keys("b")
		if err := b.Client.Set(ctx, ks[1], "not a list", 0).Err(); err != nil {
			t.Fatal(err)
		}
		err = m.SaveMany(ctx, []rapyer.Entry[Account]{
			{ID: "a", Value: Account{Owner: "a", History: []string{"x"}}},
			{ID: "b", Value: Account{Owner: "b", History: []string{"y"}}},
		})
		if !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("SaveMany over a key of the wrong type: %v, want ErrWrongType", err)
		}
		_, gerr = m.Get(ctx, "a")
		stored = gerr == nil
		if cluster != stored {
			t.Fatalf("cluster %v: a stored %v (%v)", cluster, stored, gerr)
		}
		if stored != errors.Is(err, rapyer.ErrPartlyApplied) {
			t.Fatalf("a stored %v, b failed, and the error %v", stored, err)
		}
	})
}
