package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// hostileText is a text that looks like RESP, or is binary, or is large.
func hostileText(r *rand.Rand, i int) string {
	switch i % 6 {
	case 0:
		return "\r\n$3\r\nabc\r\n*2\r\n%1\r\n-ERR x\r\n"
	case 1:
		b := make([]byte, r.IntN(64))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		return string(b)
	case 2:
		return strings.Repeat("\x00\r\n", 1<<18) // 768 KiB
	case 3:
		return ""
	case 4:
		return "__v"
	}
	return fmt.Sprint(r.Int64())
}

// TestInPlaceGetOfHostileHashes: the in-place read of HGETALL, over RESP2
// and RESP3, reads back texts that look like RESP, binary, empty and large
// values exactly, ignores stray fields of any name (binary ones, one named
// like a model field with a suffix), and types what does not decode: a
// count that is no number is ErrCorrupt, a root of another type
// ErrWrongType, a root without a version ErrNotFound; on every tier.
func TestInPlaceGetOfHostileHashes(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		for _, proto := range []int{2, 3} {
			rdb := b.NewClient(t, func(o *redis.UniversalOptions) { o.Protocol = proto })
			m := rapyer.MustNew[Item](rdb, rapyer.Options{Prefix: fmt.Sprint(b.Prefix, "hostile", proto)})
			for i := range 12 {
				id := fmt.Sprint("h", i)
				root, _ := m.Key(id)
				sku, stray := hostileText(r, i), hostileText(r, i+1)
				b.Client.HSet(ctx, root, "__v", "7", "sku", sku, "qty", "3", stray, "x", "sku2", "y", "price", "0.5")
				got, err := m.Get(ctx, id)
				if err != nil || got.SKU != sku || got.Qty != 3 || got.Price != 0.5 {
					t.Fatalf("RESP%d, hash %d: read %q %d %v, %v; stored %q 3 0.5", proto, i, got.SKU, got.Qty, got.Price, err, sku)
				}
			}
			bad := func(what string, want error, set func(root string)) {
				t.Helper()
				root, _ := m.Key("bad")
				b.Client.Del(ctx, root)
				set(root)
				if _, err := m.Get(ctx, "bad"); !errors.Is(err, want) {
					t.Fatalf("RESP%d, %s: Get %v; want %v", proto, what, err, want)
				}
			}
			bad("a count that is no number", rapyer.ErrCorrupt, func(root string) { b.Client.HSet(ctx, root, "__v", "1", "qty", "\r\n") })
			bad("a list at the root", rapyer.ErrWrongType, func(root string) { b.Client.RPush(ctx, root, "__v", "1") })
			bad("a string at the root", rapyer.ErrWrongType, func(root string) { b.Client.Set(ctx, root, "*2\r\n$3\r\n__v\r\n$1\r\n1\r\n", 0) })
			bad("no version", rapyer.ErrNotFound, func(root string) { b.Client.HSet(ctx, root, "sku", "s", "__v2", "1") })
		}
	})
}
