package tx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// TestSaveOfAValueOverRedisLimit: a Save (the direct path, and the
// interpreter's for a model with collections) of a field longer than the
// 512 MB Redis stores in one value fails with ErrTooLarge before anything
// is sent: no round trip, the stored model as it was. Before, the server
// cut the connection while the request was written, and the caller got
// ErrUnknownOutcome after resends of the whole value.
func TestSaveOfAValueOverRedisLimit(t *testing.T) {
	huge := strings.Repeat("x", 512<<20+1)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		nest := rapyer.MustNew[Nest](b.Client, rapyer.Options{Prefix: b.Prefix + "huge"})
		acct := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "hugeacct"})
		if err := nest.Save(ctx, "n", Nest{Name: "small"}); err != nil {
			t.Fatal(err)
		}
		count := testenv.CountRoundTrips(b.Client)
		_, err := tx.Exec(ctx, b.Client, tx.On(nest.Target("n"), ops.Replace(Nest{Name: huge})), tx.Options{})
		if !errors.Is(err, rapyer.ErrTooLarge) {
			t.Fatalf("a direct Save of a value over 512 MB: %v; want ErrTooLarge", err)
		}
		_, err = tx.Exec(ctx, b.Client, tx.On(acct.Target("a"), ops.Replace(Account{Owner: huge})), tx.Options{})
		if !errors.Is(err, rapyer.ErrTooLarge) {
			t.Fatalf("a Save of a model with collections, of a value over 512 MB: %v; want ErrTooLarge", err)
		}
		if n := count.Count(); n != 0 {
			t.Fatalf("%d round trips for Saves refused before sending: %s", n, count)
		}
		if got, err := nest.Get(ctx, "n"); err != nil || got.Name != "small" {
			t.Fatalf("the stored model after the refusal: %+v, %v", got, err)
		}
	})
}
