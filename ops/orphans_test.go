package ops_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestACreatedModelStartsEmpty: a model whose root is gone while its
// collection keys stay (the root evicted under an allkeys or volatile
// policy, or deleted by hand) is missing, and a batch that creates it
// (CreateIfMissing) made a model holding the old lists, maps and sets:
// Get read them back, a guard on a collection of the value just created
// saw them, and a collection key the batch wrote kept no TTL of the model.
// Save and Create always started empty. Now the created model is its
// value and the batch's ops, on every tier (for tx.MustBeNew, see
// TestANewModelOfPlainOpsStartsEmpty).
func TestACreatedModelStartsEmpty(t *testing.T) {
	stale := Acct{Owner: "old", History: []string{"stale"}, Limits: map[string]int{"s": 1}, Flags: set("f")}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[Acct](b.Client, rapyer.Options{Prefix: b.Prefix + "orph", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		orphan := func(id string) {
			t.Helper()
			save(t, m, id, stale)
			k, _ := m.Key(id)
			b.Client.Del(ctx, k) // the root evicted
		}
		check := func(id string, want Acct) {
			t.Helper()
			got, err := m.Get(ctx, id)
			if err != nil || !cmp.Equal(want, got, strict) {
				t.Fatalf("%s after the create: %v (-want +got):\n%s", id, err, cmp.Diff(want, got, strict))
			}
			ks, _ := m.Keys(id)
			for _, k := range ks {
				if ttl := b.Client.PTTL(ctx, k).Val(); ttl == -1 {
					t.Fatalf("%s: the key %s of a model with a TTL has none", id, k)
				}
			}
		}
		orphan("a")
		has := ops.Check(is.Element(History, "stale"))
		res, err := m.Exec(ctx, "a", tx.Of(ops.CreateIfMissing(Acct{Owner: "new"}),
			ops.Require(is.Equal(is.Len(History), 0)), ops.Require(is.Not(is.Key(Limits, "s"))), has,
			ops.Append(History, "h"), ops.SetItem(Limits, "n", 2)))
		if err != nil {
			t.Fatalf("CreateIfMissing over the orphans: %v", err)
		}
		if found, _ := has.Result(res); found {
			t.Fatal("Check(Element(history, stale)) found the orphan's element")
		}
		check("a", Acct{Owner: "new", History: []string{"h"}, Limits: map[string]int{"n": 2}})
	})
}

// TestANewModelOfPlainOpsStartsEmpty: a batch of plain ops with
// tx.MustBeNew over collection keys left without their root made a model
// holding the old lists, maps and sets (its program named no collection
// keys, so batch.lua had none to drop): Get read them back, a guard saw
// them, and a key kept its TTL where the new root had none. Now the new model is the
// batch's ops alone, on every tier, for a batch the compiled shapes take
// (an Append and an HSET) and one they leave to the interpreter.
func TestANewModelOfPlainOpsStartsEmpty(t *testing.T) {
	stale := Acct{Owner: "old", History: []string{"stale"}, Limits: map[string]int{"s": 1}, Flags: set("f")}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[Acct](b.Client, rapyer.Options{Prefix: b.Prefix + "orphnew", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		fresh := func(c *rapyer.Call) { c.Exec.IfMissing = tx.MustBeNew }
		for i, c := range []struct {
			batch tx.Batch
			want  Acct
		}{
			{tx.Of(ops.Set(Owner, "new"), ops.Append(History, "h")), Acct{Owner: "new", History: []string{"h"}}},
			{tx.Of(ops.Set(Owner, "new")), Acct{Owner: "new"}},
			{tx.Of(ops.Require(is.Equal(is.Len(History), 0)), ops.Require(is.Not(is.Key(Limits, "s"))),
				ops.Set(Owner, "new"), ops.SetItem(Limits, "n", 2)), Acct{Owner: "new", Limits: map[string]int{"n": 2}}},
		} {
			id := fmt.Sprint("n", i)
			save(t, m, id, stale)
			k, _ := m.Key(id)
			b.Client.Del(ctx, k) // the root evicted
			if _, err := m.Exec(ctx, id, c.batch, fresh); err != nil {
				t.Fatalf("batch %d with MustBeNew over the orphans: %v", i, err)
			}
			got, err := m.Get(ctx, id)
			if err != nil || !cmp.Equal(c.want, got, strict) {
				t.Fatalf("batch %d: %v (-want +got):\n%s", i, err, cmp.Diff(c.want, got, strict))
			}
			// every key has a TTL exactly when the root has one
			ks, _ := m.Keys(id)
			lasts := b.Client.PTTL(ctx, k).Val() != -1
			for _, x := range ks {
				if b.Client.Exists(ctx, x).Val() == 1 && (b.Client.PTTL(ctx, x).Val() != -1) != lasts {
					t.Fatalf("batch %d: the key %s has a TTL: %v, the root: %v", i, x, !lasts, lasts)
				}
			}
		}
	})
}
