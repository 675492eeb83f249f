package ops_test

import (
	"context"
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
// value and the batch's ops, on every tier. (A batch of plain ops with
// tx.MustBeNew still keeps them: its program names no collection keys.)
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
