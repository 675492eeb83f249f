package tx

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
)

type idWallet struct{ Balance int64 }

var idWalletBalance = lens.Of(func(w *idWallet) *int64 { return &w.Balance })

// TestBuildIDAndRecord: build makes the batch id and its record key as one
// string; the key is still keys.Tx of the root and the id, the id 96 random
// bits in 16 characters, a fresh one every batch, and a batch without a
// record still has an id.
func TestBuildIDAndRecord(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer rdb.Close()
	b := Of(ops.Set(idWalletBalance, 5)).On(At[idWallet]("w:{7}"))
	seen := map[string]bool{}
	for _, life := range []time.Duration{0, time.Second, NoRecord} {
		for range 20 {
			p, err := build(mustCompile(b, Options{}), rdb, Options{Record: life})
			if err != nil {
				t.Fatal(err)
			}
			id, _ := p.Argv[0].(string)
			if raw, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(raw) != batchIDBytes || len(id) != 16 {
				t.Fatalf("id %q", id)
			}
			if seen[id] {
				t.Fatalf("id %q twice", id)
			}
			seen[id] = true
			want := keys.Tx("w:{7}", id)
			if life < 0 {
				want = ""
			}
			if p.Record() != want {
				t.Fatalf("record %q, want %q", p.Record(), want)
			}
		}
	}
}
