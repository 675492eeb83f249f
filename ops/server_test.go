package ops_test

import (
	"context"
	"errors"
	"regexp"
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
// command and key of its write phase first: rapyer.ErrNoPermission naming HDEL and
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
		// A read of the check phase refused (no LLEN): rapyer.ErrNoPermission too,
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
// before 6.0.6) fails with rapyer.ErrUnsupported before anything is written.
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

// guardOf returns the *rapyer.GuardError err holds, failing t when it holds
// none or when it does not wrap rapyer.ErrPrecondition.
func guardOf(t *testing.T, err error) *rapyer.GuardError {
	t.Helper()
	var ge *rapyer.GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v; want a *rapyer.GuardError", err)
	}
	if !errors.Is(err, rapyer.ErrPrecondition) {
		t.Fatalf("errors.Is(%v, ErrPrecondition) = false", err)
	}
	if n := strings.Count(err.Error(), ge.Op); n != 1 {
		t.Errorf("%q names the op %q %d times; want once", err, ge.Op, n)
	}
	if !regexp.MustCompile(`^rapyer: precondition failed: [A-Za-z]+\(.*\): .+$`).MatchString(err.Error()) {
		t.Errorf("%q is not rapyer: precondition failed: <op>: <detail>", err)
	}
	return ge
}

// TestGuardErrorTellsGuardsApart: a sale batch guards the stock and the
// credits. Which one failed is in the error, typed: Index and Field tell
// "sold out" from "no credits", and Seen is what the server held.
func TestGuardErrorTellsGuardsApart(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		sale := tx.Of(ops.Require(is.AtLeast(Count, 1)), ops.Require(is.AtLeast(Balance, 10)), ops.Decr(Count, 1), ops.Decr(Balance, 10))
		for _, c := range []struct {
			name          string
			stock         uint
			credits       int
			index         int
			field, seen   string
			op, wantError string
		}{
			{"sold out", 0, 50, 0, "count", "0", "Require(AtLeast(count, 1))", "rapyer: precondition failed: Require(AtLeast(count, 1)): count is 0"},
			{"no credits", 5, 5, 1, "balance", "5", "Require(AtLeast(balance, 10))", "rapyer: precondition failed: Require(AtLeast(balance, 10)): balance is 5"},
		} {
			save(t, m, c.name, Acct{Count: c.stock, Balance: c.credits})
			before := snapshot(t, b, m, c.name)
			_, err := m.Exec(ctx, c.name, sale)
			ge := guardOf(t, err)
			if ge.Index != c.index || ge.Field != c.field || ge.Seen != c.seen || ge.Missing || ge.Op != c.op {
				t.Errorf("%s: %+v; want Index %d, Field %q, Seen %q, Op %q", c.name, *ge, c.index, c.field, c.seen, c.op)
			}
			if err.Error() != c.wantError {
				t.Errorf("%s: %q; want %q", c.name, err, c.wantError)
			}
			if d := cmp.Diff(before, snapshot(t, b, m, c.name)); d != "" {
				t.Errorf("%s: the failed batch wrote (-before +after):\n%s", c.name, d)
			}
		}
	})
}

// TestGuardErrorSeen: the value a failed guard saw, as the server stores it,
// for each kind of guard: an int, a float, a string, a missing field, a
// list's length, a map key and a set member, the model's version.
func TestGuardErrorSeen(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", Acct{Owner: "ann", Balance: 7, Ratio: 0.5, Note: "n", History: []string{"a", "b", "c"},
			Limits: map[string]int{"a": 1}, Flags: set("a")})
		if err := b.Client.HDel(ctx, root(t, m, "x"), "note").Err(); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			op      ops.Op
			field   string
			seen    string
			missing bool
		}{
			{ops.Require(is.AtLeast(Balance, 10)), "balance", "7", false},
			{ops.Require(is.Below(Ratio, 0.25)), "ratio", "0.5", false},
			{ops.Require(is.Equal(Owner, "bob")), "owner", "ann", false},
			{ops.Require(is.Equal(Note, "x")), "note", "", true},
			{ops.Require(is.Below(is.Len(History), 2)), "history", "3", false},
			{ops.Require(is.Key(Limits, "z")), "limits", "", true},
			{ops.Require(is.Not(is.Key(Limits, "a"))), "limits", "a", false},
			{ops.Require(is.Member(Flags, "q")), "flags", "", true},
			{ops.Require(is.Not(is.Member(Flags, "a"))), "flags", "a", false},
			{ops.Require(is.Element(History, "q")), "history", "", true},
			{ops.Require(is.Not(is.Element(History, "b"))), "history", "b", false},
		} {
			_, err := m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), c.op))
			ge := guardOf(t, err)
			if ge.Index != 1 || ge.Field != c.field || ge.Seen != c.seen || ge.Missing != c.missing || ge.Op != c.op.String() {
				t.Errorf("%s: %+v; want Index 1, Field %q, Seen %q, Missing %v", c.op, *ge, c.field, c.seen, c.missing)
			}
		}
		_, err := m.Exec(ctx, "x", tx.Of(ops.Require(is.Equal(Note, "x"))))
		if want := `rapyer: precondition failed: Require(Equal(note, "x")): note is missing`; err == nil || err.Error() != want {
			t.Errorf("a guard on a missing field: %v; want %s", err, want)
		}
		_, v, err := m.GetWithVersion(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Exec(ctx, "x", tx.Of(ops.VersionIs[Acct](v+1)))
		if ge := guardOf(t, err); ge.Index != 0 || ge.Field != "" || ge.Missing || ge.Seen == "" {
			t.Errorf("VersionIs: %+v; want Index 0, no Field, the version seen", *ge)
		}
	})
}

// TestGuardErrorThroughEveryLayer: errors.As finds the GuardError whatever
// ran the batch: tx.Exec, Model.Exec, Update, UpdateMany; and its Index
// counts the caller's ops only.
func TestGuardErrorThroughEveryLayer(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", Acct{Balance: 5})
		batch := tx.Of(ops.Incr(Count, 1), ops.Require(is.AtLeast(Balance, 10)))
		runs := map[string]func() error{
			"tx.Exec": func() error {
				_, err := tx.Exec(ctx, b.Client, tx.On(m.Target("x"), batch.Ops()...), tx.Options{})
				return err
			},
			"Model.Exec": func() error { _, err := m.Exec(ctx, "x", batch); return err },
			"Update": func() error {
				_, err := m.Update(ctx, "x", func(Acct) (tx.Batch, error) { return batch, nil })
				return err
			},
			"UpdateMany": func() error {
				_, err := m.UpdateMany(ctx, []string{"x"}, func([]Acct) (tx.Batch, error) { return batch, nil })
				return err
			},
		}
		for name, run := range runs {
			ge := guardOf(t, run())
			if ge.Index != 1 || ge.Field != "balance" || ge.Seen != "5" {
				t.Errorf("%s: %+v; want Index 1, Field balance, Seen 5", name, *ge)
			}
		}
	})
}
