package lua_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
)

type acct struct {
	Owner   string
	Balance int
	History []string
}

var (
	owner   = lens.Of(func(a *acct) *string { return &a.Owner })
	balance = lens.Of(func(a *acct) *int { return &a.Balance })
	history = lens.Of(func(a *acct) *[]string { return &a.History })
)

// TestACLCheckCost measures what the ACL checks of prewrite (one
// redis.acl_check_cmd per command and key of the write phase) cost the
// server: the usec_per_call of FCALL (INFO commandstats) over a 3-op batch
// (Incr, Set, Append, with its record), run by the interpreter and by the
// same text with the checks taken out, as the default user and as a user
// with a restricted ACL. It logs the figures (go test -v -run
// TestACLCheckCost ./internal/lua); it asserts only that every batch ran.
func TestACLCheckCost(t *testing.T) {
	const calls = 4000
	s := testenv.StartServer(t)
	admin := s.Client(t)
	ctx := context.Background()
	if err := admin.Do(ctx, "acl", "setuser", "limited", "on", ">pw", "~*", "&*", "+@all", "-hdel").Err(); err != nil {
		t.Fatal(err)
	}
	limited := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "limited", Password: "pw"})
	t.Cleanup(func() { _ = limited.Close() })

	src := strings.Replace(lua.BatchSource, "ACL = redis.acl_check_cmd", "ACL = nil", 1)
	if src == lua.BatchSource {
		t.Fatal("the interpreter no longer sets ACL = redis.acl_check_cmd")
	}
	libs := map[string]*script.Library{
		"checks":    script.NewParts("costa", script.Part{Source: lua.BatchSource, Entries: []string{"batch"}}),
		"no checks": script.NewParts("costb", script.Part{Source: src, Entries: []string{"batch"}}),
	}
	for _, l := range libs {
		if err := l.Load(ctx, admin); err != nil {
			t.Fatal(err)
		}
	}
	sm, err := schema.For[acct]()
	if err != nil {
		t.Fatal(err)
	}
	target := prog.Target{Root: "a:{x}", Model: sm}
	if err := admin.HSet(ctx, target.Root, "__v", "1").Err(); err != nil {
		t.Fatal(err)
	}
	usec := regexp.MustCompile(`cmdstat_fcall:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)`)
	measure := func(c *redis.Client, lib *script.Library) float64 {
		t.Helper()
		fn := lib.Func("batch").Name()
		if err := admin.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		for i := range calls {
			b := prog.NewBuilder()
			b.Declare(target, prog.Need)
			for _, o := range []ops.Op{ops.Incr(balance, 1), ops.Set(owner, "o"), ops.Append(history, "h")} {
				if err := o.Compile(b, target); err != nil {
					t.Fatal(err)
				}
			}
			p := b.Build(prog.Header{ID: strconv.Itoa(i), Record: "a:{x}:tx:" + strconv.Itoa(i), RecordMS: 60000})
			reply, err := c.FCall(ctx, fn, p.Keys, p.Argv...).Result()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := transport.Decode(p, reply); err != nil {
				t.Fatal(err)
			}
			if i%500 == 0 {
				_ = admin.Del(ctx, "a:{x}:history").Err() // keep the list small
			}
		}
		info, err := admin.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		m := usec.FindStringSubmatch(info)
		if m == nil {
			t.Fatalf("no fcall in %s", info)
		}
		f, _ := strconv.ParseFloat(m[3], 64)
		return f
	}
	var report []string
	for _, who := range []struct {
		name string
		c    *redis.Client
	}{{"default user", admin}, {"restricted user", limited}} {
		// alternate, three times, and keep the least of each side: a busy
		// moment of the machine only adds
		measure(who.c, libs["checks"]) // warm up
		best := [2]float64{1e9, 1e9}
		for range 4 {
			best[0] = min(best[0], measure(who.c, libs["no checks"]))
			best[1] = min(best[1], measure(who.c, libs["checks"]))
		}
		report = append(report, fmt.Sprintf("%s: %.2f µs per batch without the checks, %.2f with (%+.2f)", who.name, best[0], best[1], best[1]-best[0]))
	}
	for _, r := range report {
		t.Log(r)
	}
}
