package script_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// greet sets keys[1] to a greeting made by a helper at the library's top
// level, and returns it.
var greet = script.New("rapyertest", `
local hello = 'hello '
local function greeting(who) return hello .. who end
local function greet(keys, args)
  redis.call('SET', keys[1], greeting(args[1]))
  return redis.call('GET', keys[1])
end
local function count(keys, args)
  return redis.call('INCR', keys[1])
end
`, "greet", "count")

func run(t *testing.T, c redis.UniversalClient, f *script.Func, key string, args ...any) any {
	t.Helper()
	v, err := f.Run(context.Background(), c, script.Command([]string{key}, args...)).Result()
	if err != nil {
		t.Fatalf("%s: %v", f.Name(), err)
	}
	return v
}

// wantCommands runs f once and checks the commands it took.
func wantCommands(t *testing.T, c redis.UniversalClient, key string, want ...string) {
	t.Helper()
	counter := testenv.CountRoundTrips(c)
	if got := run(t, c, greet.Func("greet"), key, "ann"); got != "hello ann" {
		t.Fatalf("greet returned %v", got)
	}
	if got := counter.Commands(); !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
}

func TestRunLoadsTheLibraryOnceAndThenCallsIt(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		if err := testenv.FlushLua(ctx, b.Client); err != nil {
			t.Fatal(err)
		}
		key := b.Prefix + "k"
		switch b.Kind {
		case testenv.Mini:
			// No functions: the entry point runs as a script, EVAL first
			// (the cache is empty), EVALSHA from then on.
			wantCommands(t, b.Client, key, "fcall", "evalsha", "eval")
			wantCommands(t, b.Client, key, "evalsha")
		case testenv.Server:
			wantCommands(t, b.Client, key, "fcall", "function", "fcall")
			wantCommands(t, b.Client, key, "fcall")
		case testenv.Cluster:
			// Loaded on every master, so that no slot misses it later.
			wantCommands(t, b.Client, key, "fcall", "function", "function", "function", "fcall")
			for i := range 20 {
				wantCommands(t, b.Client, b.Prefix+strings.Repeat("x", i), "fcall")
			}
		}
		if b.Kind != testenv.Mini {
			libs, err := b.Client.FunctionList(ctx, redis.FunctionListQuery{LibraryNamePattern: greet.Name()}).Result()
			if err != nil || len(libs) != 1 || len(libs[0].Functions) != 2 {
				t.Fatalf("FUNCTION LIST %s: %v %v", greet.Name(), libs, err)
			}
		}
	})
}

// TestAMasterThatLostTheLibrary: one master of a cluster is flushed (as a
// restart or a new node would be): calls to its slots load the library
// again; the others never notice.
func TestAMasterThatLostTheLibrary(t *testing.T) {
	b := testenv.On(t, testenv.Cluster)
	ctx := context.Background()
	cc := b.Client.(*redis.ClusterClient)
	run(t, cc, greet.Func("count"), b.Prefix+"warm")
	key := b.Prefix + "lost"
	node, err := cc.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.FunctionFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got := run(t, cc, greet.Func("count"), key); got != int64(1) {
		t.Fatalf("count returned %v", got)
	}
	if got := run(t, cc, greet.Func("count"), key); got != int64(2) {
		t.Fatalf("count returned %v", got)
	}
}

// TestFunctionLoadForbiddenFallsBackToScripts: a user whose ACL forbids
// FUNCTION (but allows FCALL and EVAL) gets the entry point as a script.
func TestFunctionLoadForbiddenFallsBackToScripts(t *testing.T) {
	srv := testenv.StartServer(t)
	ctx := context.Background()
	admin := srv.Client(t)
	if err := admin.Do(ctx, "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-function").Err(); err != nil {
		t.Fatal(err)
	}
	app := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "app", Password: "pw"})
	t.Cleanup(func() { _ = app.Close() })
	if err := app.FunctionLoad(ctx, greet.Code()).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("FUNCTION LOAD as app: %v, want NOPERM", err)
	}
	wantCommands(t, app, "k", "fcall", "function", "evalsha", "eval")
	wantCommands(t, app, "k", "evalsha")
	// The admin loads the library: the app keeps to scripts, which work.
	if err := greet.Load(ctx, admin); err != nil {
		t.Fatal(err)
	}
	wantCommands(t, app, "k", "evalsha")

	// A user who may not even FCALL: scripts from the first reply on.
	if err := admin.Do(ctx, "ACL", "SETUSER", "nofcall", "on", ">pw", "~*", "&*", "+@all", "-function", "-fcall").Err(); err != nil {
		t.Fatal(err)
	}
	nofcall := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "nofcall", Password: "pw"})
	t.Cleanup(func() { _ = nofcall.Close() })
	wantCommands(t, nofcall, "k", "fcall", "evalsha")
	wantCommands(t, nofcall, "k", "evalsha")
	// Queue and Recover, with a client that has not learned it yet: Queue's
	// load is refused for want of permission, so the call goes by FCALL (an
	// administrator may have loaded the library), which the user may not
	// run (NOPERM about FCALL): then as a script, whose first try finds the
	// script cache without it (NOSCRIPT); then it runs.
	fresh := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "nofcall", Password: "pw"})
	t.Cleanup(func() { _ = fresh.Close() })
	f := greet.Func("count")
	var refusals []string
	for try := 0; ; try++ {
		var cmd *redis.Cmd
		_, err := fresh.TxPipelined(ctx, func(p redis.Pipeliner) error {
			cmd = f.Queue(ctx, fresh, p, script.Command([]string{"n"}))
			return nil
		})
		if err == nil {
			break
		}
		again, rerr := f.Recover(ctx, fresh, cmd.Err())
		if !again || rerr != nil || try == 3 {
			t.Fatalf("try %d: %v; Recover: %v %v", try, err, again, rerr)
		}
		refusals = append(refusals, strings.Fields(cmd.Err().Error())[0])
	}
	if want := []string{"NOPERM", "NOSCRIPT"}; !slices.Equal(refusals, want) {
		t.Fatalf("refused with %v, want %v", refusals, want)
	}
}

// TestQueueAndRecoverInATransaction: a call queued in MULTI that meets a
// server without the function (or without FCALL) is reported as missing;
// Recover makes the next try succeed.
func TestQueueAndRecoverInATransaction(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		if err := testenv.FlushLua(ctx, b.Client); err != nil {
			t.Fatal(err)
		}
		script.Forget(b.Client)
		key := b.Prefix + "tx"
		f := greet.Func("count")
		exec := func() (*redis.Cmd, error) {
			var cmd *redis.Cmd
			_, err := b.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
				cmd = f.Queue(ctx, b.Client, p, script.Command([]string{key}))
				return nil
			})
			return cmd, err
		}
		tries := 0
		for {
			tries++
			cmd, err := exec()
			if err == nil {
				if cmd.Val() != int64(1) {
					t.Fatalf("count returned %v: a missed call ran", cmd.Val())
				}
				break
			}
			if !script.Missing(cmd.Err()) {
				t.Fatalf("try %d: %v", tries, err)
			}
			again, rerr := f.Recover(ctx, b.Client, cmd.Err())
			if rerr != nil || !again {
				t.Fatalf("Recover(%v) = %v, %v", cmd.Err(), again, rerr)
			}
			if tries > 3 {
				t.Fatalf("still missing after %d tries: %v", tries, err)
			}
		}
		// The first Queue of a client loads the library (on miniredis it
		// learns there are no functions, and sends that first call with
		// its text, EVAL, which cannot miss). Later flushes cost one try
		// each.
		want := 1
		if tries != want {
			t.Fatalf("took %d tries, want %d", tries, want)
		}
		if err := testenv.FlushLua(ctx, b.Client); err != nil {
			t.Fatal(err)
		}
		tries = 0
		for {
			tries++
			cmd, err := exec()
			if err == nil {
				if cmd.Val() != int64(2) {
					t.Fatalf("count returned %v", cmd.Val())
				}
				break
			}
			if again, rerr := f.Recover(ctx, b.Client, cmd.Err()); !again || rerr != nil || tries > 3 {
				t.Fatalf("after a second flush: %v; Recover: %v %v", err, again, rerr)
			}
		}
		if tries != 2 {
			t.Fatalf("after a second flush: %d tries, want 2", tries)
		}
		if ok, err := f.Recover(ctx, b.Client, errors.New("ERR something else")); ok || err != nil {
			t.Fatalf("Recover of another error: %v %v", ok, err)
		}
	})
}

// wrapped is a client type that cannot be a map key.
type wrapped struct {
	*redis.Client
	tags []string
}

func TestAClientThatIsNotComparable(t *testing.T) {
	b := testenv.On(t, testenv.Server)
	c := wrapped{Client: b.Client.(*redis.Client), tags: []string{"x"}}
	for range 3 {
		if got := run(t, c, greet.Func("greet"), b.Prefix+"w", "bo"); got != "hello bo" {
			t.Fatalf("greet returned %v", got)
		}
	}
}

func TestLibrariesOfTwoVersionsLiveSideBySide(t *testing.T) {
	b := testenv.On(t, testenv.Server)
	other := script.New("rapyertest", `local function greet(keys, args) return 'v2 ' .. args[1] end`, "greet")
	if other.Name() == greet.Name() || other.Func("greet").Name() == greet.Func("greet").Name() {
		t.Fatalf("two texts share a name: %s", other.Name())
	}
	if got := run(t, b.Client, other.Func("greet"), b.Prefix+"v", "x"); got != "v2 x" {
		t.Fatalf("v2 returned %v", got)
	}
	if got := run(t, b.Client, greet.Func("greet"), b.Prefix+"v", "x"); got != "hello x" {
		t.Fatalf("v1 returned %v", got)
	}
}

func TestFuncPanicsOnAnUnknownEntryPoint(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "nope") {
			t.Fatalf("recovered %v", r)
		}
	}()
	greet.Func("nope")
}
