package lock_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// loseReply is a go-redis hook that lets the first `fail` requests through to
// the server and then replaces their replies with io.EOF, as if the
// connection broke after the server applied them. It sits above go-redis'
// own retries, so the loss is final.
type loseReply struct {
	fail  atomic.Int64
	fence atomic.Int64 // the fence of the last acquisition whose reply was lost
}

// isEntry tells the calls of the lock's Lua: FCALL, or EVALSHA where the
// server has no functions.
func isEntry(cmd redis.Cmder) bool { return cmd.Name() == "fcall" || cmd.Name() == "evalsha" }

// record keeps the fence of an acquisition reply before it is lost: the
// acquire entry replies with the fence (above 0) when it took the lock.
func (h *loseReply) record(cmd redis.Cmder) {
	if c, ok := cmd.(*redis.Cmd); ok && isEntry(cmd) {
		if f, err := c.Int64(); err == nil && f > 0 {
			h.fence.Store(f)
		}
	}
}

func (h *loseReply) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *loseReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if isEntry(cmd) && h.fail.Add(-1) >= 0 {
			h.record(cmd)
			cmd.SetErr(io.EOF)
			return io.EOF
		}
		return err
	}
}

func (h *loseReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if h.fail.Add(-1) >= 0 {
			for _, c := range cmds {
				h.record(c)
			}
			for _, c := range cmds {
				c.SetErr(io.EOF)
			}
			return io.EOF
		}
		return err
	}
}

// An acquisition applied by the server whose reply is lost must not leave a
// lock behind: either Acquire gives up and releases by token, or the request
// is sent again (a cluster client retries a node's network error itself) and
// the idempotent script reports the acquisition it applied.
func TestLostAcquireReplyLeavesNoLock(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "lost")
		rdb := b.NewClient(t, nil)
		warmUp(t, rdb, key, lock.Options{}) // cache the script: the lost EVALSHA must run
		hook := &loseReply{}
		hook.fail.Store(1)
		addHook(t, rdb, hook)

		l, err := lock.Acquire(t.Context(), rdb, key, lock.Options{})
		applied := hook.fence.Load()
		if applied == 0 {
			t.Fatal("the lost attempt was not applied; the test proves nothing")
		}
		switch {
		case err == nil && b.Kind == testenv.Cluster:
			if l.Fence() != applied || b.Client.Get(t.Context(), key).Val() != l.Token() {
				t.Fatalf("replayed acquisition: fence %d, want the applied one (%d) and the key holding our token", l.Fence(), applied)
			}
			if err := l.Release(t.Context()); err != nil {
				t.Fatal(err)
			}
		case !errors.Is(err, io.EOF):
			t.Fatalf("Acquire = %v, want the lost reply's EOF", err)
		}
		if n := b.Client.Exists(t.Context(), key).Val(); n != 0 {
			t.Fatal("a lock whose acquisition failed was left behind")
		}
	})
}

// A transaction (Options.Load) is not retried by go-redis; Acquire retries
// it once with the same token, and the script recognises its own token.
func TestLostTransactionReplyIsRetried(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "losttx")
		rdb := b.NewClient(t, nil)
		warmUp(t, rdb, key, lock.Options{Load: func(redis.Pipeliner) {}})
		hook := &loseReply{}
		hook.fail.Store(1)
		addHook(t, rdb, hook)

		l, err := lock.Acquire(t.Context(), rdb, key, lock.Options{Load: func(redis.Pipeliner) {}})
		if err != nil {
			t.Fatalf("Acquire after one lost transaction reply: %v", err)
		}
		if applied := hook.fence.Load(); applied == 0 || l.Fence() != applied {
			t.Fatalf("fence %d: want the retried attempt to report the applied one (%d)", l.Fence(), applied)
		}
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// addHook adds h to every node of rdb.
func addHook(t *testing.T, rdb redis.UniversalClient, h redis.Hook) {
	t.Helper()
	if c, ok := rdb.(*redis.ClusterClient); ok {
		c.OnNewNode(func(n *redis.Client) { n.AddHook(h) })
		if err := c.ForEachShard(t.Context(), func(_ context.Context, n *redis.Client) error {
			n.AddHook(h)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return
	}
	rdb.AddHook(h)
}

// A server restart loses the lock, the scripts and the Pub/Sub connection:
// a waiter still gets the lock, and the old holder learns it lost it.
func TestServerRestart(t *testing.T) {
	srv := testenv.StartServer(t)
	rdb := srv.Client(t)
	key := "restart:{r}:lock:x"
	held := mustAcquire(t, rdb, key, lock.Options{TTL: 10 * time.Minute})

	got := make(chan error, 1)
	go func() {
		l, err := lock.Acquire(t.Context(), rdb, key, lock.Options{Wait: 2 * time.Minute})
		if err == nil {
			err = l.Release(t.Context())
		}
		got <- err
	}()
	testenv.Eventually(t, "the waiter subscribed", func() bool {
		return rdb.PubSubNumSub(t.Context(), lock.WakeChannel(key)).Val()[lock.WakeChannel(key)] > 0
	})
	srv.Restart(t)
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter across a restart: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("the waiter did not get the lock after the restart")
	}
	if err := held.Release(t.Context()); !errors.Is(err, rapyer.ErrNotHeld) {
		t.Fatalf("Release of a lock lost in a restart = %v, want ErrNotHeld", err)
	}
	// The next acquisition works with an empty script cache; the fence
	// counter was lost too and starts again (see the package doc).
	l := mustAcquire(t, rdb, key, lock.Options{Load: func(redis.Pipeliner) {}})
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}
