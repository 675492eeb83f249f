package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s21Plant turns k into what plant names: a key of another Redis type, or
// one of its own type holding garbage.
func s21Plant(ctx context.Context, rdb redis.UniversalClient, k, plant string) {
	rdb.Del(ctx, k)
	switch plant {
	case "list":
		rdb.RPush(ctx, k, "x")
	case "hash":
		rdb.HSet(ctx, k, "m", "garbage", "x", "y")
	case "set":
		rdb.SAdd(ctx, k, "m")
	case "zset":
		rdb.ZAdd(ctx, k, redis.Z{Member: "m"}, redis.Z{Member: "\x02\x011m", Score: 5})
	case "string":
		rdb.Set(ctx, k, "garbage", 0)
	}
}

// s21Calls are the calls a user makes on an indexed model.
var s21Calls = []struct {
	name  string
	write bool
	call  func(ctx context.Context, m *rapyer.Model[ixUser]) error
}{
	{"Save", true, func(ctx context.Context, m *rapyer.Model[ixUser]) error {
		return m.Save(ctx, "m", ixUser{Email: "m2", Age: 2, Tags: map[string]struct{}{"u": {}}})
	}},
	{"Exec", true, func(ctx context.Context, m *rapyer.Model[ixUser]) error {
		_, err := m.Exec(ctx, "m", tx.Of(ops.Incr(ixAge, 2)))
		return err
	}},
	{"Expire", true, func(ctx context.Context, m *rapyer.Model[ixUser]) error {
		_, err := m.Exec(ctx, "m", tx.Of(ops.Expire[ixUser](time.Hour)))
		return err
	}},
	{"Lock", true, func(ctx context.Context, m *rapyer.Model[ixUser]) error {
		_, err := m.Lock(ctx, "m", "w", func(_ context.Context, u *ixUser) error { u.Age = 4; return nil })
		return err
	}},
	{"Delete", true, func(ctx context.Context, m *rapyer.Model[ixUser]) error {
		_, err := m.Delete(ctx, "m")
		return err
	}},
	{"Get", false, func(ctx context.Context, m *rapyer.Model[ixUser]) error {
		_, err := m.Get(ctx, "m")
		return err
	}},
	{"GetMany", false, func(ctx context.Context, m *rapyer.Model[ixUser]) error {
		_, _, err := m.GetMany(ctx, []string{"m", "n"})
		return err
	}},
	{"Find", false, func(ctx context.Context, m *rapyer.Model[ixUser]) error {
		for _, err := range m.Find(ctx, query.Where(is.Equal(ixAge, 1))) {
			if err != nil {
				return err
			}
		}
		_, err := m.Count(ctx, query.Where(is.Member(ixTags, "t")))
		return err
	}},
}

// Every bookkeeping key of a group's indexes (@ids, an index, a unique
// index, @back, @exp, @meta) turned into another Redis type, or holding
// garbage, by hand: every call on the model ends (DESIGN 5.12: no panic
// from data in Redis); a call that fails, fails typed and writes nothing
// (5.2).
func TestS21CorruptIndexBookkeeping(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		n := 0
		// On alone: the compiled shapes keep the index; with Members and
		// Unique, the interpreter
		for _, specs := range [][]index.Spec{{index.On(ixAge), index.Members(ixTags), index.Unique(ixEmail)}, {index.On(ixAge)}} {
			for _, key := range []string{"@ids", "@i:age", "@i:tags", "@u:email", "@back", "@exp", "@meta"} {
				for _, plant := range []string{"list", "hash", "set", "zset", "string"} {
					for _, c := range s21Calls {
						n++
						prefix := fmt.Sprintf("%ss21ix%d", b.Prefix, n)
						m, err := rapyer.New[ixUser](b.Client, rapyer.Options{Prefix: prefix, Indexes: specs, Groups: 1})
						if err != nil {
							t.Fatal(err)
						}
						if err := m.Save(ctx, "m", ixUser{Email: "m", Age: 1, Tags: map[string]struct{}{"t": {}}}); err != nil {
							t.Fatal(err)
						}
						o := ixcheck.MustNew[ixUser](t, b.Client, prefix, 1, specs, m.IDs)
						k := o.Base(0) + ":" + key
						s21Plant(ctx, b.Client, k, plant)
						before := s21Dump(ctx, t, m, k)
						err = s21Call(ctx, m, c.call)
						what := fmt.Sprintf("%s with %s as a %s (%d indexes)", c.name, key, plant, len(specs))
						if err == nil {
							continue
						}
						if !errs.Typed(err) {
							t.Errorf("%s: untyped %v", what, err)
							continue
						}
						if errors.Is(err, rapyer.ErrPartlyApplied) {
							t.Errorf("%s: %v", what, err)
							continue
						}
						if after := s21Dump(ctx, t, m, k); c.write && after != before {
							t.Errorf("%s: failed (%v) yet wrote:\n%s\nwas\n%s", what, err, after, before)
						}
					}
				}
			}
		}
	})
}

// s21Call runs call, turning a panic into a failure of the test.
func s21Call(ctx context.Context, m *rapyer.Model[ixUser], call func(context.Context, *rapyer.Model[ixUser]) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return call(ctx, m)
}

// s21Dump is model m's stored keys and k, as text.
func s21Dump(ctx context.Context, t *testing.T, m *rapyer.Model[ixUser], k string) string {
	t.Helper()
	rdb := m.Client()
	keys, err := m.Keys("m")
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, key := range append(keys, k) {
		ty := rdb.Type(ctx, key).Val()
		var v any
		switch ty {
		case "hash":
			v = rdb.HGetAll(ctx, key).Val()
		case "set":
			v = rdb.SMembers(ctx, key).Val()
		case "list":
			v = rdb.LRange(ctx, key, 0, -1).Val()
		case "zset":
			v = rdb.ZRangeWithScores(ctx, key, 0, -1).Val()
		case "string":
			v = rdb.Get(ctx, key).Val()
		}
		out += fmt.Sprintf("%s %s %v\n", key, ty, v)
	}
	return out
}

// A user of the least-privilege line denied one command the indexes use
// (TIME: the deadlines and purges; ZADD, ZREM, HSETNX, ZRANGEBYSCORE,
// ZCARD, TYPE): every call on an indexed model, one with a TTL included,
// is applied or fails typed, never partly applied.
func TestS21IndexesOfAUserDeniedOneCommand(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		specs := []index.Spec{index.On(ixAge), index.Members(ixTags), index.Unique(ixEmail)}
		n := 0
		for _, deny := range []string{"time", "zadd", "zrem", "hsetnx", "zrangebyscore", "zcard", "type", "pttl"} {
			for _, ttl := range []bool{false, true} {
				for _, c := range s21Calls {
					n++
					prefix := fmt.Sprintf("%ss21acl%d", b.Prefix, n)
					app := b.NewUser(t, append(aclRules(t, leastPrivilege, prefix), "-"+deny)...)
					admin := rapyer.MustNew[ixUser](b.Client, rapyer.Options{Prefix: prefix, Indexes: specs, Groups: 1})
					if err := admin.Save(ctx, "m", ixUser{Email: "m", Age: 1, Tags: map[string]struct{}{"t": {}}}); err != nil {
						t.Fatal(err)
					}
					if ttl {
						if err := admin.Expire(ctx, "m", time.Hour); err != nil {
							t.Fatal(err)
						}
					}
					m := rapyer.MustNew[ixUser](app, rapyer.Options{Prefix: prefix, Indexes: specs, Groups: 1})
					before := s21Dump(ctx, t, admin, admin.Prefix()+":@ids")
					err := s21Call(ctx, m, c.call)
					what := fmt.Sprintf("%s denied %s (TTL %v)", c.name, deny, ttl)
					switch {
					case err == nil:
					case !errs.Typed(err) || errors.Is(err, rapyer.ErrPartlyApplied):
						t.Errorf("%s: %v", what, err)
					case c.write && s21Dump(ctx, t, admin, admin.Prefix()+":@ids") != before:
						t.Errorf("%s: failed (%v) yet wrote", what, err)
					}
				}
			}
		}
	})
}
