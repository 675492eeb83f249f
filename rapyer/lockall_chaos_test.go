package rapyer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
)

// chaosCall is one LockAll call of the chaos test and how it ended.
type chaosCall struct {
	id  string
	ids []string
	err error
}

// errChaosFn is what the function of a chaos call returns to save nothing.
var errChaosFn = errors.New("chaos: fn gives up")

// chaosOptions draws how a chaos call ends early, if it does: a deadline
// from 1µs to a few ms, a cancellation at a random moment, a wait of at
// most a few ms, an error of fn, or a short TTL kept by the watchdog. It
// returns the call's context, the options and whether fn fails.
func chaosOptions(r *rand.Rand) (context.Context, context.CancelFunc, []rapyer.Option, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	opts := []rapyer.Option{rapyer.WithLockTTL(time.Minute), rapyer.WithWait(time.Minute)}
	tiny := time.Duration(1+r.IntN(1000)) * time.Microsecond << r.IntN(4)
	switch r.IntN(6) {
	case 1:
		ctx, cancel = context.WithTimeout(context.Background(), tiny)
	case 2:
		t := time.AfterFunc(tiny, cancel)
		stop := cancel
		cancel = func() { t.Stop(); stop() }
	case 3:
		opts = append(opts, rapyer.WithWait(tiny))
	case 4:
		return ctx, cancel, opts, true
	case 5:
		opts = append(opts, rapyer.WithLockTTL(300*time.Millisecond), rapyer.WithAutoExtend())
	}
	return ctx, cancel, opts, false
}

// chaosRun makes one LockAll call of worker w: a random set of 1 to 4 of
// ids, a transfer of 1 from the first to the last and the call's id
// appended to each model's history, ended early as chaosOptions draws.
func chaosRun(m *rapyer.Model[Account], r *rand.Rand, ids []string, id string) chaosCall {
	set := slices.Clone(ids)
	r.Shuffle(len(set), func(i, j int) { set[i], set[j] = set[j], set[i] })
	set = set[:1+r.IntN(4)]
	vars := make([]Account, len(set))
	held := make([]rapyer.Held, len(set))
	for i := range set {
		held[i] = m.Hold(set[i], &vars[i])
	}
	ctx, cancel, opts, fail := chaosOptions(r)
	defer cancel()
	pause := time.Duration(r.IntN(500)) * time.Microsecond
	_, err := rapyer.LockAll(ctx, "chaos", held, func(ctx context.Context) error {
		time.Sleep(pause)
		if fail {
			return errChaosFn
		}
		vars[0].Balance--
		vars[len(vars)-1].Balance++
		for i := range vars {
			vars[i].History = append(vars[i].History, id)
		}
		return nil
	}, opts...)
	return chaosCall{id: id, ids: set, err: err}
}

// chaosTyped reports whether err is one a chaos call may end with.
func chaosTyped(err error) bool {
	for _, e := range []error{errChaosFn, rapyer.ErrNotAcquired, context.Canceled, context.DeadlineExceeded, rapyer.ErrUnknownOutcome, rapyer.ErrLockLost} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestLockAllUnderChaosEndsReleasesAndTellsTheTruth: workers LockAll random
// overlapping sets of models, with deadlines of a microsecond and more,
// cancellations at random moments (mid-acquire, mid-wait, mid-save),
// waits too short, failing functions and watchdogs, while a thief
// deletes lock keys (eviction, a failover). Every call ends; its
// error is typed and truthful (a nil error saved in every model of the
// set, an error other than ErrUnknownOutcome in none, an unknown outcome
// in all or none); afterwards no lock is held, every key left behind has
// a TTL, the balances add up, and the goroutines return to their count
// before the run (watchdogs, waiters' subscriptions and hubs stopped).
func TestLockAllUnderChaosEndsReleasesAndTellsTheTruth(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		ids := []string{"a", "b", "c", "d", "e", "f"}
		saver := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "chaos", HashTag: shop})
		for _, id := range ids {
			if err := saver.Save(ctx, id, Account{Balance: 100}); err != nil {
				t.Fatal(err)
			}
		}
		before := runtime.NumGoroutine()
		rdb := b.NewClient(t, func(o *redis.UniversalOptions) { o.ContextTimeoutEnabled = true })
		m := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: b.Prefix + "chaos", HashTag: shop})
		const workers = 6
		each := 60
		if b.Kind == testenv.Mini {
			each = 30
		}
		calls := make([][]chaosCall, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
				for i := range each {
					calls[w] = append(calls[w], chaosRun(m, r, ids, fmt.Sprintf("w%dc%d", w, i)))
				}
			})
		}
		stop := make(chan struct{})
		thief := chaosThief(b, m, ids, seed, stop)
		waitAll(t, &wg, 3*time.Minute)
		close(stop)
		<-thief
		chaosCheck(t, saver, ids, slices.Concat(calls...))
		chaosNoLockLeft(t, b)
		_ = rdb.Close()
		testenv.Eventually(t, "the goroutines are back to their count before the run ("+strconv.Itoa(before)+")", func() bool {
			return runtime.NumGoroutine() <= before
		})
	})
}

// chaosThief deletes a random model's lock key every few milliseconds
// until stop is closed (as eviction, or a failover that lost it, would):
// the holder's save must then be refused, and the balances, which a save
// writes whole (a lost update if two holders saved), still add up. The
// channel it returns is closed when it has stopped.
func chaosThief(b *testenv.Backend, m *rapyer.Model[Account], ids []string, seed int64, stop chan struct{}) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := rand.New(rand.NewPCG(uint64(seed), 99))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(1+r.IntN(5)) * time.Millisecond):
			}
			root, _ := m.Key(ids[r.IntN(len(ids))])
			b.Client.Del(context.Background(), root+":lock:chaos")
		}
	}()
	return done
}

// waitAll waits for wg, failing t with every goroutine's stack if it takes
// longer than bound: a call that never ends.
func waitAll(t *testing.T, wg *sync.WaitGroup, bound time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(bound):
		buf := make([]byte, 1<<20)
		t.Fatalf("calls did not end within %v:\n%s", bound, buf[:runtime.Stack(buf, true)])
	}
}

// chaosCheck compares what each call was told with the stored histories,
// and checks the balances add up.
func chaosCheck(t *testing.T, m *rapyer.Model[Account], ids []string, calls []chaosCall) {
	t.Helper()
	found, _, err := m.GetMany(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]map[string]int{} // call id -> model -> times stored
	sum := 0
	for i, e := range found {
		sum += e.Value.Balance
		for _, c := range e.Value.History {
			if seen[c] == nil {
				seen[c] = map[string]int{}
			}
			seen[c][ids[i]]++
		}
	}
	if sum != 100*len(ids) {
		t.Errorf("the balances add up to %d, want %d", sum, 100*len(ids))
	}
	kinds := map[string]int{}
	for _, c := range calls {
		kinds[chaosKind(c.err)]++
		n := 0
		for _, id := range c.ids {
			n += seen[c.id][id]
		}
		switch {
		case c.err != nil && !chaosTyped(c.err):
			t.Errorf("call %s on %v: an untyped error: %v", c.id, c.ids, c.err)
		case c.err == nil && n != len(c.ids):
			t.Errorf("call %s on %v succeeded, stored in %d of them", c.id, c.ids, n)
		case errors.Is(c.err, rapyer.ErrUnknownOutcome) && n != 0 && n != len(c.ids):
			t.Errorf("call %s on %v of unknown outcome stored in %d of them", c.id, c.ids, n)
		case c.err != nil && !errors.Is(c.err, rapyer.ErrUnknownOutcome) && n != 0:
			t.Errorf("call %s on %v failed (%v), yet was stored in %d of them", c.id, c.ids, c.err, n)
		}
	}
	t.Logf("%d calls: %v", len(calls), kinds)
}

// chaosKind names how a call ended, for the log.
func chaosKind(err error) string {
	for _, e := range []error{errChaosFn, rapyer.ErrNotAcquired, context.Canceled, context.DeadlineExceeded, rapyer.ErrUnknownOutcome, rapyer.ErrLockLost} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(e.Error(), "rapyer: ")
		}
	}
	if err == nil {
		return "saved"
	}
	return "other"
}

// chaosNoLockLeft checks that no lock key is left once every call ended
// (their TTL is a minute: a lock left by a call would still be there), and
// that every key under the prefix but the models' has a TTL.
func chaosNoLockLeft(t *testing.T, b *testenv.Backend) {
	t.Helper()
	var left map[string]time.Duration
	ok := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !ok; time.Sleep(10 * time.Millisecond) {
		left, ok = keysOf(t, b), true
		for k := range left {
			if strings.HasSuffix(k, ":lock:chaos") {
				ok = false
			}
		}
	}
	if !ok {
		t.Fatalf("locks left held after every call ended: %v", left)
	}
	// PTTL -1 is a key without a TTL; -2 is one that expired between the
	// SCAN that listed it and its PTTL (a wait key's short life), not a
	// lasting key.
	for k, ttl := range left {
		if strings.Contains(k, ":lock:") && ttl == -1 {
			t.Errorf("%s lives for ever (PTTL %v)", k, ttl)
		}
	}
}
