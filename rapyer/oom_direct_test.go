package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestDirectSaveAndLockOutOfMemory: on a server at its maxmemory with
// noeviction, a Save by the direct path (of a new model and over a stored
// one) and a Model.Lock fail with ErrRefused and write nothing: the stored
// model keeps its value and version, no new model, batch record or lock
// key is left; once memory is freed, the same calls succeed.
func TestDirectSaveAndLockOutOfMemory(t *testing.T) {
	srv := testenv.StartServer(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	rdb := srv.Client(t)
	ctx := context.Background()
	m := rapyer.MustNew[Item](rdb, rapyer.Options{Prefix: "oom"})
	if err := m.Save(ctx, "old", Item{SKU: "old", Qty: 1}); err != nil {
		t.Fatal(err)
	}
	_, ver, err := m.GetWithVersion(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	keysBefore := rdb.DBSize(ctx).Val()
	fill := fillToOOM(t, rdb)
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, rapyer.ErrRefused) {
			t.Fatalf("%s on a full server: %v; want ErrRefused", what, err)
		}
	}
	refused("Save over a stored model", m.Save(ctx, "old", Item{SKU: "new", Qty: 2}))
	refused("Save of a new model", m.Save(ctx, "new", Item{SKU: "n"}))
	_, err = m.Lock(ctx, "old", "a", func(_ context.Context, v *Item) error { v.Qty = 9; return nil })
	refused("Lock", err)
	got, gver, err := m.GetWithVersion(ctx, "old")
	if err != nil || got != (Item{SKU: "old", Qty: 1}) || gver != ver {
		t.Fatalf("the stored model after the refusals: %+v v%d, %v; was v%d", got, gver, err, ver)
	}
	if n := rdb.DBSize(ctx).Val() - fill; n != keysBefore {
		t.Fatalf("%d keys besides the filling after the refusals, %d before", n, keysBefore)
	}
	rdb.FlushDB(ctx)
	if err := m.Save(ctx, "old", Item{SKU: "new", Qty: 2}); err != nil {
		t.Fatalf("Save once memory is freed: %v", err)
	}
	if _, err := m.Lock(ctx, "old", "a", func(_ context.Context, v *Item) error { v.Qty = 9; return nil }); err != nil {
		t.Fatalf("Lock once memory is freed: %v", err)
	}
}

// fillToOOM writes values until the server refuses them with OOM (64 KiB
// ones, then 1 KiB, then 16 bytes) and returns how many keys it wrote.
func fillToOOM(t *testing.T, rdb redis.UniversalClient) int64 {
	t.Helper()
	ctx := context.Background()
	var n int64
	for _, size := range []int{64 << 10, 1 << 10, 16} {
		value := strings.Repeat("x", size)
		for i := 0; ; i++ {
			if i == 100000 {
				t.Fatalf("the server never refused a value of %d bytes", size)
			}
			err := rdb.Set(ctx, fmt.Sprintf("fill:%d:%d", size, i), value, 0).Err()
			if err == nil {
				n++
				continue
			}
			if !strings.HasPrefix(err.Error(), "OOM") {
				t.Fatalf("filling: %v", err)
			}
			break
		}
	}
	return n
}
