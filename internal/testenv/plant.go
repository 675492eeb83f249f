package testenv

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Plant turns key k into what plant names, behind the library's back, as
// a corrupt or hostile key: "list", "hash", "set" or "zset" make it a key of
// that Redis type with one member; any other plant makes it a string
// holding plant itself (text the library did not write). Errors are
// ignored: a test checks what the library does with the key.
func Plant(ctx context.Context, rdb redis.UniversalClient, k, plant string) {
	rdb.Del(ctx, k)
	switch plant {
	case "list":
		rdb.RPush(ctx, k, "x")
	case "hash":
		rdb.HSet(ctx, k, "a", "b")
	case "set":
		rdb.SAdd(ctx, k, "x")
	case "zset":
		rdb.ZAdd(ctx, k, redis.Z{Member: "x"})
	default:
		rdb.Set(ctx, k, plant, 0)
	}
}
