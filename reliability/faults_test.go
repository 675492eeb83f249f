package reliability_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// load runs write batches on ids from several workers until stop is closed:
// atomic batches and optimistic updates in turn, each carrying a token. It
// returns the errors the workers saw, for checks on their kinds.
func load(ctx context.Context, d depositor, ids []string, workers int, stop <-chan struct{}, ran *atomic.Int64) (wait func() []error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := ids[i%len(ids)]
				token := tokenOf(d.tag, w, i)
				opCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				var err error
				if i%3 == 2 {
					_, err = d.update(opCtx, id, token)
				} else {
					_, err = d.deposit(opCtx, id, token)
				}
				cancel()
				ran.Add(1)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					// A dead server answers at once: do not spin.
					time.Sleep(2 * time.Millisecond)
				}
			}
		}()
	}
	return func() []error {
		wg.Wait()
		return errs
	}
}

// waitRan waits until the workers ran n more batches.
func waitRan(t *testing.T, ran *atomic.Int64, n int64) {
	t.Helper()
	target := ran.Load() + n
	testenv.Eventually(t, "the workers to run batches", func() bool { return ran.Load() >= target })
}

func noNoScript(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		if strings.Contains(err.Error(), "NOSCRIPT") {
			t.Errorf("a caller saw NOSCRIPT (DESIGN 5.8): %v", err)
		}
	}
}

// TestReliabilityServerKilledMidRun kills the redis-server with SIGKILL while
// four workers run batches (half through a client with go-redis's default
// retries, half without them), restarts it, makes the models again, and does
// that three times. The server keeps no data across a restart, so batches
// that ended before a kill must be gone and those that overlap one may be
// there once or not at all; every batch that started once the models were
// made again must be stored exactly once if acknowledged, at most once if of
// unknown outcome, never if failed. No caller may see NOSCRIPT, though every
// restart empties the script cache.
func TestReliabilityServerKilledMidRun(t *testing.T) {
	srv := testenv.StartServer(t)
	ctx := context.Background()
	mk := func(retries int) *rapyer.Model[Acct] {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: retries})
		t.Cleanup(func() { _ = c.Close() })
		return rapyer.MustNew[Acct](c, rapyer.Options{Prefix: "kill", Indexes: acctIndexes})
	}
	admin := mk(0)
	ids := []string{"a", "b"}
	create := func() {
		for _, id := range ids {
			if err := admin.Save(ctx, id, Acct{}); err != nil {
				t.Fatalf("making %s: %v", id, err)
			}
		}
	}
	create()
	l := newLedger()
	stop := make(chan struct{})
	var ran atomic.Int64
	waitA := load(ctx, depositor{m: mk(0), l: l, tag: "kill.retries"}, ids, 2, stop, &ran)
	waitB := load(ctx, depositor{m: mk(-1), l: l, tag: "kill.noretries"}, ids, 2, stop, &ran)

	var wipes []window
	const kills = 3
	for range kills {
		waitRan(t, &ran, 300)
		from := time.Now()
		srv.Kill(t)
		time.Sleep(50 * time.Millisecond)
		srv.Restart(t)
		create()
		wipes = append(wipes, window{from: from, to: time.Now()})
	}
	fault("kill-restart", kills)
	waitRan(t, &ran, 300)
	close(stop)
	errs := append(waitA(), waitB()...)
	noNoScript(t, errs)
	stored := readAll(t, admin, ids)
	l.verify(t, stored, wipes)
	acctIndexCheck(t, srv.Client(t), admin, "kill", ids, stored)
}

// TestReliabilityServerKilledWithAOF kills the redis-server with SIGKILL
// three times while workers run batches and queries, as
// TestReliabilityServerKilledMidRun does, but the server keeps an
// append-only file fsynced before every reply (appendfsync always), and
// restarts from it: no model is made again. Every acknowledged batch must
// then be stored exactly once (no wipe excuses a loss), every one of
// unknown outcome at most once, every failed one never; after the last
// restart every slot group's index keys must equal what the stored models
// give (0 stale, 0 missing), and queries must answer what a scan gives.
// A query answered during the run must hold for every model it gave.
func TestReliabilityServerKilledWithAOF(t *testing.T) {
	srv := testenv.StartServer(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	mk := func(retries int) *rapyer.Model[Acct] {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: retries})
		t.Cleanup(func() { _ = c.Close() })
		return rapyer.MustNew[Acct](c, rapyer.Options{Prefix: "aof", Indexes: acctIndexes})
	}
	admin := mk(0)
	ids := []string{"a", "b", "c"}
	for _, id := range ids {
		if err := admin.Save(ctx, id, Acct{}); err != nil {
			t.Fatalf("making %s: %v", id, err)
		}
	}
	l := newLedger()
	stop := make(chan struct{})
	var ran atomic.Int64
	waitA := load(ctx, depositor{m: mk(0), l: l, tag: "aof.retries"}, ids, 2, stop, &ran)
	waitB := load(ctx, depositor{m: mk(-1), l: l, tag: "aof.noretries"}, ids, 2, stop, &ran)
	waitQ := queryLoad(t, mk(-1), stop)
	const kills = 3
	for range kills {
		waitRan(t, &ran, 300)
		srv.Kill(t)
		time.Sleep(50 * time.Millisecond)
		srv.Restart(t)
	}
	fault("kill-restart-aof", kills)
	waitRan(t, &ran, 300)
	close(stop)
	errs := append(waitA(), waitB()...)
	noNoScript(t, errs)
	n, qerrs := waitQ()
	t.Logf("%d queries during the run, %d failed (the server was down)", n, len(qerrs))
	stored := readAll(t, admin, ids)
	l.verify(t, stored, nil)
	l.checkTyped(t)
	acctIndexCheck(t, srv.Client(t), admin, "aof", ids, stored)
}

// TestReliabilityScriptFlushUnderLoad flushes the script cache and the
// function libraries every few milliseconds (on every master of a cluster)
// while workers run atomic batches, optimistic updates and multi-model
// reads. No caller may see an
// error at all, and every batch must be stored exactly once.
func TestReliabilityScriptFlushUnderLoad(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Acct](b.Client, rapyer.Options{Prefix: b.Prefix + "flush", Exec: tx.Options{}, Indexes: acctIndexes})
		ids := []string{"a", "b", "c"}
		for _, id := range ids {
			if err := m.Save(ctx, id, Acct{}); err != nil {
				t.Fatal(err)
			}
		}
		l := newLedger()
		stop := make(chan struct{})
		var ran atomic.Int64
		wait := load(ctx, depositor{m: m, l: l, tag: "flush"}, ids, 3, stop, &ran)
		waitQ := queryLoad(t, m, stop)
		var readErrs []error
		readsDone := make(chan struct{})
		go func() {
			defer close(readsDone)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, missing, err := m.GetMany(ctx, ids); err != nil || len(missing) > 0 {
					readErrs = append(readErrs, errors.Join(err, errors.New(strings.Join(missing, ","))))
				}
				time.Sleep(time.Millisecond)
			}
		}()
		// The embedded server compiles the interpreter again after every
		// flush, slowly under -race: flush it less often.
		pace := time.Millisecond
		if b.Kind == testenv.Mini {
			pace = 15 * time.Millisecond
		}
		flushes := 0
		for flushes < 40 || ran.Load() < 300 {
			if err := flushScripts(ctx, b.Client); err != nil {
				t.Fatal(err)
			}
			flushes++
			time.Sleep(time.Duration(1+flushes%5) * pace)
		}
		fault("script-flush", int64(flushes))
		close(stop)
		errs := wait()
		<-readsDone
		n, qerrs := waitQ()
		for _, err := range append(append(errs, readErrs...), qerrs...) {
			t.Errorf("under SCRIPT FLUSH: %v", err)
		}
		stored := readAll(t, m, ids)
		l.verify(t, stored, nil)
		t.Logf("%d queries under SCRIPT FLUSH", n)
		acctIndexCheck(t, b.Client, m, b.Prefix+"flush", ids, stored)
	})
}
