package ops_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Tests that need what only a real server has: ACL users and commands
// renamed away. miniredis has neither (no ACL, no rename-command), so they
// run on the real server and the cluster only.

var users atomic.Int64

// aclUser makes an ACL user with rules on every master of b (deleted when t
// ends) and returns a client of b that runs as it.
func aclUser(t *testing.T, b *testenv.Backend, rules ...string) redis.UniversalClient {
	t.Helper()
	ctx := context.Background()
	name := b.Prefix + "user" + strings.Repeat("x", int(users.Add(1)))
	args := []any{"acl", "setuser", name, "reset", "on", ">pw"}
	for _, r := range rules {
		args = append(args, r)
	}
	each := func(f func(c *redis.Client) error) {
		t.Helper()
		var err error
		if cc, ok := b.Client.(*redis.ClusterClient); ok {
			err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return f(c) })
		} else {
			err = f(b.Client.(*redis.Client))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	each(func(c *redis.Client) error { return c.Do(ctx, args...).Err() })
	t.Cleanup(func() { each(func(c *redis.Client) error { return c.Do(ctx, "acl", "deluser", name).Err() }) })
	return b.NewClient(t, func(o *redis.UniversalOptions) { o.Username, o.Password = name, "pw" })
}

// realTiers runs f on the real server and on the cluster.
func realTiers(t *testing.T, f func(t *testing.T, b *testenv.Backend)) {
	for _, k := range []testenv.Kind{testenv.Server, testenv.Cluster} {
		t.Run(string(k), func(t *testing.T) { f(t, testenv.On(t, k)) })
	}
}

// TestACLRefusalWritesNothing: a user allowed everything but HDEL runs a
// batch whose last op needs HDEL, and a lock save that removes a map key.
// The Incr and the Set were written, then HDEL failed, with an untyped
// error. Now the interpreter asks redis.acl_check_cmd (Redis 7) about every
// command and key of its write phase first: ErrNoPermission naming HDEL and
// the key, and nothing written.
func TestACLRefusalWritesNothing(t *testing.T) {
	realTiers(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		admin := newModel(t, b, 0)
		save(t, admin, "x", Acct{Owner: "ann", Balance: 5, History: []string{"a"}, Limits: map[string]int{"a": 1, "b": 2}})
		u := aclUser(t, b, "~*", "&*", "+@all", "-hdel")
		m, err := rapyer.New[Acct](u, rapyer.Options{Prefix: admin.Prefix()})
		if err != nil {
			t.Fatal(err)
		}
		k := colKey(t, admin, "x", "limits")
		before := snapshot(t, b, admin, "x")
		_, err = m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), ops.Set(Owner, "bob"), ops.Append(History, "b"), ops.DeleteItems(Limits, "a")))
		if !errors.Is(err, rapyer.ErrNoPermission) || !strings.Contains(err.Error(), "HDEL") || !strings.Contains(err.Error(), k) {
			t.Fatalf("a batch that needs HDEL, as a user without it: %v; want ErrNoPermission naming HDEL and %s", err, k)
		}
		if diff := cmp.Diff(before, snapshot(t, b, admin, "x")); diff != "" {
			t.Fatalf("the refused batch wrote (-before +after):\n%s", diff)
		}
		_, err = m.Lock(ctx, "x", "edit", func(_ context.Context, a *Acct) error {
			a.Balance = 100
			delete(a.Limits, "b")
			return nil
		})
		if !errors.Is(err, rapyer.ErrNoPermission) {
			t.Fatalf("a lock save that needs HDEL, as a user without it: %v; want ErrNoPermission", err)
		}
		if diff := cmp.Diff(before, snapshot(t, b, admin, "x")); diff != "" {
			t.Fatalf("the refused lock save wrote (-before +after):\n%s", diff)
		}
		// What the user may do still runs.
		if _, err := m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1))); err != nil {
			t.Fatal(err)
		}
		// A read of the check phase refused (no LLEN): ErrNoPermission too,
		// from the server's error text, before any write.
		u2 := aclUser(t, b, "~*", "&*", "+@all", "-llen")
		m2, err := rapyer.New[Acct](u2, rapyer.Options{Prefix: admin.Prefix()})
		if err != nil {
			t.Fatal(err)
		}
		before = snapshot(t, b, admin, "x")
		_, err = m2.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), ops.SetAt(History, 0, "z")))
		if !errors.Is(err, rapyer.ErrNoPermission) {
			t.Fatalf("a batch whose check needs LLEN, as a user without it: %v; want ErrNoPermission", err)
		}
		if diff := cmp.Diff(before, snapshot(t, b, admin, "x")); diff != "" {
			t.Fatalf("the refused batch wrote (-before +after):\n%s", diff)
		}
	})
}

// TestUnlockWithoutChannelPermission: a user with no channels (Redis 7's
// default for new users, acl-pubsub-default resetchannels) saves under a
// model lock. The save and release wrote, then the PUBLISH that wakes the
// waiters failed: an error, the version not bumped. Now the release skips
// the PUBLISH (waiters poll): no error, the version bumped, the lock gone.
func TestUnlockWithoutChannelPermission(t *testing.T) {
	realTiers(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		admin := newModel(t, b, 0)
		save(t, admin, "x", Acct{Owner: "ann", Balance: 5})
		r := root(t, admin, "x")
		v0, err := b.Client.HGet(ctx, r, "__v").Int64()
		if err != nil {
			t.Fatal(err)
		}
		u := aclUser(t, b, "~*", "resetchannels", "+@all")
		m, err := rapyer.New[Acct](u, rapyer.Options{Prefix: admin.Prefix()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Lock(ctx, "x", "edit", func(_ context.Context, a *Acct) error { a.Balance = 6; return nil }); err != nil {
			t.Fatalf("a lock save as a user without channels: %v", err)
		}
		got, err := admin.Get(ctx, "x")
		if err != nil || got.Balance != 6 {
			t.Fatalf("after the save: %+v, %v", got, err)
		}
		if v, err := b.Client.HGet(ctx, r, "__v").Int64(); err != nil || v != v0+1 {
			t.Fatalf("version %d (%v) after the save, want %d", v, err, v0+1)
		}
		if n, err := b.Client.Exists(ctx, r+":lock:edit").Result(); err != nil || n != 0 {
			t.Fatalf("the lock key is left: %d, %v", n, err)
		}
	})
}

// TestServerWithoutLMOVE: Move on a server whose LMOVE is renamed away (as
// on servers before 6.2) works: the interpreter pops and pushes. It failed
// with an untyped error.
func TestServerWithoutLMOVE(t *testing.T) {
	s := testenv.StartServer(t, "--rename-command", "LMOVE", "")
	c := s.Client(t)
	if err := c.Do(context.Background(), "lmove", "a", "b", "left", "right").Err(); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("LMOVE is still there: %v", err)
	}
	checkMoves(t, c, "p")
}

// TestServerWithoutLPOS: an is.Element guard on a server without LPOS (as
// before 6.0.6) fails with ErrUnsupported before anything is written.
func TestServerWithoutLPOS(t *testing.T) {
	s := testenv.StartServer(t, "--rename-command", "LPOS", "")
	c := s.Client(t)
	ctx := context.Background()
	m, err := rapyer.New[Acct](c, rapyer.Options{Prefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(ctx, "x", Acct{Balance: 1, History: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	before, err := m.Get(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	v0 := c.HGet(ctx, "p:{x}", "__v").Val()
	for _, g := range []ops.Op{ops.Require(is.Element(History, "a")), ops.Require(is.Not(is.Element(History, "z")))} {
		_, err := m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), ops.Append(History, "b"), g))
		if !errors.Is(err, rapyer.ErrUnsupported) || !strings.Contains(err.Error(), "LPOS") {
			t.Fatalf("%s without LPOS: %v; want ErrUnsupported naming LPOS", g, err)
		}
	}
	after, err := m.Get(ctx, "x")
	if err != nil || cmp.Diff(before, after, strict) != "" || c.HGet(ctx, "p:{x}", "__v").Val() != v0 {
		t.Fatalf("the refused batches wrote: %+v -> %+v (%v)", before, after, err)
	}
}
