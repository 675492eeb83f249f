package testenv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// TestNewUser: the user may do what its rules allow and nothing else, on
// every master of a cluster, and is gone from every server after the test.
func TestNewUser(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		if b.Kind == testenv.Mini {
			skipped := t.Run("mini", func(t *testing.T) {
				b.NewUser(t, "+get")
				t.Error("NewUser on miniredis did not skip")
			})
			if !skipped {
				t.Fatal("NewUser on miniredis failed")
			}
			return
		}
		var name string
		t.Run("user", func(t *testing.T) {
			rules := []string{"~" + b.Prefix + "ok*", "+get", "+set", "+cluster|slots", "+command"}
			u := testenv.ACLUser(t, b.Client, rules...)
			name = u.Name
			// Keys in many slots: every master has the user.
			for _, tag := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
				k := b.Prefix + "ok{" + tag + "}"
				if err := u.Client.Set(ctx, k, "v", 0).Err(); err != nil {
					t.Fatalf("SET %s as the user: %v", k, err)
				}
				if err := u.Client.Set(ctx, b.Prefix+"no{"+tag+"}", "v", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
					t.Fatalf("SET of a key outside the user's pattern: %v, want NOPERM", err)
				}
			}
			if err := u.Client.HSet(ctx, b.Prefix+"ok", "f", "v").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
				t.Fatalf("a command outside the user's rules: %v, want NOPERM", err)
			}
		})
		forEachServer(t, b.Client, func(n *redis.Client) {
			if err := n.Do(ctx, "ACL", "GETUSER", name).Err(); err != redis.Nil {
				t.Errorf("%s: user %s after its test: %v", n.Options().Addr, name, err)
			}
		})
	})
}

// forEachServer runs f on every server of c (masters and replicas).
func forEachServer(t *testing.T, c redis.UniversalClient, f func(*redis.Client)) {
	t.Helper()
	switch c := c.(type) {
	case *redis.ClusterClient:
		if err := c.ForEachShard(context.Background(), func(_ context.Context, n *redis.Client) error { f(n); return nil }); err != nil {
			t.Fatal(err)
		}
	case *redis.Client:
		f(c)
	}
}

// TestACLUserReachesReplicas: on a cluster with replicas the user exists on
// every node, so that it keeps its rights after a failover.
func TestACLUserReachesReplicas(t *testing.T) {
	cp := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1})
	u := testenv.ACLUser(t, cp.Client(t), "~x*", "+get", "+cluster|slots", "+command")
	ctx := context.Background()
	for _, n := range cp.Nodes() {
		c := n.Client(t)
		if err := c.Do(ctx, "ACL", "GETUSER", u.Name).Err(); err != nil {
			t.Errorf("node %s: ACL GETUSER %s: %v", n.Addr(), u.Name, err)
		}
	}
}
