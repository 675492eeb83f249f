package lock

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// BenchmarkPieces splits the cost of an uncontended cycle: the hand-written
// SET NX + token-checked DEL, then the same with this package's acquire
// script or release script swapped in, then the whole Acquire+Release. It
// shows where the difference measured by BenchmarkUncontended comes from.
func BenchmarkPieces(b *testing.B) {
	srv := testenv.StartServer(b)
	rdb := srv.Client(b)
	ctx := context.Background()
	key := "pieces:{x}:lock"
	keys := []string{key, FenceKey(key)}
	handRelease := redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
	pieces := []struct {
		name  string
		cycle func()
	}{
		{"setnx+hand-release", func() {
			tok := newToken()
			rdb.SetNX(ctx, key, tok, 10*time.Second)
			handRelease.Run(ctx, rdb, keys[:1], tok)
		}},
		{"acquire-script+hand-release", func() {
			tok := newToken()
			acquireScript.Run(ctx, rdb, keys, tok, 10000)
			handRelease.Run(ctx, rdb, keys[:1], tok)
		}},
		{"setnx+release-script", func() {
			tok := newToken()
			rdb.SetNX(ctx, key, tok, 10*time.Second)
			releaseScript.Run(ctx, rdb, keys[:1], tok, WakeChannel(key))
		}},
		{"Acquire+Release", func() {
			l, err := Acquire(ctx, rdb, key, Options{})
			if err != nil {
				b.Fatal(err)
			}
			_ = l.Release(ctx)
		}},
	}
	for _, p := range pieces {
		for range 100 {
			p.cycle()
		}
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				p.cycle()
			}
		})
	}
}
