package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestUpdateManyOfAnIDTwiceAndDropIndexOfNoNameSendNothing: UpdateMany with
// an id given twice (as DeleteMany, SaveMany and LockAll refuse it) and
// DropIndex("") fail with ErrInvalid before any round trip, and decide is
// not called; the model is as it was. On every tier.
func TestUpdateManyOfAnIDTwiceAndDropIndexOfNoNameSendNothing(t *testing.T) {
	balance := lens.Of(func(a *Account) *int { return &a.Balance })
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", HashTag: func(string) string { return "t" }})
		if err := m.Save(ctx, "x", Account{Balance: 5}); err != nil {
			t.Fatal(err)
		}
		ix := newItems(t, b, "drop", rapyer.Options{})
		trips := testenv.CountRoundTrips(b.Client)
		called := false
		for _, ids := range [][]string{{"x", "x"}, {"x", "y", "x"}} {
			_, err := m.UpdateMany(ctx, ids, func(vs []Account) (tx.Batch, error) {
				called = true
				return tx.Of(ops.Incr(balance, 1)), nil
			})
			if !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("UpdateMany(%q): %v; want ErrInvalid", ids, err)
			}
		}
		if err := ix.DropIndex(ctx, ""); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("DropIndex(\"\"): %v; want ErrInvalid", err)
		}
		if n := trips.Count(); n != 0 || called {
			t.Errorf("refused calls sent %s (decide called: %v)", trips, called)
		}
		if a, err := m.Get(ctx, "x"); err != nil || a.Balance != 5 {
			t.Fatalf("x: %+v, %v; want it as it was", a, err)
		}
	})
}

// TestGetManyOfAnIDTwiceSendsNothing: GetMany with an id given twice (next
// to it, far from it, in a list long enough to be checked with a map) fails
// with ErrInvalid naming the id before any round trip, as SaveMany,
// DeleteMany, UpdateMany and LockAll do; before, found held the model
// twice. Ids given once are read as before. On every tier (the cluster
// spreads the ids over its masters).
func TestGetManyOfAnIDTwiceSendsNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		var many []string
		for i := range 40 {
			many = append(many, fmt.Sprintf("id%d", i))
		}
		if err := m.Save(ctx, "id3", Account{Balance: 3}); err != nil {
			t.Fatal(err)
		}
		trips := testenv.CountRoundTrips(b.Client)
		for _, ids := range [][]string{{"id3", "id3"}, {"id3", "x", "id3"}, append(slices.Clone(many), "id3")} {
			found, missing, err := m.GetMany(ctx, ids)
			if !errors.Is(err, rapyer.ErrInvalid) || !strings.Contains(err.Error(), `"id3" is given twice`) || found != nil || missing != nil {
				t.Errorf("GetMany of %d ids, id3 twice: %d found, %d missing, %v; want ErrInvalid naming id3", len(ids), len(found), len(missing), err)
			}
		}
		if n := trips.Count(); n != 0 {
			t.Errorf("refused GetMany sent %s", trips)
		}
		found, missing, err := m.GetMany(ctx, many)
		if err != nil || len(found) != 1 || found[0].ID != "id3" || found[0].Value.Balance != 3 || len(missing) != 39 {
			t.Errorf("GetMany of 40 distinct ids: %v, %d missing, %v; want id3 alone found", found, len(missing), err)
		}
	})
}

// TestDropIndexOfANameNoGroupHoldsIsNotFound: DropIndex of a misspelt name,
// or of an index dropped already, fails with ErrNotFound naming it and
// writes nothing (every @meta as it was); it returned nil, so a typo
// passed for a drop. Dropping an index the model no longer declares still
// works, once. On every tier (the cluster spreads the groups).
func TestDropIndexOfANameNoGroupHoldsIsNotFound(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newItems(t, b, "dropname", rapyer.Options{})
		for i := range 4 {
			if err := m.Save(ctx, fmt.Sprint("i", i), QItem{Name: "n", Status: "new", Price: i}); err != nil {
				t.Fatal(err)
			}
		}
		metas := func() map[string]map[string]string {
			out := map[string]map[string]string{}
			for _, k := range scanSlotKeys(ctx, t, b, b.Prefix+"dropname*@meta") {
				out[k] = b.Client.HGetAll(ctx, k).Val()
			}
			return out
		}
		before := metas()
		if err := m.DropIndex(ctx, "pirce"); !errors.Is(err, rapyer.ErrNotFound) || !strings.Contains(err.Error(), "pirce") {
			t.Errorf("DropIndex(\"pirce\"): %v; want ErrNotFound naming pirce", err)
		}
		if after := metas(); !reflect.DeepEqual(before, after) {
			t.Errorf("DropIndex of an unknown name wrote: @meta %v -> %v", before, after)
		}
		noPrice := slices.DeleteFunc(slices.Clone(itemIndexes), func(s index.Spec) bool { return s.String() == index.On(iPrice).String() })
		old := newItems(t, b, "dropname", rapyer.Options{Indexes: noPrice})
		if err := old.DropIndex(ctx, "price"); err != nil {
			t.Fatalf("DropIndex of an index no longer declared: %v", err)
		}
		if err := old.DropIndex(ctx, "price"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Errorf("DropIndex of an index dropped already: %v; want ErrNotFound", err)
		}
		if n, err := old.Count(ctx, query.Where(is.Equal(iStatus, "new"))); err != nil || n != 4 {
			t.Errorf("the other indexes after the drop: %d, %v; want 4", n, err)
		}
	})
}
