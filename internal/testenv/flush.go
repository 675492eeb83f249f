package testenv

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// FlushLua empties the server's script cache and drops its function
// libraries (every master of a cluster), as a restart or a failover to a
// server without them would: the next batch finds neither. miniredis has no
// functions; only its scripts are flushed.
func FlushLua(ctx context.Context, c redis.UniversalClient) error {
	flush := func(ctx context.Context, n redis.Cmdable) error {
		if err := n.ScriptFlush(ctx).Err(); err != nil {
			return err
		}
		if err := n.FunctionFlush(ctx).Err(); err != nil && !redis.HasErrorPrefix(err, "unknown command") {
			return err
		}
		return nil
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return flush(ctx, n) })
	}
	return flush(ctx, c)
}
