package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// leastPrivilege is the ACL line of docs/operations.md, word for word
// (TestOperationsDocHasTheTestedACLLine holds the two together).
const leastPrivilege = "ACL SETUSER rapyer-app on >CHANGE-ME resetkeys ~tx{* ~<prefix>:* resetchannels &<prefix>:* nocommands +fcall +function|load +multi +exec +discard +watch +unwatch +hgetall +lrange +smembers +hexists +scan +pttl +del +subscribe +unsubscribe +ping +type +get +set +exists +time +hget +hset +hdel +hlen +hstrlen +hscan +hincrby +llen +lindex +lpos +lpush +rpush +lpop +rpop +lset +lrem +ltrim +scard +sadd +srem +sismember +pexpire +persist +publish +cluster|slots +command +asking +hmget +hsetnx +zadd +zrem +zcard +zlexcount +zrangebylex +zrevrangebylex +zrangebyscore +zrange"

// TestOperationsDocHasTheTestedACLLine: the line the least-privilege test
// runs with is the one docs/operations.md gives, as one line of its text.
func TestOperationsDocHasTheTestedACLLine(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range strings.Lines(string(doc)) {
		if strings.HasPrefix(l, "ACL SETUSER") {
			lines = append(lines, strings.TrimRight(l, "\n"))
		}
	}
	if len(lines) != 1 || lines[0] != leastPrivilege {
		t.Fatalf("docs/operations.md gives the ACL lines\n%s\nthe test runs with\n%s", strings.Join(lines, "\n"), leastPrivilege)
	}
}

// aclRules turns the documented line into the rules of a user for prefix:
// the words after the user's name, "on" and the password.
func aclRules(t *testing.T, line, prefix string) []string {
	t.Helper()
	words := strings.Fields(strings.ReplaceAll(line, "<prefix>", prefix))
	if len(words) < 5 || words[0] != "ACL" || words[1] != "SETUSER" || words[3] != "on" || !strings.HasPrefix(words[4], ">") {
		t.Fatalf("the ACL line does not start with ACL SETUSER <name> on ><password>: %q", line)
	}
	return words[5:]
}

// TestLeastPrivilegeUser runs the main paths of the library as a user made
// with exactly the ACL line of docs/operations.md, on the real server and
// the real cluster (miniredis has no ACL).
func TestLeastPrivilegeUser(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "acct"
		app := b.NewUser(t, aclRules(t, leastPrivilege, prefix)...)
		m := rapyer.MustNew[Account](app, rapyer.Options{Prefix: prefix, Lock: lock.Options{Wait: time.Minute}})
		history := lens.Of(func(a *Account) *[]string { return &a.History })
		limits := lens.Of(func(a *Account) *map[string]int { return &a.Limits })
		flags := lens.Of(func(a *Account) *map[string]struct{} { return &a.Flags })
		step := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s as the least-privilege user: %v", what, err)
			}
		}

		step("Save", m.Save(ctx, "a", Account{Owner: "a", Balance: 100, History: []string{"open"}, Limits: map[string]int{"day": 10}}))
		step("Create", m.Create(ctx, "b", Account{Owner: "b", Balance: 5}))
		if err := m.Create(ctx, "b", Account{}); !errors.Is(err, rapyer.ErrExists) {
			t.Fatalf("Create of an existing model: %v, want ErrExists", err)
		}
		a, err := m.Get(ctx, "a")
		step("Get", err)
		if a.Balance != 100 || len(a.History) != 1 || a.Limits["day"] != 10 {
			t.Fatalf("Get gave %+v", a)
		}
		_, v, err := m.GetWithVersion(ctx, "a")
		step("GetWithVersion", err)
		found, missing, err := m.GetMany(ctx, []string{"a", "b", "none"})
		step("GetMany", err)
		if len(found) != 2 || !slices.Equal(missing, []string{"none"}) {
			t.Fatalf("GetMany gave %v, missing %v", found, missing)
		}
		_, err = m.Exec(ctx, "a", tx.Of(
			ops.VersionIs[Account](v),
			ops.Require(is.AtLeast(acctBalance, 30)),
			ops.Incr(acctBalance, -30),
			ops.Append(history, "withdraw:30"),
			ops.SetItem(limits, "week", 50),
			ops.Add(flags, "vip"),
		))
		step("Exec with guards", err)
		if _, err := m.Exec(ctx, "a", tx.Of(ops.Require(is.AtLeast(acctBalance, 1000)), ops.Incr(acctBalance, -1000))); !errors.Is(err, rapyer.ErrPrecondition) {
			t.Fatalf("a failed guard: %v, want ErrPrecondition", err)
		}
		_, err = m.Update(ctx, "a", func(a Account) (tx.Batch, error) {
			return tx.Of(ops.Set(acctBalance, a.Balance+1)), nil
		})
		step("Update", err)

		// A lock with a waiter: the waiter subscribes to the wake channel
		// and is woken by the release.
		held, done := make(chan struct{}), make(chan error, 1)
		go func() {
			_, err := m.Lock(ctx, "a", "pay", func(_ context.Context, a *Account) error {
				close(held)
				a.Balance += 10
				return nil
			})
			done <- err
		}()
		select {
		case <-held:
		case err := <-done:
			select {
			case <-held: // it ran and finished before this select looked
				done <- err
			default:
				step("Lock", err)
				t.Fatal("Lock returned without running its function")
			}
		}
		_, err = m.Lock(ctx, "a", "pay", func(_ context.Context, a *Account) error { a.Owner = "A"; return nil })
		step("Lock (waiting)", err)
		step("Lock", <-done)
		a, err = m.Get(ctx, "a")
		step("Get", err)
		if a.Balance != 81 || a.Owner != "A" || len(a.History) != 2 || a.Limits["week"] != 50 {
			t.Fatalf("after the batches and locks: %+v", a)
		}
		// The wake channel itself.
		ps := app.Subscribe(ctx, lock.WakeChannel(must(m.Key("a"))+":lock:pay"))
		_, err = ps.Receive(ctx)
		_ = ps.Close()
		step("SUBSCRIBE to a wake channel", err)

		step("Expire", m.Expire(ctx, "a", time.Hour))
		d, err := m.TTL(ctx, "a")
		step("TTL", err)
		if d <= 0 || d > time.Hour {
			t.Fatalf("TTL %v after Expire(1h)", d)
		}
		step("Persist", m.Persist(ctx, "a"))
		if d, err := m.TTL(ctx, "a"); err != nil || d != rapyer.NoTTL {
			t.Fatalf("TTL after Persist: %v, %v", d, err)
		}
		ids := idsOf(t, ctx, m)
		if !slices.Equal(ids, []string{"a", "b"}) {
			t.Fatalf("IDs gave %v", ids)
		}
		ok, err := m.Delete(ctx, "b")
		step("Delete", err)
		if !ok {
			t.Fatal("Delete of an existing model reported it missing")
		}
		if ok, err := m.Exists(ctx, "b"); err != nil || ok {
			t.Fatalf("Exists after Delete: %v, %v", ok, err)
		}

		// Outside its prefix the user may do nothing: the refusal is the
		// call's own error, and the next call works.
		other := rapyer.MustNew[Account](app, rapyer.Options{Prefix: b.Prefix + "other"})
		if err := other.Save(ctx, "x", Account{}); err == nil {
			t.Fatal("a save outside the user's prefix succeeded")
		}
		rt := testenv.CountRoundTrips(app)
		step("Save after a refusal", m.Save(ctx, "c", Account{Owner: "c"}))
		if got := rt.Commands(); !slices.Equal(got, []string{"multi", "fcall", "exec"}) {
			t.Fatalf("a save after a refused key sent %v, want [multi fcall exec]: the refusal turned the client to scripts", got)
		}
	})
}

// TestLeastPrivilegeUserWithIndexes runs every path of an indexed model
// (writes that keep the index keys, a unique refusal, locks, each kind of
// query, DeleteWhere, Reindex and DropIndex) as the user of the documented
// ACL line: the line must grant what indexes and queries send.
func TestLeastPrivilegeUserWithIndexes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "mbacl"
		app := b.NewUser(t, aclRules(t, leastPrivilege, prefix)...)
		specs := []index.Spec{index.Unique(mbEmail), index.On(mbScore), index.Members(mbTags)}
		m := rapyer.MustNew[ixMember](app, rapyer.Options{Prefix: prefix, Indexes: specs, Lock: lock.Options{Wait: time.Minute}})
		o := ixcheck.MustNew[ixMember](t, b.Client, prefix, 1, specs, m.IDs)
		step := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s as the least-privilege user: %v", what, err)
			}
			o.Check(t, what)
		}
		step("Save", m.Save(ctx, "ann", ixMember{Email: "ann@x", Score: 1, Tags: []string{"red"}}))
		step("Create", m.Create(ctx, "bob", ixMember{Email: "bob@x", Score: 2, Tags: []string{"red", "blue"}}))
		if err := m.Save(ctx, "cat", ixMember{Email: "ann@x"}); !errors.Is(err, rapyer.ErrDuplicate) {
			t.Fatalf("a taken unique value: %v, want ErrDuplicate", err)
		}
		_, err := m.Exec(ctx, "ann", tx.Of(ops.Require(is.AtLeast(mbScore, 1)), ops.Incr(mbScore, 2), ops.Append(mbTags, "blue")))
		step("Exec", err)
		_, err = m.Lock(ctx, "bob", "edit", func(_ context.Context, v *ixMember) error { v.Email = "bob@y"; return nil })
		step("Lock", err)
		step("SaveMany", m.SaveMany(ctx, []rapyer.Entry[ixMember]{{ID: "cat", Value: ixMember{Email: "cat@x", Score: 5}}, {ID: "dan", Value: ixMember{Email: "dan@x", Score: -1}}}))

		q := query.Where(is.AtLeast(mbScore, 2.0)).OrderBy(mbScore)
		var ids []string
		for id, err := range m.FindIDs(ctx, q) {
			step("FindIDs", err)
			ids = append(ids, id)
		}
		if !slices.Equal(ids, []string{"bob", "ann", "cat"}) {
			t.Fatalf("FindIDs by score gave %v, want [bob ann cat]", ids)
		}
		var emails []string
		for v, err := range m.Find(ctx, query.Where(is.Equal(mbEmail, "bob@y"))) {
			step("Find", err)
			emails = append(emails, v.Email)
		}
		if !slices.Equal(emails, []string{"bob@y"}) {
			t.Fatalf("Find by the unique field gave %v", emails)
		}
		p, err := m.Page(ctx, query.Where(is.Element(mbTags, "blue")).Limit(1), "")
		step("Page", err)
		if len(p.Items) != 1 || p.Next == "" {
			t.Fatalf("the first page of one gave %d items, next %q", len(p.Items), p.Next)
		}
		_, err = m.Page(ctx, query.Where(is.Element(mbTags, "blue")).Limit(1), p.Next)
		step("Page (next)", err)
		n, err := m.Count(ctx, query.All[ixMember]())
		step("Count", err)
		if n != 4 {
			t.Fatalf("Count of all gave %d, want 4", n)
		}
		gone, err := m.DeleteWhere(ctx, query.Where(is.AtMost(mbScore, 0.0)))
		step("DeleteWhere", err)
		if gone != 1 {
			t.Fatalf("DeleteWhere removed %d, want 1", gone)
		}
		step("Expire", m.Expire(ctx, "cat", time.Hour))
		step("Reindex", m.Reindex(ctx, nil))
		ok, err := m.Delete(ctx, "cat")
		step("Delete", err)
		if !ok {
			t.Fatal("Delete of an existing model reported it missing")
		}
	})
}

// TestLeastPrivilegeUserMovesAndBuildsIndexes runs, as the user of the
// documented ACL line, what TestLeastPrivilegeUserWithIndexes finds nothing
// to do for: a type's first index (Reindex moves the stored models to the
// slot groups, then builds) and an index declared after models were stored
// (Reindex builds it, walking each group's @ids with ZRANGE BYLEX).
func TestLeastPrivilegeUserMovesAndBuildsIndexes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "ixacl"
		app := b.NewUser(t, aclRules(t, leastPrivilege, prefix)...)
		plain := rapyer.MustNew[QItem](app, rapyer.Options{Prefix: prefix})
		for i := range 6 {
			if err := plain.Save(ctx, fmt.Sprintf("it%d", i), QItem{Status: "new", Price: i % 2}); err != nil {
				t.Fatalf("Save as the least-privilege user: %v", err)
			}
		}
		first := rapyer.MustNew[QItem](app, rapyer.Options{Prefix: prefix, Groups: 2, Indexes: []index.Spec{index.On(iStatus)}})
		if err := first.Reindex(ctx, nil); err != nil {
			t.Fatalf("Reindex of the first index (the move) as the least-privilege user: %v", err)
		}
		second := rapyer.MustNew[QItem](app, rapyer.Options{Prefix: prefix, Groups: 2, Indexes: []index.Spec{index.On(iStatus), index.On(iPrice)}})
		if err := second.Reindex(ctx, nil); err != nil {
			t.Fatalf("Reindex of an index declared later as the least-privilege user: %v", err)
		}
		if n, err := second.Count(ctx, query.Where(is.Equal(iPrice, 1))); err != nil || n != 3 {
			t.Fatalf("Count on the built index: %d, %v; want 3", n, err)
		}
	})
}
