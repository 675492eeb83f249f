package rapyer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestGetWithVersionRefusesAVersionBatchesRefuse: a version field that
// strconv.ParseInt reads but that is no count in canonical text ("+5",
// "007", "-3", "-0": corrupt bookkeeping written by hand) gave GetWithVersion
// a version, and the VersionIs guard made from it could never pass (the
// server compares texts): a read-guard-retry loop spun on ErrPrecondition,
// where every batch on the model fails with ErrCorrupt. GetWithVersion
// says ErrCorrupt too now. On every tier.
func TestGetWithVersionRefusesAVersionBatchesRefuse(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Owner: "a", Balance: 10}); err != nil {
			t.Fatal(err)
		}
		root, _ := m.Key("a")
		for _, raw := range []string{"+5", "007", "-3", "-0"} {
			b.Client.HSet(ctx, root, "__v", raw)
			if _, v, err := m.GetWithVersion(ctx, "a"); !errors.Is(err, rapyer.ErrCorrupt) {
				t.Fatalf("GetWithVersion of a version %q: %d, %v; want ErrCorrupt", raw, v, err)
			}
			if _, err := m.Exec(ctx, "a", tx.Of(ops.Incr(acctBalance, 1))); !errors.Is(err, rapyer.ErrCorrupt) {
				t.Fatalf("a batch on a version %q: %v; want ErrCorrupt", raw, err)
			}
		}
		b.Client.HSet(ctx, root, "__v", "5")
		if _, v, err := m.GetWithVersion(ctx, "a"); err != nil || v != 5 {
			t.Fatalf("GetWithVersion of the version 5: %d, %v", v, err)
		}
	})
}
