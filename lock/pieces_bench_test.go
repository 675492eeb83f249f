package lock

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/random"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// BenchmarkPieces splits the cost of an uncontended cycle: the hand-written
// SET NX + token-checked DEL, then the same with this package's acquire
// or release entry swapped in, then the whole Acquire+Release. It
// shows where the difference measured by BenchmarkUncontended comes from.
func BenchmarkPieces(b *testing.B) {
	srv := testenv.StartServer(b)
	rdb := srv.Client(b)
	ctx := context.Background()
	key := "pieces:{x}:lock"
	keys := []string{key}
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
			tok := random.Hex(16)
			rdb.SetNX(ctx, key, tok, 10*time.Second)
			handRelease.Run(ctx, rdb, keys[:1], tok)
		}},
		{"acquire-entry+hand-release", func() {
			tok := random.Hex(16)
			lua.Acquire.Run(ctx, rdb, script.Command([]string{key}, tok, 10000, 70000))
			handRelease.Run(ctx, rdb, keys[:1], tok)
		}},
		{"setnx+release-entry", func() {
			tok := random.Hex(16)
			rdb.SetNX(ctx, key, tok, 10*time.Second)
			lua.Release.Run(ctx, rdb, script.Command([]string{key}, tok))
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
