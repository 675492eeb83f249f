package rapyer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestReadsWorkOnAFullServer: on a server at its maxmemory (noeviction),
// every read answers: Get, GetWithVersion and GetMany of models with
// collections (their MULTI/EXEC is refused there, so they read through the
// read function, flagged no-writes), Exists, TTL, IDs, and the queries of
// a model without indexes; a query, which may purge expired entries, is
// refused with ErrRefused (it came untyped). Delete, a batch, is refused with ErrRefused and deletes
// nothing (see docs/guarantees.md). Miniredis has no maxmemory: a real
// server only.
func TestReadsWorkOnAFullServer(t *testing.T) {
	srv := testenv.StartServer(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	rdb := srv.Client(t)
	ctx := context.Background()
	want := Account{Owner: "o", Balance: 3, History: []string{"h"}, Limits: map[string]int{"x": 1}, Flags: map[string]struct{}{"f": {}}}
	plain := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: "full"})
	indexed := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: "fulli", Indexes: []index.Spec{index.On(BalanceL)}})
	models := []*rapyer.Model[Account]{plain, indexed}
	for _, m := range models {
		for _, id := range []string{"a", "b"} {
			if err := m.Save(ctx, id, want); err != nil {
				t.Fatal(err)
			}
		}
	}
	fillToOOM(t, rdb)
	for _, m := range models {
		p := m.Prefix()
		if got, err := m.Get(ctx, "a"); err != nil || !equalAccounts(got, want) {
			t.Errorf("%s: Get on a full server: %+v, %v", p, got, err)
		}
		if got, v, err := m.GetWithVersion(ctx, "a"); err != nil || v == 0 || !equalAccounts(got, want) {
			t.Errorf("%s: GetWithVersion on a full server: %+v v%d, %v", p, got, v, err)
		}
		if found, missing, err := m.GetMany(ctx, []string{"a", "b", "c"}); err != nil || len(found) != 2 || len(missing) != 1 {
			t.Errorf("%s: GetMany on a full server: %d found, %v missing, %v", p, len(found), missing, err)
		}
		if ok, err := m.Exists(ctx, "a"); err != nil || !ok {
			t.Errorf("%s: Exists on a full server: %v, %v", p, ok, err)
		}
		n := 0
		for _, err := range plain.IDs(ctx) {
			if err != nil {
				t.Errorf("%s: IDs on a full server: %v", p, err)
				break
			}
			n++
		}
		if n != 2 {
			t.Errorf("%s: IDs on a full server gave %d ids, want 2", p, n)
		}
		if _, err := m.Delete(ctx, "b"); !errors.Is(err, rapyer.ErrRefused) {
			t.Errorf("%s: Delete on a full server: %v, want ErrRefused", p, err)
		}
		if ok, err := m.Exists(ctx, "b"); err != nil || !ok {
			t.Errorf("%s: the model after the refused Delete: exists %v, %v", p, ok, err)
		}
	}
	// A query may purge expired entries (a write): refused there, typed.
	if _, err := indexed.Count(ctx, query.All[Account]()); !errors.Is(err, rapyer.ErrRefused) {
		t.Errorf("Count on a full server: %v, want ErrRefused", err)
	}
}

func equalAccounts(a, b Account) bool {
	if a.Owner != b.Owner || a.Balance != b.Balance || len(a.History) != len(b.History) || len(a.Limits) != len(b.Limits) || len(a.Flags) != len(b.Flags) {
		return false
	}
	for i := range a.History {
		if a.History[i] != b.History[i] {
			return false
		}
	}
	for k, v := range a.Limits {
		if b.Limits[k] != v {
			return false
		}
	}
	for k := range a.Flags {
		if _, ok := b.Flags[k]; !ok {
			return false
		}
	}
	return true
}
