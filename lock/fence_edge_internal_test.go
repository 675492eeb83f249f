package lock

import (
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// TestFencesOfBackToBackCallsIncrease tests the edge of the argument that
// fences never go backwards (see nextfence in lock.lua): that each call
// takes the server more than a microsecond, so that the clock read by the
// next has passed every fence given out. Calls in one MULTI/EXEC run back
// to back, with nothing between them but the commands of the transaction:
// acquire, release, and the fence key deleted (as eviction would), so
// that each fence is the clock's alone, a hundred times in a row.
func TestFencesOfBackToBackCallsIncrease(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := b.Prefix + ":{edge}:lock:x"
		const n = 100
		// loads the scripts where the server has no functions
		_ = lua.AcquireFenced.Run(ctx, b.Client, []any{nil, nil, 1, key, "t", 10000, 70000}).Err()
		_ = lua.Release.Run(ctx, b.Client, []any{nil, nil, 1, key, "t"}).Err()
		fences := make([]*redis.Cmd, n)
		pipe := b.Client.TxPipeline()
		for i := range fences {
			tok := "t" + strconv.Itoa(i)
			fences[i] = lua.AcquireFenced.Queue(ctx, b.Client, pipe, []any{nil, nil, 1, key, tok, 10000, 70000})
			lua.Release.Queue(ctx, b.Client, pipe, []any{nil, nil, 1, key, tok})
			pipe.Del(ctx, FenceKey(key))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var prev int64
		for i, c := range fences {
			f, err := c.Int64()
			if err != nil {
				t.Fatal(err)
			}
			if f <= prev {
				t.Fatalf("call %d of the transaction: fence %d after %d", i, f, prev)
			}
			prev = f
		}
	})
}
