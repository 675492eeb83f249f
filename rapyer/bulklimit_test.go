package rapyer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestDirectSaveOverTheServersBulkLimit: a Save (the direct path) whose
// value is longer than the server's proto-max-bulk-len, lowered to 1 MB
// (below the 512 MB the library checks itself), fails with a typed error
// (the server cuts the connection while reading it: ErrUnknownOutcome)
// and writes nothing: the stored model keeps its value and version, no new
// model is made; the client goes on working after it.
func TestDirectSaveOverTheServersBulkLimit(t *testing.T) {
	srv := testenv.StartServer(t, "--proto-max-bulk-len", "1mb")
	rdb := srv.Client(t)
	ctx := context.Background()
	m := rapyer.MustNew[Item](rdb, rapyer.Options{Prefix: "bulk"})
	if err := m.Save(ctx, "old", Item{SKU: "old"}); err != nil {
		t.Fatal(err)
	}
	_, ver, _ := m.GetWithVersion(ctx, "old")
	huge := strings.Repeat("x", 2<<20)
	for _, id := range []string{"old", "new"} {
		err := m.Save(ctx, id, Item{SKU: huge})
		if !errors.Is(err, rapyer.ErrRefused) && !errors.Is(err, rapyer.ErrUnknownOutcome) {
			t.Fatalf("Save of %s with a value over the bulk limit: %v; want a typed error", id, err)
		}
	}
	got, gver, err := m.GetWithVersion(ctx, "old")
	if err != nil || got.SKU != "old" || gver != ver {
		t.Fatalf("the stored model after the refusals: %+v v%d, %v; was v%d", got, gver, err, ver)
	}
	if ok, err := m.Exists(ctx, "new"); ok || err != nil {
		t.Fatalf("the refused Save of a new model: exists %v, %v", ok, err)
	}
	if ks := rdb.Keys(ctx, "bulk:*").Val(); len(ks) != 1 {
		t.Fatalf("model keys after the refusals: %v, want the one model", ks)
	}
	if err := m.Save(ctx, "old", Item{SKU: "after"}); err != nil {
		t.Fatalf("a Save after the refusals: %v", err)
	}
}
