package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// aclClient makes an ACL user with exactly rules on every node of the
// backend (testenv.ACLUser) and returns a client logged in as it.
func aclClient(t *testing.T, b *testenv.Backend, rules ...string) redis.UniversalClient {
	t.Helper()
	return b.NewUser(t, rules...)
}

// onReal runs f on the real server and the real cluster: miniredis has no
// ACL rules.
func onReal(t *testing.T, f func(t *testing.T, b *testenv.Backend)) {
	for _, k := range []testenv.Kind{testenv.Server, testenv.Cluster} {
		t.Run(string(k), func(t *testing.T) { f(t, testenv.On(t, k)) })
	}
}

// What go-redis sends on its own: on a new connection, and a cluster
// client's look at the topology.
var connRules = []string{"+ping", "+hello", "+command", "+cluster|slots", "+cluster|shards", "+cluster|nodes"}

// lockRules are what the lock's Lua calls: a function runs its commands as
// the user who called it.
var lockRules = []string{"+exists", "+set", "+get", "+del", "+pexpire", "+pttl", "+time", "+publish"}

// lockCycle acquires (with and without Load), extends and releases as the
// given client, and checks that a second acquirer waiting on the lock gets
// it after the release.
func lockCycle(t *testing.T, b *testenv.Backend, rdb redis.UniversalClient, name string) {
	t.Helper()
	ctx := t.Context()
	key := lockKey(b, name)
	model := b.Prefix + ":{" + name + "}"
	b.Client.Set(ctx, model, "v", 0)
	var get *redis.StringCmd
	for _, load := range []bool{false, true} {
		opts := lock.Options{}
		if load {
			opts.Load = func(p redis.Pipeliner) { get = p.Get(ctx, model) }
		}
		l, err := lock.Acquire(ctx, rdb, key, opts)
		if err != nil {
			t.Fatalf("Acquire (Load %v): %v", load, err)
		}
		if load && get.Val() != "v" {
			t.Fatalf("Load's GET: %v", get)
		}
		if err := l.Extend(ctx, time.Minute); err != nil {
			t.Fatalf("Extend: %v", err)
		}
		got := make(chan error, 1)
		go func() {
			w, err := lock.Acquire(ctx, rdb, key, lock.Options{Wait: time.Minute, RetryMax: 20 * time.Millisecond})
			if err == nil {
				err = w.Release(ctx)
			}
			got <- err
		}()
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("second acquirer: %v", err)
			}
		case <-time.After(patience):
			t.Fatal("the second acquirer did not get the released lock")
		}
	}
}

// TestFCallOnlyUser: a user allowed FCALL but not EVAL or EVALSHA takes,
// extends and releases locks. (A function runs its commands as the caller,
// so the user needs them too: lockRules.) It may not FUNCTION LOAD either: an admin
// loads the library (as a deployment would once per server; see
// docs/locks.md).
func TestFCallOnlyUser(t *testing.T) {
	onReal(t, func(t *testing.T, b *testenv.Backend) {
		if err := lua.Library.Load(t.Context(), b.Client); err != nil {
			t.Fatal(err)
		}
		rules := append([]string{"~" + b.Prefix + "*", "&*", "+fcall", "+multi", "+exec", "+subscribe", "+unsubscribe"}, connRules...)
		rdb := aclClient(t, b, append(rules, lockRules...)...)
		if err := rdb.Eval(t.Context(), "return 1", nil).Err(); err == nil || !redis.HasErrorPrefix(err, "NOPERM") {
			t.Fatalf("EVAL as the FCALL-only user: %v; the test proves nothing", err)
		}
		lockCycle(t, b, rdb, "fcall")
	})
}

// TestUserWithoutChannels: a Redis 7 user without channel permission (the
// default of acl-pubsub-default resetchannels) releases without an error,
// and a waiter, whose SUBSCRIBE is refused, polls and gets the lock.
func TestUserWithoutChannels(t *testing.T) {
	onReal(t, func(t *testing.T, b *testenv.Backend) {
		rdb := aclClient(t, b, "~"+b.Prefix+"*", "resetchannels", "+@all")
		if err := rdb.Publish(t.Context(), "x", "y").Err(); err == nil || !redis.HasErrorPrefix(err, "NOPERM") {
			t.Fatalf("PUBLISH as the user without channels: %v; the test proves nothing", err)
		}
		lockCycle(t, b, rdb, "nochan")
		// And a waiter on another client with channels is still woken by
		// polling (no announcement comes).
		key := lockKey(b, "nochan2")
		l, err := lock.Acquire(t.Context(), rdb, key, lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			w, err := lock.Acquire(t.Context(), b.Client, key, lock.Options{Wait: time.Minute, RetryMax: 20 * time.Millisecond})
			if err == nil {
				err = w.Release(t.Context())
			}
			got <- err
		}()
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

// TestUserWithoutIncr: a user made from the documented line of before
// session 8 of issue #13 (no INCR) still takes fenced locks: the fence
// takes the GET and SET PX way for it, and its fences and those of a user
// who may INCR, interleaved on one key, still increase strictly. (Since
// session 16 every fence takes that way, the clock with the stored value:
// they increased by exactly one while the fence key lived before.)
func TestUserWithoutIncr(t *testing.T) {
	onReal(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		rules := append([]string{"~" + b.Prefix + "*", "&*", "+fcall", "+function|load", "+multi", "+exec", "+subscribe", "+unsubscribe"}, connRules...)
		rdb := aclClient(t, b, append(rules, lockRules[:len(lockRules)-1]...)...)
		if err := rdb.Incr(ctx, b.Prefix+":x").Err(); err == nil || !redis.HasErrorPrefix(err, "NOPERM") {
			t.Fatalf("INCR as the user without it: %v; the test proves nothing", err)
		}
		lockCycle(t, b, rdb, "noincr")
		key := lockKey(b, "noincrfence")
		prev := int64(0)
		for i := range 20 {
			c := rdb
			if i%3 == 2 {
				c = b.Client // may INCR
			}
			l, err := lock.Acquire(ctx, c, key, lock.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if f := l.Fence(); f <= prev {
				t.Fatalf("acquisition %d: fence %d after %d", i, f, prev)
			}
			prev = l.Fence()
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if ttl := b.Client.PTTL(ctx, lock.FenceKey(key)).Val(); ttl <= 10*time.Second {
				t.Fatalf("acquisition %d: the fence key lives %v, want more than the lock's TTL", i, ttl)
			}
		}
	})
}
