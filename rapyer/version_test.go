package rapyer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

var acctBalance = lens.Of(func(a *Account) *int { return &a.Balance })

// TestGetWithVersion: one round trip gives the value and the version it was
// read at; a VersionIs guard with it passes until the next write, and fails
// after it; every write changes the version.
func TestGetWithVersion(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if _, _, err := m.GetWithVersion(ctx, "none"); !errors.Is(err, rapyer.ErrNotFound) {
			t.Fatalf("missing model: %v, want ErrNotFound", err)
		}
		if _, _, err := m.GetWithVersion(ctx, "a{b"); !errors.Is(err, rapyer.ErrInvalidID) {
			t.Fatalf("bad id: %v, want ErrInvalidID", err)
		}
		if err := m.Save(ctx, "a", Account{Owner: "a", Balance: 10, History: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
		rt := testenv.CountRoundTrips(m.Client())
		a, v1, err := m.GetWithVersion(ctx, "a")
		if err != nil || a.Owner != "a" || a.Balance != 10 || len(a.History) != 1 {
			t.Fatalf("GetWithVersion: %+v, %v", a, err)
		}
		if rt.Count() != 1 {
			t.Fatalf("GetWithVersion took %s, want one", rt)
		}
		// The version is the one the model holds (read it back, do not
		// assume how versions are numbered).
		root, _ := m.Key("a")
		if raw := b.Client.HGet(ctx, root, "__v").Val(); raw == "" {
			t.Fatal("no version field")
		}
		if _, err := m.Exec(ctx, "a", tx.Of(ops.VersionIs[Account](v1), ops.Incr(acctBalance, 5))); err != nil {
			t.Fatalf("a batch guarded by the version just read: %v", err)
		}
		if _, err := m.Exec(ctx, "a", tx.Of(ops.VersionIs[Account](v1), ops.Incr(acctBalance, 5))); !errors.Is(err, rapyer.ErrPrecondition) {
			t.Fatalf("a batch guarded by a version older than a write: %v, want ErrPrecondition", err)
		}
		a, v2, err := m.GetWithVersion(ctx, "a")
		if err != nil || a.Balance != 15 || v2 == v1 {
			t.Fatalf("after one write: %+v at %d (before %d), %v", a, v2, v1, err)
		}
		if err := m.Save(ctx, "a", a); err != nil {
			t.Fatal(err)
		}
		if _, v3, err := m.GetWithVersion(ctx, "a"); err != nil || v3 == v2 {
			t.Fatalf("after a save: version %d (before %d), %v", v3, v2, err)
		}

		// A version field that is not a number is corrupt data.
		b.Client.HSet(ctx, root, "__v", "abc")
		if _, _, err := m.GetWithVersion(ctx, "a"); !errors.Is(err, rapyer.ErrCorrupt) {
			t.Fatalf("corrupt version: %v, want ErrCorrupt", err)
		}
	})
}
