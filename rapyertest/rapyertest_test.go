package rapyertest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/rapyertest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var prefixShape = regexp.MustCompile(`^rt_[a-z0-9_]+_$`)

// The body of ExampleModel, run.
func TestWithdraw(t *testing.T) {
	ctx := t.Context()
	accounts := rapyertest.Model[Account](t, rapyer.Options{})
	if err := accounts.Save(ctx, "alice", Account{Balance: 100}); err != nil {
		t.Fatal(err)
	}
	if err := Withdraw(ctx, accounts, "alice", 30); err != nil {
		t.Fatal(err)
	}
	if err := Withdraw(ctx, accounts, "alice", 100); !errors.Is(err, rapyer.ErrPrecondition) {
		t.Fatalf("overdraft: got %v, want ErrPrecondition", err)
	}
	a, err := accounts.Get(ctx, "alice")
	if err != nil || a.Balance != 70 || len(a.History) != 1 {
		t.Fatalf("got %+v, %v", a, err)
	}
}

// The body of ExampleMiniredis, run.
func TestSessionExpires(t *testing.T) {
	t.Setenv(rapyertest.URLEnv, "")
	ctx := t.Context()
	sessions := rapyertest.Model[Account](t, rapyer.Options{TTL: time.Hour})
	if err := sessions.Save(ctx, "s1", Account{}); err != nil {
		t.Fatal(err)
	}
	mr := rapyertest.Miniredis(t)
	if mr == nil {
		t.Fatal("no embedded server without REDIS_URL")
	}
	mr.FastForward(time.Hour)
	if ok, err := sessions.Exists(ctx, "s1"); ok || err != nil {
		t.Fatalf("the session outlived its TTL: %v %v", ok, err)
	}
}

func TestOneTestOneBackend(t *testing.T) {
	t.Setenv(rapyertest.URLEnv, "")
	c1, c2 := rapyertest.Client(t), rapyertest.Client(t)
	if c1 != c2 {
		t.Fatal("two clients for one test")
	}
	p := rapyertest.Prefix(t)
	if p != rapyertest.Prefix(t) || !prefixShape.MatchString(p) || !strings.HasPrefix(p, "rt_testonetestonebackend_") {
		t.Fatalf("prefix %q", p)
	}
	mr := rapyertest.Miniredis(t)
	if mr == nil {
		t.Fatal("no embedded server")
	}
	if err := c1.Set(t.Context(), p+"k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := mr.Get(p + "k"); got != "v" {
		t.Fatalf("the client and the embedded server disagree: %q", got)
	}

	var sub struct {
		prefix string
		client redis.UniversalClient
	}
	t.Run("sub test", func(t *testing.T) {
		sub.prefix, sub.client = rapyertest.Prefix(t), rapyertest.Client(t)
		if n, err := sub.client.Exists(t.Context(), p+"k").Result(); err != nil || n != 0 {
			t.Fatalf("a subtest sees its parent's data: %d %v", n, err)
		}
	})
	if sub.prefix == p || !prefixShape.MatchString(sub.prefix) || sub.client == c1 {
		t.Fatalf("a subtest shares its parent's backend: %q %q", sub.prefix, p)
	}
	if err := sub.client.Ping(context.Background()).Err(); err == nil {
		t.Fatal("the subtest's client is still open after it ended")
	}
}

func TestPrefixesAreUniqueAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	var mu sync.Mutex
	names := []string{"a", "A b/C", strings.Repeat("Long_Name-", 10), "ünïcode", "__"}
	for _, name := range names {
		for range 3 {
			t.Run(name, func(t *testing.T) {
				p := rapyertest.Prefix(t)
				mu.Lock()
				defer mu.Unlock()
				if seen[p] || !prefixShape.MatchString(p) || len(p) > 64 {
					t.Fatalf("prefix %q: seen %v", p, seen[p])
				}
				seen[p] = true
			})
		}
	}
}

func TestModelKeysStartWithTheTestPrefix(t *testing.T) {
	t.Setenv(rapyertest.URLEnv, "")
	type Ledger struct{ Lines []string }
	m := rapyertest.Model[Ledger](t, rapyer.Options{})
	named := rapyertest.Model[Ledger](t, rapyer.Options{Prefix: "books"})
	p := rapyertest.Prefix(t)
	if m.Prefix() != p+"ledger" || named.Prefix() != p+"books" {
		t.Fatalf("prefixes %q %q under %q", m.Prefix(), named.Prefix(), p)
	}
	if err := m.Save(t.Context(), "x", Ledger{Lines: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range rapyertest.Miniredis(t).Keys() {
		// Batch records (tx{<slot tag>}:<id>) live outside every prefix and
		// expire on their own (tx.DefaultRecord).
		if !strings.HasPrefix(k, p) && !strings.HasPrefix(k, "tx{") {
			t.Fatalf("key %q does not start with %q", k, p)
		}
	}
}

// On REDIS_URL a test's keys are deleted when it ends, and nothing else is:
// neither the keys of other programs nor those of a test still running.
func TestRealServerKeepsWhatIsNotTheTests(t *testing.T) {
	srv := testenv.StartServer(t)
	t.Setenv(rapyertest.URLEnv, "redis://"+srv.Addr()+"/0")
	admin := srv.Client(t)
	ctx := context.Background()
	if err := admin.Set(ctx, "other:program", "keep", 0).Err(); err != nil {
		t.Fatal(err)
	}

	var outer string
	t.Run("outer", func(t *testing.T) {
		outer = rapyertest.Prefix(t)
		if err := rapyertest.Client(t).Set(t.Context(), outer+"raw", "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		var inner string
		t.Run("inner", func(t *testing.T) {
			inner = rapyertest.Prefix(t)
			if rapyertest.Miniredis(t) != nil {
				t.Fatal("an embedded server on REDIS_URL")
			}
			accounts := rapyertest.Model[Account](t, rapyer.Options{})
			if err := accounts.Save(t.Context(), "alice", Account{Balance: 1, History: []string{"open"}}); err != nil {
				t.Fatal(err)
			}
			if err := Withdraw(t.Context(), accounts, "alice", 1); err != nil {
				t.Fatal(err)
			}
			if n := countPrefix(t, admin, inner); n < 2 {
				t.Fatalf("%d keys under %q, want the root and the history", n, inner)
			}
		})
		if n := countPrefix(t, admin, inner); n != 0 {
			t.Fatalf("%d keys of the ended subtest are left", n)
		}
		if n := countPrefix(t, admin, outer); n != 1 {
			t.Fatalf("the running test's key is gone (%d keys)", n)
		}
	})
	if n := countPrefix(t, admin, outer); n != 0 {
		t.Fatalf("%d keys of the ended test are left", n)
	}
	if got, err := admin.Get(ctx, "other:program").Result(); err != nil || got != "keep" {
		t.Fatalf("another program's key: %q %v", got, err)
	}
	// Besides the other program's key, only batch records are left: they
	// live outside every prefix and expire on their own (tx.DefaultRecord).
	if n, err := admin.DBSize(ctx).Result(); err != nil || n != 1+int64(countPrefix(t, admin, "tx{")) {
		t.Fatalf("DBSIZE %d %v, want 1 and the batch records", n, err)
	}
}

func countPrefix(t *testing.T, c *redis.Client, prefix string) int {
	t.Helper()
	keys, err := c.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func TestDeletePrefixOnACluster(t *testing.T) {
	b := testenv.On(t, testenv.Cluster)
	ctx := t.Context()
	for i := range 50 {
		if err := b.Client.Set(ctx, fmt.Sprintf("%sk%d", b.Prefix, i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	keep := b.Prefix + "x"
	if err := b.Client.Set(ctx, keep, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rapyertest.DeletePrefix(ctx, b.Client, b.Prefix+"k"); err != nil {
		t.Fatal(err)
	}
	var left atomic.Int64
	err := b.Client.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, b.Prefix+"k*").Result()
		left.Add(int64(len(keys)))
		return err
	})
	if err != nil || left.Load() != 0 {
		t.Fatalf("%d keys left: %v", left.Load(), err)
	}
	if n, err := b.Client.Exists(ctx, keep).Result(); err != nil || n != 1 {
		t.Fatalf("a key outside the prefix was deleted: %d %v", n, err)
	}
}

func TestDeletePrefixRefusesPatterns(t *testing.T) {
	for _, p := range []string{"", "*", "a*", "a?", "a[b]", `a\`} {
		if err := rapyertest.DeletePrefix(context.Background(), nil, p); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("DeletePrefix(%q): %v, want ErrInvalid", p, err)
		}
	}
}

// TestDeletePrefixRefusesANilClient: a nil client, untyped or typed, is
// ErrInvalid, not a nil dereference.
func TestDeletePrefixRefusesANilClient(t *testing.T) {
	var typed *redis.Client
	for _, rdb := range []redis.UniversalClient{nil, typed} {
		if err := rapyertest.DeletePrefix(context.Background(), rdb, "rt_x_"); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("DeletePrefix on %#v: %v, want ErrInvalid", rdb, err)
		}
	}
}

// fatal is a testing.TB whose Fatal ends the goroutine, as the real one does,
// and records the message.
type fatal struct {
	testing.TB
	mu       sync.Mutex
	msg      string
	cleanups []func()
}

func (f *fatal) Helper()      {}
func (f *fatal) Name() string { return "TestFake" }
func (f *fatal) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}
func (f *fatal) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatal) run(fn func(testing.TB)) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return f.msg
}

// A REDIS_URL that is wrong fails the test, saying why, with the password
// hidden; it is never skipped.
func TestBadRedisURLFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	for _, c := range []struct{ url, want string }{
		{"http://" + dead, "REDIS_URL"},
		{"redis://user:secret@" + dead + "/0", "does not answer"},
	} {
		t.Setenv(rapyertest.URLEnv, c.url)
		f := &fatal{TB: t}
		msg := f.run(func(tb testing.TB) { rapyertest.Client(tb) })
		if !strings.Contains(msg, c.want) || strings.Contains(msg, "secret") {
			t.Errorf("%s: message %q, want one with %q and no password", c.url, msg, c.want)
		}
	}
}
