package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Acct is the model of the fault and linearizability tests. Every write
// batch increments Counter and appends a token of its own to Tokens, so
// that after a run the ledger can tell which batches were applied, and how
// often.
type Acct struct {
	Counter int
	Balance int
	Tokens  []string
	Queue   []string
	Tags    map[string]string
}

var (
	Counter = lens.Of(func(a *Acct) *int { return &a.Counter })
	Balance = lens.Of(func(a *Acct) *int { return &a.Balance })
	Tokens  = lens.Of(func(a *Acct) *[]string { return &a.Tokens })
	Queue   = lens.Of(func(a *Acct) *[]string { return &a.Queue })
	Tags    = lens.Of(func(a *Acct) *map[string]string { return &a.Tags })
)

// stamp is what every write batch carries: the counter and the token.
func stamp(token string) []ops.Op {
	return []ops.Op{ops.Incr(Counter, 1), ops.Append(Tokens, token)}
}

// status is what the caller learnt of a batch.
type status int

const (
	acked   status = iota // Exec returned a result: applied exactly once
	unknown               // rapyer.ErrUnknownOutcome: applied at most once
	failed                // any other error: not applied
)

func (s status) String() string { return [...]string{"acknowledged", "unknown", "failed"}[s] }

// classify maps an error of the library to what it promises about the batch.
// Every error but rapyer.ErrUnknownOutcome promises that nothing was applied
// (DESIGN 5.2 and 5.7), and the ledger holds it to that.
func classify(err error) status {
	switch {
	case err == nil:
		return acked
	case errors.Is(err, rapyer.ErrUnknownOutcome):
		return unknown
	}
	return failed
}

type entry struct {
	id, token string
	st        status
	call, ret time.Time
	err       error
}

// ledger records every write batch of a run, by token.
type ledger struct {
	mu      sync.Mutex
	entries map[string]*entry
	errs    map[string]int // failure messages, shortened, for the log
}

func newLedger() *ledger {
	return &ledger{entries: map[string]*entry{}, errs: map[string]int{}}
}

// record notes the outcome of the batch carrying token on model id.
func (l *ledger) record(id, token string, call time.Time, err error) status {
	st := classify(err)
	e := &entry{id: id, token: token, st: st, call: call, ret: time.Now(), err: err}
	figures.run.Add(1)
	switch st {
	case acked:
		figures.acked.Add(1)
	case unknown:
		figures.unknown.Add(1)
	default:
		figures.failed.Add(1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.entries[token]; dup {
		panic("ledger: token used twice: " + token)
	}
	l.entries[token] = e
	if err != nil {
		msg := err.Error()
		if len(msg) > 120 {
			msg = msg[:120]
		}
		l.errs[st.String()+": "+msg]++
	}
	return st
}

// window is a time when the server lost its data: from a kill to the moment
// the models were made again.
type window struct{ from, to time.Time }

// verify checks the stored tokens and counters of every model against the
// ledger: each acknowledged batch is stored exactly once, each batch of
// unknown outcome at most once, each failed one never, and no token is
// stored that no batch carried. Batches that ended before a wipe must be gone
// (their data went with the server); batches that overlap one may be there
// once or not at all. It also checks that each model's counter equals its
// number of tokens (the two writes of one batch are never separated).
func (l *ledger) verify(t *testing.T, stored map[string]Acct, wipes []window) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	count := map[string]int{}
	for id, a := range stored {
		if a.Counter != len(a.Tokens) {
			t.Errorf("model %s: counter %d but %d tokens: a batch was applied in part", id, a.Counter, len(a.Tokens))
		}
		for _, tok := range a.Tokens {
			count[tok]++
			e, ok := l.entries[tok]
			if !ok {
				if count[tok] == 1 {
					t.Errorf("model %s holds token %q that no batch of the run carried", id, tok)
					figures.twice.Add(1)
				}
				continue
			}
			if e.id != id {
				t.Errorf("token %q of model %s is stored in model %s", tok, e.id, id)
			}
		}
	}
	var lost, twice, failedApplied, wiped [3]int
	for tok, e := range l.entries {
		n := count[tok]
		gone, overlap := false, false
		for _, w := range wipes {
			if !e.ret.After(w.from) {
				gone = true
			} else if e.call.Before(w.to) {
				overlap = true
			}
		}
		switch {
		case n > 1:
			twice[e.st]++
			t.Errorf("batch %s (%s, %v) is stored %d times", tok, e.st, e.err, n)
		case gone && n > 0 && !overlap:
			twice[e.st]++
			t.Errorf("batch %s (%s) ended before the server lost its data, yet it is stored: it was applied again", tok, e.st)
		case e.st == failed && n > 0:
			failedApplied[e.st]++
			t.Errorf("batch %s failed with %q, yet it was applied", tok, e.err)
		case e.st == acked && n == 0 && (gone || overlap):
			wiped[e.st]++
		case e.st == acked && n == 0:
			lost[e.st]++
			t.Errorf("batch %s was acknowledged but is not stored", tok)
		}
	}
	sum := func(a [3]int) int64 { return int64(a[0] + a[1] + a[2]) }
	figures.lost.Add(sum(lost))
	figures.twice.Add(sum(twice))
	figures.failedApplied.Add(sum(failedApplied))
	figures.lostToRestart.Add(sum(wiped))
	var st [3]int
	for _, e := range l.entries {
		st[e.st]++
	}
	t.Logf("ledger: %d batches: %d acknowledged, %d unknown outcome, %d failed; %d wiped by restarts; lost %d, applied twice %d, failed yet applied %d",
		len(l.entries), st[acked], st[unknown], st[failed], sum(wiped), sum(lost), sum(twice), sum(failedApplied))
	for msg, n := range l.errs {
		t.Logf("  %dx %s", n, msg)
	}
}

// readAll reads the models with a client that goes around every fault.
func readAll(t *testing.T, m *rapyer.Model[Acct], ids []string) map[string]Acct {
	t.Helper()
	out := map[string]Acct{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range ids {
		a, err := m.Get(ctx, id)
		if errors.Is(err, rapyer.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("reading %s after the run: %v", id, err)
		}
		out[id] = a
	}
	return out
}

// depositor runs write batches that carry tokens, recording each in a ledger.
type depositor struct {
	m   *rapyer.Model[Acct]
	l   *ledger
	tag string
}

// deposit runs one atomic batch on id: the stamp, and extra ops.
func (d depositor) deposit(ctx context.Context, id, token string, extra ...ops.Op) (status, error) {
	call := time.Now()
	_, err := d.m.Exec(ctx, id, tx.Of(append(stamp(token), extra...)...))
	return d.l.record(id, token, call, err), err
}

// update runs one optimistic update on id that adds 1 to the balance.
func (d depositor) update(ctx context.Context, id, token string) (status, error) {
	call := time.Now()
	_, err := d.m.Update(ctx, id, func(a Acct) (tx.Batch, error) {
		return tx.Of(append(stamp(token), ops.Set(Balance, a.Balance+1))...), nil
	}, rapyer.WithRetry(tx.Retry{Attempts: 1000}))
	return d.l.record(id, token, call, err), err
}

// replyHook counts the replies of cluster nodes that make a client redirect
// or retry, and NOSCRIPT, which the library must absorb.
type replyHook struct{}

func noteReply(err error) {
	if err == nil {
		return
	}
	s := err.Error()
	for _, kind := range []string{"MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "NOSCRIPT", "LOADING", "READONLY", "MASTERDOWN"} {
		if strings.HasPrefix(s, kind+" ") || s == kind {
			redirect(kind)
		}
	}
}

func (replyHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (replyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		noteReply(cmd.Err())
		return err
	}
}

func (replyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			noteReply(c.Err())
		}
		return err
	}
}

// watchReplies installs replyHook on c (on every node of a cluster client).
func watchReplies(c redis.UniversalClient) {
	switch c := c.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(func(n *redis.Client) { n.AddHook(replyHook{}) })
	default:
		c.AddHook(replyHook{})
	}
}

func tokenOf(tag string, worker, i int) string { return fmt.Sprintf("%s.w%d.%d", tag, worker, i) }
