package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// eachMaster runs f on every master of the backend.
func eachMaster(b *testenv.Backend, f func(context.Context, *redis.Client) error) error {
	if c, ok := b.Client.(*redis.ClusterClient); ok {
		return c.ForEachMaster(context.Background(), f)
	}
	return f(context.Background(), b.Client.(*redis.Client))
}

// keysOf lists every key under the backend's prefix with its PTTL.
func keysOf(t *testing.T, b *testenv.Backend) map[string]time.Duration {
	t.Helper()
	var mu sync.Mutex
	out := map[string]time.Duration{}
	if err := eachMaster(b, func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, b.Prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			ttl := c.PTTL(ctx, it.Val()).Val()
			mu.Lock()
			out[it.Val()] = ttl
			mu.Unlock()
		}
		return it.Err()
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLockActionsAreValidated: an action with a ':' could name another
// action's fence key ("pay:fence" is the fence of "pay"); such actions, and
// the others the layout cannot hold, are refused before anything is sent.
func TestLockActionsAreValidated(t *testing.T) {
	b := testenv.On(t, testenv.Mini)
	ctx := t.Context()
	m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{Wait: lock.NoWait}})
	if err := m.Save(ctx, "a", Account{Balance: 1}); err != nil {
		t.Fatal(err)
	}
	before := keysOf(t, b)
	for _, action := range []string{"pay:fence", "a:b", ":", "fence", "", "x y", "a{b}", "a*", "\xff", strings.Repeat("a", rapyer.MaxAction+1)} {
		if _, err := m.Lock(ctx, "a", action, func(context.Context, *Account) error { return nil }); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("action %q: %v, want ErrInvalid", action, err)
		}
		if _, err := rapyer.LockAll(ctx, action, []rapyer.Held{m.Hold("a", new(Account))}, func(context.Context) error { return nil }); !errors.Is(err, rapyer.ErrInvalid) {
			t.Errorf("LockAll with action %q: %v, want ErrInvalid", action, err)
		}
	}
	if after := keysOf(t, b); len(after) != len(before) {
		t.Fatalf("refused actions left keys: %v", after)
	}
	for _, action := range []string{"pay", "fences", "pay-fence", strings.Repeat("a", rapyer.MaxAction)} {
		if _, err := m.Lock(ctx, "a", action, func(context.Context, *Account) error { return nil }); err != nil {
			t.Errorf("action %q: %v", action, err)
		}
	}
}

// TestFailedModelLockLeavesNothingLasting: a Lock that fails (no such
// model, a root key of the wrong type) leaves no key without a TTL: before,
// it left a fence counter for ever, so a caller passing arbitrary ids grew
// memory without bound.
func TestFailedModelLockLeavesNothingLasting(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		for i := range 20 {
			id := "nobody" + strconv.Itoa(i)
			if _, err := m.Lock(ctx, id, "w", func(context.Context, *Account) error { return nil }); !errors.Is(err, rapyer.ErrNotFound) {
				t.Fatalf("Lock of a missing model: %v", err)
			}
		}
		root, _ := m.Key("wrong")
		b.Client.Set(ctx, root, "a string", 0)
		if _, err := m.Lock(ctx, "wrong", "w", func(context.Context, *Account) error { return nil }); err == nil {
			t.Fatal("Lock of a root key of the wrong type succeeded")
		}
		for k, ttl := range keysOf(t, b) {
			if k != root && ttl == -1 {
				t.Errorf("key %s has no TTL (%v) after failed Locks", k, ttl)
			}
			if strings.HasSuffix(k, ":lock:w") {
				t.Errorf("a failed Lock left its lock key %s", k)
			}
		}
	})
}

// TestEvictedLockRefusesTheSave: a held lock's key can be evicted under
// volatile-* policies (it has a TTL), as if it expired early; deleting it
// inside fn stands for that. The fenced save must then be refused with
// rapyer.ErrLockLost, atomically: nothing written.
func TestEvictedLockRefusesTheSave(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct"})
		start := Account{Owner: "o", Balance: 10, History: []string{"open"}, Limits: map[string]int{"day": 1}}
		if err := m.Save(ctx, "a", start); err != nil {
			t.Fatal(err)
		}
		root, _ := m.Key("a")
		before := keysOf(t, b)
		raw := b.Client.HGetAll(ctx, root).Val()
		_, err := m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error {
			a.Balance = 99
			a.History = append(a.History, "stale")
			a.Limits["day"] = 7
			return b.Client.Del(ctx, root+":lock:w").Err() // evicted
		})
		if !errors.Is(err, rapyer.ErrLockLost) || !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("save after the lock key was evicted: %v, want ErrLockLost", err)
		}
		got, err := m.Get(ctx, "a")
		if err != nil || got.Balance != 10 || len(got.History) != 1 || got.Limits["day"] != 1 {
			t.Fatalf("after a refused save: %+v, %v", got, err)
		}
		if after := b.Client.HGetAll(ctx, root).Val(); fmt.Sprint(after) != fmt.Sprint(raw) {
			t.Fatalf("the root hash changed (version included): %v, was %v", after, raw)
		}
		for k := range keysOf(t, b) {
			if _, ok := before[k]; !ok && !strings.Contains(k, ":fence") {
				t.Errorf("the refused save left key %s", k)
			}
		}
	})
}

// TestTimedOutModelLockLeavesNoLock: Model.Lock with deadlines from 1µs to
// a few times a lock cycle on a client with ContextTimeoutEnabled. A call
// that fails must not leave its lock held (before, about 1 in 100 did, for
// the lock's whole TTL: the abandoned acquire ran after the clean-up).
func TestTimedOutModelLockLeavesNoLock(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		r := rand.New(rand.NewPCG(uint64(seed), 12))
		ctx := context.Background()
		name := strings.TrimSuffix(b.Prefix, "_") + "tinymodel"
		rdb := b.NewClient(t, func(o *redis.UniversalOptions) {
			o.ContextTimeoutEnabled = true
			o.ClientName = name
		})
		m := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: b.Prefix + "acct", Lock: lock.Options{Wait: lock.NoWait, TTL: time.Minute}})
		const workers, calls = 4, 500
		for w := range workers {
			if err := m.Save(ctx, strconv.Itoa(w), Account{}); err != nil {
				t.Fatal(err)
			}
		}
		// A cycle's time here (under -race on a busy machine it is far
		// more than the 150µs of an optimised build).
		var took []time.Duration
		for range 21 {
			start := time.Now()
			if _, err := m.Lock(ctx, "0", "probe", func(_ context.Context, a *Account) error { a.Balance++; return nil }); err != nil {
				t.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		span := 4 * took[len(took)/2]
		var failed, won atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			deadlines := make([]time.Duration, calls)
			for i := range deadlines {
				deadlines[i] = time.Duration(1 + r.Int64N(int64(span)))
			}
			wg.Go(func() {
				for i, d := range deadlines {
					// An action per call: a lock left held by one call must
					// not make the next fail.
					cctx, cancel := context.WithTimeout(ctx, d)
					_, err := m.Lock(cctx, strconv.Itoa(w), "a"+strconv.Itoa(i), func(_ context.Context, a *Account) error { a.Balance++; return nil })
					cancel()
					if err != nil {
						failed.Add(1)
					} else {
						won.Add(1)
					}
				}
			})
		}
		wg.Wait()
		_ = rdb.Close()
		// Wait until the server dropped the closed client's connections: it
		// runs every request already read from one before freeing it.
		testenv.Eventually(t, "the server dropped the closed client's connections", func() bool {
			if b.Mini != nil {
				return b.Mini.CurrentConnectionCount() <= int(b.Client.PoolStats().TotalConns)
			}
			gone := true
			err := eachMaster(b, func(ctx context.Context, c *redis.Client) error {
				list, err := c.ClientList(ctx).Result()
				if strings.Contains(list, "name="+name+" ") {
					gone = false
				}
				return err
			})
			return err == nil && gone
		})
		held := 0
		for k, ttl := range keysOf(t, b) {
			if strings.Contains(k, ":lock:") && !strings.Contains(k, ":fence") {
				held++
				t.Logf("left held: %s (PTTL %v)", k, ttl)
			}
		}
		t.Logf("deadlines up to %v: %d calls, %d saved, %d failed, %d locks left held", span, workers*calls, won.Load(), failed.Load(), held)
		if held > 0 {
			t.Fatalf("%d locks left held by failed calls", held)
		}
	})
}

// onReal runs f on the real server and cluster: miniredis has no ACLs.
func onReal(t *testing.T, f func(t *testing.T, b *testenv.Backend)) {
	for _, k := range []testenv.Kind{testenv.Server, testenv.Cluster} {
		t.Run(string(k), func(t *testing.T) { f(t, testenv.On(t, k)) })
	}
}

// aclClient makes an ACL user with exactly rules on every node of the
// backend (testenv.ACLUser) and returns a client logged in as it.
func aclClient(t *testing.T, b *testenv.Backend, rules ...string) redis.UniversalClient {
	t.Helper()
	return b.NewUser(t, rules...)
}

// TestModelLockAsFCallOnlyUser: a user allowed FCALL but no EVAL, EVALSHA
// or FUNCTION LOAD (an admin loaded the library) locks, saves and releases.
func TestModelLockAsFCallOnlyUser(t *testing.T) {
	onReal(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		if err := lua.Library.Load(ctx, b.Client); err != nil {
			t.Fatal(err)
		}
		rdb := aclClient(t, b, "~"+b.Prefix+"*", "~tx{*", "&*", "+@all", "-eval", "-evalsha", "-eval_ro", "-evalsha_ro", "-script", "-function")
		if err := rdb.Eval(ctx, "return 1", nil).Err(); err == nil || !redis.HasErrorPrefix(err, "NOPERM") {
			t.Fatalf("EVAL as the FCALL-only user: %v; the test proves nothing", err)
		}
		m := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: b.Prefix + "acct"})
		if err := m.Save(ctx, "a", Account{Balance: 1}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := m.Lock(ctx, "a", "w", func(_ context.Context, a *Account) error { a.Balance++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := m.Get(ctx, "a"); err != nil || got.Balance != 4 {
			t.Fatalf("after three locked increments: %+v, %v", got, err)
		}
	})
}
