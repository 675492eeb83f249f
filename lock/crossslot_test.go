package lock_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// untaggedKeys are lock keys with no hash tag: none, an empty one, or an
// unclosed one. Each hashes whole, so its fence key lands in another slot.
func untaggedKeys(b *testenv.Backend) []string {
	return []string{b.Prefix + "plain", b.Prefix + "a{}{b}", b.Prefix + "a{b", b.Prefix + "a}b{c"}
}

// keysUnder lists the keys that start with prefix, on every master of a
// cluster or on the one server.
func keysUnder(t *testing.T, rdb redis.UniversalClient, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var out []string
	collect := func(ctx context.Context, c *redis.Client) error {
		ks, err := c.Keys(ctx, prefix+"*").Result()
		mu.Lock()
		out = append(out, ks...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, collect)
	} else {
		err = collect(ctx, rdb.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUntaggedKeyOnAClusterIsCrossSlot: on a cluster client (a
// *redis.ClusterClient, and the one redis.NewUniversalClient makes from
// several addresses) a lock key without a hash tag is refused by the
// server, for every kind of acquisition, with an error wrapping
// ErrCrossSlot that says to add a tag, and nothing is left; a tagged key
// works there. On a client of one server (miniredis, redis-server)
// untagged keys keep working.
func TestUntaggedKeyOnAClusterIsCrossSlot(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		clients := map[string]redis.UniversalClient{"Client": b.Client}
		if b.Kind == testenv.Cluster {
			u := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: b.Addrs})
			t.Cleanup(func() { _ = u.Close() })
			clients["UniversalClient"] = u
		}
		opts := []lock.Options{{}, {Wait: lock.NoWait}, {NoFence: true}, {NoFence: true, Wait: lock.NoWait}}
		for name, rdb := range clients {
			for _, k := range untaggedKeys(b) {
				for _, o := range opts {
					l, err := lock.Acquire(t.Context(), rdb, k, o)
					if b.Kind != testenv.Cluster {
						if err != nil {
							t.Fatalf("%s: Acquire(%q, %+v) on one server: %v", name, k, o, err)
						}
						if err := l.Release(t.Context()); err != nil {
							t.Fatalf("%s: Release(%q): %v", name, k, err)
						}
						continue
					}
					if !errors.Is(err, rapyer.ErrCrossSlot) || errors.Is(err, rapyer.ErrRefused) || !strings.Contains(fmt.Sprint(err), "hash tag") || l != nil {
						t.Fatalf("%s: Acquire(%q, %+v) on a cluster: %v, %v; want ErrCrossSlot saying to add a hash tag", name, k, o, l, err)
					}
				}
			}
			l := mustAcquire(t, rdb, lockKey(b, name), lock.Options{})
			if err := l.Release(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if b.Kind == testenv.Cluster {
			for _, p := range []string{"plain", "a"} {
				if ks := keysUnder(t, b.Client, b.Prefix+p); len(ks) != 0 {
					t.Fatalf("refused acquisitions left keys: %v", ks)
				}
			}
		}
	})
}

// TestUntaggedKeyOnAClusterNodeIsCrossSlot: a plain client pointed at the
// cluster node that owns an untagged key sends the acquisition (it cannot
// know the server is a cluster node), and the node refuses it at the first
// call that touches a key named after it: the error wraps ErrCrossSlot (not
// ErrRefused), and nothing is left behind.
func TestUntaggedKeyOnAClusterNodeIsCrossSlot(t *testing.T) {
	b := testenv.On(t, testenv.Cluster)
	cc := b.Client.(*redis.ClusterClient)
	for _, k := range untaggedKeys(b) {
		node, err := cc.MasterForKey(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		plain := redis.NewClient(&redis.Options{Addr: node.Options().Addr})
		t.Cleanup(func() { _ = plain.Close() })
		for _, o := range []lock.Options{{}, {Wait: lock.NoWait}, {NoFence: true, Wait: lock.NoWait}} {
			l, err := lock.Acquire(t.Context(), plain, k, o)
			if !errors.Is(err, rapyer.ErrCrossSlot) || errors.Is(err, rapyer.ErrRefused) || l != nil {
				t.Fatalf("Acquire(%q, %+v) with a plain client of its node: %v, %v; want ErrCrossSlot", k, o, l, err)
			}
		}
	}
	if ks := keysUnder(t, b.Client, b.Prefix); len(ks) != 0 {
		t.Fatalf("refused acquisitions left keys: %v", ks)
	}
}
