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
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/rapyer"
)

// s23bDoc has a collection of every kind (a list, a hash, a set): a move
// of it sends RPUSH, HSET and SADD.
type s23bDoc struct {
	Age   int
	List  []string
	Attrs map[string]string
	Tags  map[string]struct{}
}

var (
	s23bAge  = lens.Of(func(d *s23bDoc) *int { return &d.Age })
	s23bTags = lens.Of(func(d *s23bDoc) *map[string]struct{} { return &d.Tags })
	s23bSpec = []index.Spec{index.On(s23bAge), index.Members(s23bTags)}
	s23bTag  = func(id string) string { return "t" + id[:1] }
	s23bOne  = s23bDoc{Age: 1, List: []string{"p", "q"}, Attrs: map[string]string{"k": "v"}, Tags: map[string]struct{}{"t": {}}}
)

// s23bCase is one call of the test: setup stores its data as the admin,
// call runs it as the user.
type s23bCase struct {
	name  string
	setup func(ctx context.Context, t *testing.T, rdb redis.UniversalClient, prefix string)
	call  func(ctx context.Context, rdb redis.UniversalClient, prefix string) error
}

// s23bSweepOpts are the options of the types whose Sweep asked nothing
// but MULTI/EXEC: no indexes, a HashTag without indexes, a HashTag with.
var s23bSweepOpts = map[string]func(prefix string) rapyer.Options{
	"plain":     func(p string) rapyer.Options { return rapyer.Options{Prefix: p} },
	"tagged":    func(p string) rapyer.Options { return rapyer.Options{Prefix: p, HashTag: s23bTag} },
	"tagged+ix": func(p string) rapyer.Options { return rapyer.Options{Prefix: p, HashTag: s23bTag, Indexes: s23bSpec} },
}

// s23bSweepSetup stores models a and x (x's root then deleted: its
// collection keys are an orphan Sweep clears) and a stale key of a removed
// field under each of 40 ids (spread over SCAN's pages and a cluster's
// masters, so that some are deleted before the orphan is reached).
func s23bSweepSetup(opts func(string) rapyer.Options) func(context.Context, *testing.T, redis.UniversalClient, string) {
	return func(ctx context.Context, t *testing.T, rdb redis.UniversalClient, prefix string) {
		t.Helper()
		m := rapyer.MustNew[s23bDoc](rdb, opts(prefix))
		for _, id := range []string{"a", "x"} {
			if err := m.Save(ctx, id, s23bOne); err != nil {
				t.Fatal(err)
			}
		}
		x, _ := m.Key("x")
		if err := rdb.Del(ctx, x).Err(); err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			root, _ := m.Key(fmt.Sprintf("s%d", i))
			if err := rdb.SAdd(ctx, root+":gone", "v").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// s23bMoveSetup stores models a and b (b with a TTL) of the type without
// indexes: a Reindex of the type with indexes moves them.
func s23bMoveSetup(ctx context.Context, t *testing.T, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	m := rapyer.MustNew[s23bDoc](rdb, rapyer.Options{Prefix: prefix})
	for _, id := range []string{"a", "b"} {
		if err := m.Save(ctx, id, s23bOne); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Expire(ctx, "b", time.Hour); err != nil {
		t.Fatal(err)
	}
}

func s23bCases() []s23bCase {
	var cases []s23bCase
	for _, name := range []string{"plain", "tagged", "tagged+ix"} {
		opts := s23bSweepOpts[name]
		cases = append(cases, s23bCase{"Sweep " + name, s23bSweepSetup(opts), func(ctx context.Context, rdb redis.UniversalClient, p string) error {
			_, err := rapyer.MustNew[s23bDoc](rdb, opts(p)).Sweep(ctx)
			return err
		}})
	}
	return append(cases, s23bCase{"Reindex move", s23bMoveSetup, func(ctx context.Context, rdb redis.UniversalClient, p string) error {
		return rapyer.MustNew[s23bDoc](rdb, rapyer.Options{Prefix: p, Indexes: s23bSpec, Groups: 2}).Reindex(ctx, nil)
	}})
}

// s23bDump is every key under prefix with its type, whole content and
// whether it has a TTL, sorted.
func s23bDump(ctx context.Context, t *testing.T, rdb redis.UniversalClient, prefix string) string {
	t.Helper()
	var mu sync.Mutex
	var lines []string
	each := func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, prefix+":*").Result()
		for _, k := range keys {
			var v any
			switch ty := c.Type(ctx, k).Val(); ty {
			case "hash":
				v = c.HGetAll(ctx, k).Val()
			case "set":
				s := c.SMembers(ctx, k).Val()
				sort.Strings(s)
				v = s
			case "zset":
				v = c.ZRangeWithScores(ctx, k, 0, -1).Val()
			case "list":
				v = c.LRange(ctx, k, 0, -1).Val()
			case "string":
				v = c.Get(ctx, k).Val()
			default:
				v = ty
			}
			mu.Lock()
			lines = append(lines, fmt.Sprintf("%q %v ttl=%v", k, v, c.PTTL(ctx, k).Val() > 0))
			mu.Unlock()
		}
		return err
	}
	var err error
	if c, ok := rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, each)
	} else {
		err = each(ctx, rdb.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// s23bCommands are s22's commands, HSCAN, and those of the move's steps
// (move.lua: mvread's claim, mvcopy's writes of every collection kind and
// of a TTL).
var s23bCommands = append(append([]string{}, s22Commands...),
	"hscan", "rpush", "sadd", "pexpire", "get", "set", "fcall")

// A user of the least-privilege line denied one command that Sweep (of a
// type without indexes, or with a HashTag) or Reindex's move of the models
// stored before the type's first index send (several requests each, each
// writing here: checked with the user denied nothing) either succeeds or
// fails with ErrNoPermission and leaves every key of the prefix as it was:
// no stale key deleted, no group marked moving, no claim, no copy.
func TestS23bSweepAndMoveUnderDeniedCommands(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		denied := append([]string{""}, s23bCommands...)
		for i, deny := range denied {
			space := fmt.Sprintf("%ss23b%d", b.Prefix, i)
			rules := aclRules(t, leastPrivilege, space+"*")
			if deny != "" {
				rules = append(rules, "-"+deny)
			}
			app := b.NewUser(t, rules...)
			for j, c := range s23bCases() {
				prefix := fmt.Sprintf("%s_%d", space, j)
				c.setup(ctx, t, b.Client, prefix)
				before := s23bDump(ctx, t, b.Client, prefix)
				err := c.call(ctx, app, prefix)
				after := s23bDump(ctx, t, b.Client, prefix)
				what := fmt.Sprintf("%s denied %q", c.name, deny)
				switch {
				case deny == "" && (err != nil || after == before):
					t.Errorf("%s: %v, wrote something: %v (the case must write)", what, err, after != before)
				case err == nil:
				case !errors.Is(err, rapyer.ErrNoPermission):
					t.Errorf("%s: %v, want ErrNoPermission", what, err)
				case after != before:
					t.Errorf("%s: failed (%v) yet wrote:\n%s\nwas\n%s", what, err, after, before)
				}
			}
		}
	})
}
