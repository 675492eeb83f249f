package ops_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Window is the model of the CreateIfMissing tests: a rate limiter's
// window, with a collection.
type Window struct {
	Count int
	Owner string
	Seen  []string
}

var (
	WCount = lens.Of(func(w *Window) *int { return &w.Count })
	WOwner = lens.Of(func(w *Window) *string { return &w.Owner })
	WSeen  = lens.Of(func(w *Window) *[]string { return &w.Seen })
)

func windows(t *testing.T, b *testenv.Backend, name string, ttl time.Duration) *rapyer.Model[Window] {
	t.Helper()
	m, err := rapyer.New[Window](b.Client, rapyer.Options{Prefix: b.Prefix + name, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pttl is the remaining lifetime of a key (-1: none, -2: no key).
func pttl(t *testing.T, b *testenv.Backend, k string) time.Duration {
	t.Helper()
	d, err := b.Client.PTTL(context.Background(), k).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCreateIfMissingCreates: on a missing model the batch creates it with
// v, its ops counting from v, with the model's TTL on every key it writes
// and a first version from the clock, as Create gives.
func TestCreateIfMissingCreates(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := windows(t, b, "w", time.Hour)
		incr := ops.Incr(WCount, 1)
		// the op stands last: it still goes first
		res, err := m.Exec(ctx, "x", tx.Of(ops.Require(is.AtMost(WCount, 9)), incr, ops.Append(WSeen, "r1"), ops.CreateIfMissing(Window{Count: 9, Owner: "ann"})))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := incr.Result(res); err != nil || n != 10 {
			t.Fatalf("Incr yielded %d, %v; want 10 (counting from v's 9)", n, err)
		}
		got, v, err := m.GetWithVersion(ctx, "x")
		if err != nil || got.Count != 10 || got.Owner != "ann" || len(got.Seen) != 1 {
			t.Fatalf("created %+v, %v", got, err)
		}
		if err := m.Create(ctx, "y", Window{}); err != nil {
			t.Fatal(err)
		}
		_, vc, _ := m.GetWithVersion(ctx, "y")
		if v < 1e15 || vc < v || vc-v > int64(time.Minute/time.Microsecond) {
			t.Fatalf("first version %d; Create's a moment later %d: want both from the clock", v, vc)
		}
		ks, _ := m.Keys("x")
		for _, k := range ks[:2] { // the root and the list
			if d := pttl(t, b, k); d < 59*time.Minute {
				t.Fatalf("%s has a TTL of %s; want the model's hour", k, d)
			}
		}
	})
}

// TestCreateIfMissingOnAnExistingModel: it does nothing; the TTL and the
// fields stay as they were.
func TestCreateIfMissingOnAnExistingModel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := windows(t, b, "w", time.Hour)
		if err := m.Save(ctx, "x", Window{Count: 2, Owner: "bob"}); err != nil {
			t.Fatal(err)
		}
		root, _ := m.Key("x")
		if err := b.Client.PExpire(ctx, root, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		_, v0, _ := m.GetWithVersion(ctx, "x")
		if _, err := m.Exec(ctx, "x", tx.Of(ops.CreateIfMissing(Window{Count: 100, Owner: "new"}), ops.Require(is.AtMost(WCount, 2)), ops.Incr(WCount, 1))); err != nil {
			t.Fatal(err)
		}
		got, v, err := m.GetWithVersion(ctx, "x")
		if err != nil || got.Count != 3 || got.Owner != "bob" || v != v0+1 {
			t.Fatalf("after the batch: %+v version %d (was %d), %v; want count 3, owner bob, one version more", got, v, v0, err)
		}
		if d := pttl(t, b, root); d > time.Minute {
			t.Fatalf("the TTL went up to %s: CreateIfMissing gives it only on creation", d)
		}
		// without a TTL in the model's options, none is given either
		plain := windows(t, b, "p", 0)
		if _, err := plain.Exec(ctx, "x", tx.Of(ops.CreateIfMissing(Window{}))); err != nil {
			t.Fatal(err)
		}
		proot, _ := plain.Key("x")
		if d := pttl(t, b, proot); d != -1 {
			t.Fatalf("a model without TTL created with TTL %s", d)
		}
	})
}

// TestCreateIfMissingFailures: a batch that fails creates nothing; v's
// collections must be empty; an Exists guard still requires the model.
func TestCreateIfMissingFailures(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := windows(t, b, "w", time.Hour)
		for _, c := range []struct {
			name  string
			batch tx.Batch
			err   error
		}{
			{"a guard that v fails", tx.Of(ops.CreateIfMissing(Window{Count: 9}), ops.Require(is.AtMost(WCount, 4)), ops.Incr(WCount, 1)), rapyer.ErrPrecondition},
			{"arithmetic past the range", tx.Of(ops.CreateIfMissing(Window{Count: 2}), ops.Mul(WCount, 1<<53)), rapyer.ErrOverflow},
			{"v with a list", tx.Of(ops.CreateIfMissing(Window{Seen: []string{"a"}})), rapyer.ErrInvalid},
			{"an Exists guard", tx.Of(ops.CreateIfMissing(Window{}), ops.Exists[Window](), ops.Incr(WCount, 1)), rapyer.ErrNotFound},
			{"no CreateIfMissing", tx.Of(ops.Incr(WCount, 1)), rapyer.ErrNotFound},
		} {
			_, err := m.Exec(ctx, "x", c.batch)
			if !errors.Is(err, c.err) {
				t.Fatalf("%s: %v; want %v", c.name, err, c.err)
			}
			if keys := keysOfPrefix(t, b, m.Prefix()); len(keys) != 0 {
				t.Fatalf("%s: the failed batch left %v", c.name, keys)
			}
		}
		res, err := m.Exec(ctx, "x", tx.Of(ops.CreateIfMissing(Window{})), rapyer.SkipIfMissing())
		if err != nil || !res.Skipped {
			t.Fatalf("with SkipIfMissing: %+v, %v; want skipped", res, err)
		}
	})
}

// keysOfPrefix lists the keys that start with prefix, on every master.
func keysOfPrefix(t *testing.T, b *testenv.Backend, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	var mu sync.Mutex
	scan := func(ctx context.Context, c *redis.Client) error {
		ks, err := c.Keys(ctx, prefix+"*").Result()
		mu.Lock()
		out = append(out, ks...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := b.Client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, scan)
	} else {
		err = scan(ctx, b.Client.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// limit is the rate limiter of the tests and the example: at most max
// calls per window of one id, the window starting at the first call.
func limit(ctx context.Context, m *rapyer.Model[Window], id string, max int) error {
	_, err := m.Exec(ctx, id, tx.Of(ops.CreateIfMissing(Window{}), ops.Require(is.Below(WCount, max)), ops.Incr(WCount, 1)))
	return err
}

// TestRateLimiterUnderConcurrency: 8 goroutines make 25 calls each on one
// window: exactly the allowed number succeed, the others fail with
// rapyer.ErrPrecondition. When the window's TTL runs out, a new window starts.
func TestRateLimiterUnderConcurrency(t *testing.T) {
	const workers, calls, max = 8, 25, 5
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := windows(t, b, "rl", time.Minute)
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range calls {
					switch err := limit(ctx, m, "u", max); {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, rapyer.ErrPrecondition):
						refused.Add(1)
					default:
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if ok.Load() != max || refused.Load() != workers*calls-max {
			t.Fatalf("%d calls allowed, %d refused; want %d and %d", ok.Load(), refused.Load(), max, workers*calls-max)
		}

		// a short window, run out. On a real server the window's time
		// runs while its calls are made: where they took the whole window
		// (a loaded machine), a call past max may rightly open a new one,
		// so only a wrong answer within the window fails, and a window
		// outrun is tried again on another id.
		const window = 300 * time.Millisecond
		short := windows(t, b, "short", window)
		id := ""
		for attempt := 0; id == ""; attempt++ {
			u := "u" + strconv.Itoa(attempt)
			start := time.Now()
			var wrong error
			for i := range max + 1 {
				if err := limit(ctx, short, u, max); (err == nil) != (i < max) {
					wrong = fmt.Errorf("call %d of the window: %v", i+1, err)
					break
				}
			}
			took := time.Since(start)
			switch {
			case wrong == nil:
				id = u
			case b.Mini != nil || took < window || attempt == 9:
				t.Fatalf("%v (the calls took %v of the window's %v)", wrong, took, window)
			default:
				t.Logf("the calls took %v, past the window's %v: again", took, window)
			}
		}
		if b.Mini != nil {
			b.Mini.FastForward(window)
		} else {
			time.Sleep(window + 50*time.Millisecond)
		}
		if err := limit(ctx, short, id, max); err != nil {
			t.Fatalf("the first call of a new window: %v", err)
		}
	})
}

// A rate limiter of 5 requests per 10 seconds on one key: the window is a
// model created by the first request of the window, with the model's TTL,
// which a later request does not extend. The 6th request of the window is
// refused.
func ExampleCreateIfMissing() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	type Window struct{ Requests int }
	requests := lens.Of(func(w *Window) *int { return &w.Requests })
	windows := rapyer.MustNew[Window](rdb, rapyer.Options{Prefix: "rate", TTL: 10 * time.Second})

	allow := func(user string) error {
		_, err := windows.Exec(ctx, user, tx.Of(
			ops.CreateIfMissing(Window{}),      // a new window when there is none
			ops.Require(is.Below(requests, 5)), // at most 5 in it
			ops.Incr(requests, 1),
		))
		return err
	}
	for i := 1; i <= 6; i++ {
		err := allow("ann")
		fmt.Println(i, err == nil, errors.Is(err, rapyer.ErrPrecondition))
	}
	mr.FastForward(10 * time.Second) // the window ends
	fmt.Println("next window:", allow("ann"))
	// Output:
	// 1 true false
	// 2 true false
	// 3 true false
	// 4 true false
	// 5 true false
	// 6 false true
	// next window: <nil>
}

// TestCreateIfMissingRefusesATTLUnderAMillisecond: a target's TTL
// (tx.Target.WithTTL) below a millisecond was sent as it was: a negative
// one made the batch succeed with the root it created deleted again by its
// own PEXPIRE, and the list it appended left behind without a TTL or a
// model; one under a millisecond gave none. Now both fail with
// rapyer.ErrInvalid before sending and write nothing, on every tier.
func TestCreateIfMissingRefusesATTLUnderAMillisecond(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m, err := rapyer.New[Acct](b.Client, rapyer.Options{Prefix: b.Prefix + "cttl"})
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range []time.Duration{-time.Second, -time.Nanosecond, time.Nanosecond, 999 * time.Microsecond} {
			id := fmt.Sprint("w", i)
			bt := tx.On(m.Target(id).WithTTL(d), ops.CreateIfMissing(Acct{Owner: "n"}), ops.Append(History, "h"))
			if _, err := tx.Exec(ctx, b.Client, bt, tx.Options{}); !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("CreateIfMissing with a target TTL of %v: %v; want ErrInvalid", d, err)
			}
			ks, _ := m.Keys(id)
			if n := b.Client.Exists(ctx, ks...).Val(); n != 0 {
				t.Errorf("the refused batch with a target TTL of %v left %d keys", d, n)
			}
		}
		// a millisecond and more, and zero (none), still create
		for i, d := range []time.Duration{time.Hour, 0} {
			id := fmt.Sprint("ok", i)
			if _, err := tx.Exec(ctx, b.Client, tx.On(m.Target(id).WithTTL(d), ops.CreateIfMissing(Acct{Owner: "n"})), tx.Options{}); err != nil {
				t.Fatalf("CreateIfMissing with a target TTL of %v: %v", d, err)
			}
		}
	})
}
