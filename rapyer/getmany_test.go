package rapyer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestGetManyAfterTheLibraryIsLost: on a cluster GetMany reads each model
// with the read function of the library, by FCALL; after FUNCTION FLUSH and
// SCRIPT FLUSH on every master (a restart, a failover to a fresh replica)
// it still reads every model, and a user allowed FCALL but not
// EVALSHA/EVAL can use it.
func TestGetManyAfterTheLibraryIsLost(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "acct"
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: prefix})
		var ids []string
		for i := range 30 {
			id := fmt.Sprintf("a%02d", i)
			ids = append(ids, id)
			if err := m.Save(ctx, id, Account{Owner: id, History: []string{"x"}}); err != nil {
				t.Fatal(err)
			}
		}
		check := func(m *rapyer.Model[Account], what string) {
			t.Helper()
			found, missing, err := m.GetMany(ctx, append(slices.Clone(ids), "nobody"))
			if err != nil || len(found) != len(ids) || !slices.Equal(missing, []string{"nobody"}) {
				t.Fatalf("%s: GetMany found %d, missing %v, %v", what, len(found), missing, err)
			}
			for i, e := range found {
				if a := e.Value; e.ID != ids[i] || a.Owner != ids[i] || len(a.History) != 1 {
					t.Fatalf("%s: model %d is %+v", what, i, e)
				}
			}
		}
		check(m, "first")
		for round := range 2 {
			if err := testenv.FlushLua(ctx, b.Client); err != nil {
				t.Fatal(err)
			}
			check(m, fmt.Sprintf("after flush %d", round+1))
		}
		if b.Kind != testenv.Cluster {
			return
		}
		rt := testenv.CountRoundTrips(b.Client)
		check(m, "steady")
		for _, c := range rt.Commands() {
			if c != "fcall" {
				t.Fatalf("GetMany on a cluster sent %v, want FCALL only", rt.Commands())
			}
		}
		app := b.NewUser(t, "~"+prefix+":*", "+fcall", "+function|load", "+cluster|slots", "+command", "+hgetall", "+lrange", "+smembers")
		if err := testenv.FlushLua(ctx, b.Client); err != nil {
			t.Fatal(err)
		}
		check(rapyer.MustNew[Account](app, rapyer.Options{Prefix: prefix}), "as a user without EVALSHA and EVAL")
	})
}
