package testenv

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Counter counts the network round trips of a client; see [CountRoundTrips].
// It is safe for concurrent use.
type Counter struct {
	mu    sync.Mutex
	n     int64
	names []string

	hooked sync.Map // *redis.Client -> struct{}: node clients already counted
}

// CountRoundTrips installs a go-redis hook on c and returns the Counter it
// feeds, starting at zero. It counts one round trip per single command and one
// per pipeline or MULTI/EXEC transaction sent, at the moment it is sent.
//
// On a *redis.ClusterClient it counts at the node level: the hook goes on every
// node client, existing ones (it loads the cluster topology to find them, and
// panics if it cannot) and those the client creates later. So a MOVED or ASK
// redirect counts as the extra round trip it is, and a pipeline split over
// three nodes counts three.
//
// Not counted: retries of go-redis after a network error (the hook sits above
// them: one command is one round trip, however often it is resent), and round
// trips made only of commands go-redis sends on its own at times of its
// choosing: the handshake of a new connection (HELLO, AUTH, SELECT, READONLY,
// CLIENT SETINFO/SETNAME/TRACKING/MAINT_NOTIFICATIONS) and a cluster client's
// look-ups of the topology and command table (CLUSTER SLOTS/SHARDS/NODES,
// COMMAND). The test's own round trips never consist of those alone.
//
// A hook cannot be removed from a go-redis client; count on a client made for
// the test.
func CountRoundTrips(c redis.UniversalClient) *Counter {
	ctr := &Counter{}
	switch c := c.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(ctr.hookNode)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		err := c.ForEachShard(ctx, func(_ context.Context, node *redis.Client) error {
			ctr.hookNode(node)
			return nil
		})
		if err != nil {
			panic(fmt.Sprintf("testenv.CountRoundTrips: cannot reach the cluster to hook its nodes: %v", err))
		}
	default:
		c.AddHook(ctr)
	}
	ctr.Reset()
	return ctr
}

// hookNode installs the counter on a node client once.
func (c *Counter) hookNode(node *redis.Client) {
	if _, dup := c.hooked.LoadOrStore(node, struct{}{}); !dup {
		node.AddHook(c)
	}
}

// Count returns the round trips since the counter was made or last reset.
func (c *Counter) Count() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Reset sets the count to zero and forgets the commands.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = 0
	c.names = nil
}

// Commands returns the lower-case names of the commands sent since the last
// reset, in the order they were sent ("evalsha", "multi", "set", "exec"). A
// pipeline contributes all its commands.
func (c *Counter) Commands() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names...)
}

// String describes the count and the commands, for failure messages.
func (c *Counter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d round trips: %s", c.n, strings.Join(c.names, " "))
}

// record counts one round trip carrying cmds, unless every one of them is
// the client's own machinery.
func (c *Counter) record(cmds []redis.Cmder) {
	if !slices.ContainsFunc(cmds, func(cmd redis.Cmder) bool { return !isMachinery(cmd) }) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	for _, cmd := range cmds {
		c.names = append(c.names, cmd.Name())
	}
}

// isMachinery reports whether cmd is one go-redis sends on its own: the
// handshake of a new connection (HELLO, AUTH, SELECT, READONLY, CLIENT
// SETINFO/SETNAME/TRACKING/MAINT_NOTIFICATIONS, which go-redis routes through
// the hooks too) or a cluster client's look-up of the topology or the command
// table (CLUSTER SLOTS/SHARDS/NODES, COMMAND).
func isMachinery(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "auth", "select", "readonly", "command":
		return true
	case "client":
		switch subcommand(cmd) {
		case "setinfo", "setname", "tracking", "maint_notifications":
			return true
		}
	case "cluster":
		switch subcommand(cmd) {
		case "slots", "shards", "nodes":
			return true
		}
	}
	return false
}

func subcommand(cmd redis.Cmder) string {
	args := cmd.Args()
	if len(args) < 2 {
		return ""
	}
	sub, _ := args[1].(string)
	return strings.ToLower(sub)
}

// DialHook implements redis.Hook; dialing is not counted.
func (c *Counter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook: one command, one round trip.
func (c *Counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.record([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook: one pipeline or transaction,
// one round trip.
func (c *Counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.record(cmds)
		return next(ctx, cmds)
	}
}
