package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// s22User is the model of the session-22 hunt: Name is indexed by the
// admin's declaration only (DropIndex drops it), Nick by the app's only
// (Reindex builds it).
type s22User struct {
	Email string
	Age   int
	Name  string
	Nick  string
	Tags  map[string]struct{}
}

var (
	s22hEmail = lens.Of(func(u *s22User) *string { return &u.Email })
	s22Age    = lens.Of(func(u *s22User) *int { return &u.Age })
	s22Name   = lens.Of(func(u *s22User) *string { return &u.Name })
	s22Nick   = lens.Of(func(u *s22User) *string { return &u.Nick })
	s22Tags   = lens.Of(func(u *s22User) *map[string]struct{} { return &u.Tags })

	s22Common    = []index.Spec{index.On(s22Age), index.Members(s22Tags), index.Unique(s22hEmail)}
	s22AdminSpec = append(append([]index.Spec(nil), s22Common...), index.On(s22Name))
	s22AppSpec   = append(append([]index.Spec(nil), s22Common...), index.On(s22Nick))
)

// s22Calls are the read-side and administration calls; write says the call
// may write (a purge of expired entries, a delete, a rebuild).
var s22Calls = []struct {
	name  string
	write bool
	call  func(ctx context.Context, m *rapyer.Model[s22User]) error
}{
	{"Find", true, func(ctx context.Context, m *rapyer.Model[s22User]) error {
		return s22Drain(m.Find(ctx, query.Where(is.Equal(s22Age, 1))))
	}},
	{"FindMember", true, func(ctx context.Context, m *rapyer.Model[s22User]) error {
		return s22Drain(m.Find(ctx, query.Where(is.And(is.Member(s22Tags, "t"), is.AtLeast(s22Age, 1)))))
	}},
	{"FindIDs", true, func(ctx context.Context, m *rapyer.Model[s22User]) error {
		return s22Drain(m.FindIDs(ctx, query.Where(is.Or(is.Equal(s22Age, 2), is.Equal(s22hEmail, "a")))))
	}},
	{"Page", true, func(ctx context.Context, m *rapyer.Model[s22User]) error {
		_, err := m.Page(ctx, query.Where(is.AtLeast(s22Age, 1)).OrderBy(s22Age).Desc().Limit(1), "")
		return err
	}},
	{"Count", true, func(ctx context.Context, m *rapyer.Model[s22User]) error {
		_, err := m.Count(ctx, query.Where(is.Equal(s22Age, 1)))
		return err
	}},
	{"CountRead", true, func(ctx context.Context, m *rapyer.Model[s22User]) error {
		_, err := m.Count(ctx, query.Where(is.And(is.Equal(s22Age, 1), is.Member(s22Tags, "u"))))
		return err
	}},
	{"DeleteWhere", true, func(ctx context.Context, m *rapyer.Model[s22User]) error {
		_, err := m.DeleteWhere(ctx, query.Where(is.Equal(s22Age, 1)))
		return err
	}},
	{"IDs", true, func(ctx context.Context, m *rapyer.Model[s22User]) error { return s22Drain(m.IDs(ctx)) }},
	{"Reindex", true, func(ctx context.Context, m *rapyer.Model[s22User]) error { return m.Reindex(ctx, nil) }},
	{"DropIndex", true, func(ctx context.Context, m *rapyer.Model[s22User]) error { return m.DropIndex(ctx, "name") }},
	{"Sweep", true, func(ctx context.Context, m *rapyer.Model[s22User]) error {
		_, err := m.Sweep(ctx)
		return err
	}},
	{"GetMany", false, func(ctx context.Context, m *rapyer.Model[s22User]) error {
		_, _, err := m.GetMany(ctx, []string{"a", "b", "x"})
		return err
	}},
}

// s22Drain reads an iteration to its end or its first error.
func s22Drain[V any](seq func(yield func(V, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// s22hSetup stores four models under prefix with the admin's declaration,
// one of which ("x") died by its TTL behind the library's back: its root
// and collection are gone, its deadline in @exp passed, its entries left
// (what a query's purge, and Sweep, clear).
func s22hSetup(ctx context.Context, t *testing.T, rdb redis.UniversalClient, prefix string) (*rapyer.Model[s22User], ixcheck.Oracle) {
	t.Helper()
	admin := rapyer.MustNew[s22User](rdb, rapyer.Options{Prefix: prefix, Indexes: s22AdminSpec, Groups: 1})
	for id, u := range map[string]s22User{
		"a": {Email: "a", Age: 1, Name: "ann", Tags: map[string]struct{}{"t": {}}},
		"b": {Email: "b", Age: 2, Name: "bob", Tags: map[string]struct{}{"t": {}}},
		"c": {Email: "c", Age: 1, Name: "cid", Tags: map[string]struct{}{"t": {}, "u": {}}},
		"x": {Email: "x", Age: 1, Name: "xan", Tags: map[string]struct{}{"u": {}}},
	} {
		if err := admin.Save(ctx, id, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.Expire(ctx, "x", time.Hour); err != nil {
		t.Fatal(err)
	}
	o := ixcheck.MustNew[s22User](t, rdb, prefix, 1, s22Common, admin.IDs)
	base := o.Base(0)
	rdb.Del(ctx, base+":{x}", base+":{x}:tags")
	rdb.ZAdd(ctx, base+":@exp", redis.Z{Member: "x", Score: 1})
	return admin, o
}

// s22Dump is every key under prefix, with its type and content, sorted,
// without the traces of the dead model x (which a purge may clear) and
// without empty keys.
func s22Dump(ctx context.Context, t *testing.T, rdb redis.UniversalClient, prefix string) string {
	t.Helper()
	var mu sync.Mutex
	var lines []string
	each := func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, prefix+":*").Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			ty := c.Type(ctx, k).Val()
			var v any
			switch ty {
			case "hash":
				h := c.HGetAll(ctx, k).Val()
				for f, x := range h {
					if strings.HasPrefix(f, "x") || x == "x" {
						delete(h, f)
					}
				}
				v = h
			case "set":
				s := c.SMembers(ctx, k).Val()
				sort.Strings(s)
				v = s
			case "list":
				v = c.LRange(ctx, k, 0, -1).Val()
			case "zset":
				var ms []string
				for _, z := range c.ZRangeWithScores(ctx, k, 0, -1).Val() {
					if s := z.Member.(string); !strings.HasSuffix(s, "x") {
						ms = append(ms, fmt.Sprint(z))
					}
				}
				v = ms
			case "string":
				v = c.Get(ctx, k).Val()
			}
			if strings.Contains(k, "{x}") || fmt.Sprint(v) == "[]" || fmt.Sprint(v) == "map[]" {
				continue
			}
			mu.Lock()
			lines = append(lines, fmt.Sprintf("%q %s %v", k, ty, v))
			mu.Unlock()
		}
		return nil
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, each)
	case *redis.Client:
		err = each(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// s22Commands are the commands the read side and the index administration
// send (internal/lua/query.lua, index.lua, batch.lua for DeleteWhere's
// batches, and the Go callers: SCAN for Sweep, HGET/HSET of @meta).
var s22Commands = []string{"time", "zrangebyscore", "zrangebylex", "zrevrangebylex", "zlexcount", "zcard",
	"zrange", "zadd", "zrem", "hget", "hmget", "hexists", "hgetall", "hset", "hsetnx", "hdel", "exists",
	"lrange", "smembers", "sismember", "del", "scan", "type", "pttl", "lindex", "llen", "multi", "exec"}

// A user of the least-privilege line denied one command the queries, the
// listings, the index administration or GetMany use: the call succeeds or
// fails with ErrNoPermission; one that fails wrote nothing (its purge of
// expired entries included), and the indexes of the models stay what the
// models give.
func TestS22QueriesOfAUserDeniedOneCommand(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for i, deny := range s22Commands {
			space := fmt.Sprintf("%ss22q%d", b.Prefix, i)
			app := b.NewUser(t, append(aclRules(t, leastPrivilege, space+"*"), "-"+deny)...)
			for j, c := range s22Calls {
				prefix := fmt.Sprintf("%s_%d", space, j)
				_, o := s22hSetup(ctx, t, b.Client, prefix)
				m := rapyer.MustNew[s22User](app, rapyer.Options{Prefix: prefix, Indexes: s22AppSpec, Groups: 1})
				before := s22Dump(ctx, t, b.Client, prefix)
				err := s22Call(ctx, m, c.call)
				what := fmt.Sprintf("%s denied %s", c.name, deny)
				switch {
				case err == nil:
				case !errors.Is(err, rapyer.ErrNoPermission):
					t.Errorf("%s: %v, want ErrNoPermission", what, err)
				case c.write:
					if after := s22Dump(ctx, t, b.Client, prefix); after != before {
						t.Errorf("%s: failed (%v) yet wrote:\n%s\nwas\n%s", what, err, after, before)
					}
				}
				s22hWhole(ctx, t, b.Client, o.Base(0), what)
				if d, err := o.Compare(ctx); err != nil || !d.OK() {
					t.Errorf("%s: the indexes after it: %v %v", what, d, err)
				}
			}
		}
	})
}

// s22hWhole fails t when the dead model x of s22hSetup is half purged: its
// entries are in some of its group's bookkeeping keys and not in others.
func s22hWhole(ctx context.Context, t *testing.T, rdb redis.UniversalClient, base, what string) {
	t.Helper()
	in := []bool{
		rdb.ZScore(ctx, base+":@ids", "x").Err() == nil,
		rdb.ZScore(ctx, base+":@exp", "x").Err() == nil,
		rdb.HExists(ctx, base+":@back", "x").Val(),
		s22HasX(ctx, rdb, base+":@i:age"),
		s22HasX(ctx, rdb, base+":@i:tags"),
	}
	for _, v := range in[1:] {
		if v != in[0] {
			t.Errorf("%s: the dead model x is half purged (in @ids, @exp, @back, @i:age, @i:tags: %v)", what, in)
			return
		}
	}
}

// s22HasX reports whether zset k has a member of model x (its entries end
// with the id).
func s22HasX(ctx context.Context, rdb redis.UniversalClient, k string) bool {
	for _, m := range rdb.ZRange(ctx, k, 0, -1).Val() {
		if strings.HasSuffix(m, "x") {
			return true
		}
	}
	return false
}

// s22Call runs call, turning a panic into an error.
func s22Call(ctx context.Context, m *rapyer.Model[s22User], call func(context.Context, *rapyer.Model[s22User]) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return call(ctx, m)
}

// Every bookkeeping key a query reads (@ids, @exp, @back, @meta, an index,
// a unique index) of another Redis type, or holding garbage: each read-side
// call ends without a panic, and one that fails fails typed; DeleteWhere
// never deletes the model that does not match (b, of age 2).
func TestS22CorruptBookkeepingOfQueries(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		n := 0
		for _, key := range []string{"@ids", "@exp", "@back", "@meta", "@i:age", "@i:tags", "@u:email"} {
			for _, plant := range []string{"list", "hash", "set", "zset", "garbage"} {
				for _, c := range s22Calls {
					if c.name == "Reindex" || c.name == "DropIndex" || c.name == "Sweep" {
						continue
					}
					n++
					prefix := fmt.Sprintf("%ss22c%d", b.Prefix, n)
					_, o := s22hSetup(ctx, t, b.Client, prefix)
					m := rapyer.MustNew[s22User](b.Client, rapyer.Options{Prefix: prefix, Indexes: s22AppSpec, Groups: 1})
					testenv.Plant(ctx, b.Client, o.Base(0)+":"+key, plant)
					err := s22Call(ctx, m, c.call)
					what := fmt.Sprintf("%s with %s as a %s", c.name, key, plant)
					if err != nil && !errs.Typed(err) {
						t.Errorf("%s: untyped %v", what, err)
					}
					if b.Client.Exists(ctx, o.Base(0)+":{b}").Val() != 1 {
						t.Errorf("%s: deleted b, which does not match", what)
					}
				}
			}
		}
	})
}
