package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/faultproxy"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// linInput is one operation of a history: a batch (or a read) on model id.
type linInput struct {
	id, kind, arg string
}

// linOutput is what the caller saw. unknown: the outcome is unknown (the
// operation may have taken effect at any time after its call, or never);
// failed: the library said it was not applied (precond: by a guard).
type linOutput struct {
	unknown, failed, precond bool
	// applied, for a write of unknown outcome: its token is stored, so it
	// took effect (at a time and with an output still unknown); without it
	// the write never took effect. The ledger's tokens resolve what the
	// caller could not know.
	applied          bool
	counter, balance int
	val              string
	ok               bool
	queue, tags      string // reads
}

// linState is the sequential specification's state of one model.
type linState struct {
	counter, balance int
	queue            string // elements joined by \x1f
	tags             string // sorted k=v pairs joined by \x1f
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x1f")
}

func joinQueue(q []string) string { return strings.Join(q, "\x1f") }

func tagsOf(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range split(s) {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func joinTags(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, "\x1f")
}

const withdrawAmount, topupAmount = 5, 3

// linStep applies in to s and returns the next state and the output a
// correct execution would give.
func linStep(s linState, in linInput) (linState, linOutput) {
	if in.kind == "query" {
		_, holds := acctQuery(in.arg)
		return s, linOutput{ok: holds(s.counter, s.balance), counter: s.counter, balance: s.balance, queue: s.queue, tags: s.tags}
	}
	if in.kind == "read" {
		return s, linOutput{counter: s.counter, balance: s.balance, queue: s.queue, tags: s.tags}
	}
	n := s
	out := linOutput{}
	switch in.kind {
	case "topup":
		n.balance += topupAmount
	case "withdraw":
		if s.balance < withdrawAmount {
			return s, linOutput{failed: true, precond: true}
		}
		n.balance -= withdrawAmount
	case "update":
		n.balance++
	case "push":
		q := append(split(s.queue), in.arg)
		n.queue = joinQueue(q)
		out.val = fmt.Sprint(len(q))
	case "pop":
		q := split(s.queue)
		if len(q) > 0 {
			out.val, out.ok = q[0], true
			n.queue = joinQueue(q[1:])
		}
	case "put":
		k, v, _ := strings.Cut(in.arg, "=")
		m := tagsOf(s.tags)
		m[k] = v
		n.tags = joinTags(m)
	case "purge":
		m := tagsOf(s.tags)
		removed := 0
		for _, k := range purgeKeys {
			if _, ok := m[k]; ok {
				delete(m, k)
				removed++
			}
		}
		n.tags = joinTags(m)
		out.val = fmt.Sprint(removed)
	case "take":
		m := tagsOf(s.tags)
		if v, ok := m[in.arg]; ok {
			out.val, out.ok = v, true
			delete(m, in.arg)
			n.tags = joinTags(m)
		}
	}
	n.counter++
	out.counter, out.balance = n.counter, n.balance
	return n, out
}

// linModel is the nondeterministic specification: an operation of unknown
// outcome either took effect (with whatever output) or did not.
var linModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var ids []string
		for _, op := range h {
			id := op.Input.(linInput).id
			if _, ok := by[id]; !ok {
				ids = append(ids, id)
			}
			by[id] = append(by[id], op)
		}
		var out [][]porcupine.Operation
		for _, id := range ids {
			out = append(out, by[id])
		}
		return out
	},
	Init: func() []any { return []any{linState{}} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(linState), input.(linInput), output.(linOutput)
		next, want := linStep(s, in)
		switch {
		case out.unknown:
			if in.kind == "read" || in.kind == "query" || !out.applied {
				return []any{s}
			}
			return []any{next}
		case out.precond:
			if want.precond {
				return []any{s}
			}
			return nil
		case out.failed:
			return []any{s}
		}
		if want.failed {
			return nil
		}
		switch in.kind {
		case "query":
			if out.ok != want.ok || out.ok && (out.counter != want.counter || out.balance != want.balance || out.queue != want.queue || out.tags != want.tags) {
				return nil
			}
		case "read":
			if out.counter != want.counter || out.balance != want.balance || out.queue != want.queue || out.tags != want.tags {
				return nil
			}
		case "pop", "take", "push", "purge":
			if out.counter != want.counter || out.val != want.val || out.ok != want.ok {
				return nil
			}
		case "put":
			if out.counter != want.counter {
				return nil
			}
		default:
			if out.counter != want.counter || out.balance != want.balance {
				return nil
			}
		}
		return []any{next}
	},
	DescribeOperation: func(input, output any) string {
		return fmt.Sprintf("%+v -> %+v", input, output)
	},
}

// linRun runs one operation and returns what the caller saw.
func linRun(ctx context.Context, d depositor, in linInput, token string) linOutput {
	if in.kind == "query" {
		return linQuery(ctx, d.m, in)
	}
	if in.kind == "read" {
		a, err := d.m.Get(ctx, in.id)
		if err != nil {
			return linOutput{unknown: true}
		}
		return linOutput{counter: a.Counter, balance: a.Balance, queue: joinQueue(a.Queue), tags: joinTags(a.Tags)}
	}
	call := time.Now()
	inc := ops.Incr(Counter, 1)
	b := []ops.Op{inc, ops.Append(Tokens, token)}
	var res *tx.Result
	var err error
	var yield func(*tx.Result) linOutput
	var decided int
	switch in.kind {
	case "topup", "withdraw":
		by := topupAmount
		if in.kind == "withdraw" {
			by = -withdrawAmount
			b = append(b, ops.Require(is.AtLeast(Balance, withdrawAmount)))
		}
		bal := ops.Incr(Balance, by)
		b = append(b, bal)
		yield = func(r *tx.Result) linOutput {
			v, _ := bal.Result(r)
			return linOutput{balance: v}
		}
	case "push":
		n := ops.Len(Queue)
		b = append(b, ops.Append(Queue, in.arg), n)
		yield = func(r *tx.Result) linOutput {
			v, _ := n.Result(r)
			return linOutput{val: fmt.Sprint(v)}
		}
	case "pop":
		p := ops.PopFirst(Queue)
		b = append(b, p)
		yield = func(r *tx.Result) linOutput {
			v, ok, _ := p.Result(r)
			return linOutput{val: v, ok: ok}
		}
	case "put":
		k, v, _ := strings.Cut(in.arg, "=")
		b = append(b, ops.SetItem(Tags, k, v))
		yield = func(*tx.Result) linOutput { return linOutput{} }
	case "purge":
		// One real key among thousands: an argument list longer than Lua
		// can unpack at once.
		del := ops.DeleteItems(Tags, purgeArgs...)
		b = append(b, del)
		yield = func(r *tx.Result) linOutput {
			v, _ := del.Result(r)
			return linOutput{val: fmt.Sprint(v)}
		}
	case "take":
		p := ops.PopItem(Tags, in.arg, "")
		b = append(b, p)
		yield = func(r *tx.Result) linOutput {
			v, ok, _ := p.Result(r)
			return linOutput{val: v, ok: ok}
		}
	case "update":
		res, err = d.m.Update(ctx, in.id, func(a Acct) (tx.Batch, error) {
			decided = a.Balance + 1
			return tx.Of(inc, ops.Append(Tokens, token), ops.Set(Balance, decided)), nil
		}, rapyer.WithRetry(tx.Retry{Attempts: 1000}))
		yield = func(*tx.Result) linOutput { return linOutput{balance: decided} }
	}
	if in.kind != "update" {
		res, err = d.m.Exec(ctx, in.id, tx.Of(b...))
	}
	switch d.l.record(in.id, token, call, err) {
	case unknown:
		return linOutput{unknown: true}
	case failed:
		return linOutput{failed: true, precond: errors.Is(err, rapyer.ErrPrecondition)}
	}
	out := yield(res)
	out.counter, _ = inc.Result(res)
	return out
}

// clientConfig is how a client of the linearizability test treats lost
// replies.
type clientConfig struct {
	name       string
	maxRetries int // go-redis MaxRetries (0: its default of 3)
	resends    int // tx.Options.Resends (0: the default of 2)
	// writePhase: instead of network faults, make batches fail where a
	// write phase could: an ACL that denies one write command, a corrupted
	// version field (see writephase_test.go).
	writePhase bool
}

var clientConfigs = []clientConfig{
	{name: "go-redis retries"},
	{name: "executor resends", maxRetries: -1},
	{name: "no resends", maxRetries: -1, resends: -1},
}

// injector injects faults through a proxy until stopped, and counts them.
type injector struct {
	p      *faultproxy.Proxy
	wp     *writePhase           // write-phase faults instead of the proxy's
	direct redis.UniversalClient // for SCRIPT FLUSH
	r      *rand.Rand
	mu     sync.Mutex
	arms   []<-chan struct{}
	counts map[string]int64
}

func (f *injector) note(kind string) {
	f.mu.Lock()
	f.counts[kind]++
	f.mu.Unlock()
}

// enough reports whether every kind of fault happened a few times, so that
// the workers may stop (fast servers would otherwise finish first).
func (f *injector) enough() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wp != nil {
		return f.wp.enough(f.counts)
	}
	if f.p == nil {
		return f.counts["script-flush"] >= 5
	}
	fired := 0
	for _, a := range f.arms {
		select {
		case <-a:
			fired++
		default:
		}
	}
	return fired >= 12 && f.counts["cut"] >= 3 && f.counts["delay"] >= 3 && f.counts["refuse"] >= 2 && f.counts["script-flush"] >= 3
}

func (f *injector) run(ctx context.Context) {
	for ctx.Err() == nil {
		kinds := []string{"script-flush"}
		if f.wp != nil {
			kinds = f.wp.kinds()
		} else if f.p != nil {
			kinds = append(kinds, "drop-reply", "drop-reply", "drop-reply", "cut", "delay", "refuse")
		}
		switch kind := kinds[f.r.IntN(len(kinds))]; kind {
		case "drop-reply":
			match := []string{"fcall", "evalsha"}
			if f.r.IntN(3) == 0 {
				match = []string{"exec"} // optimistic updates and reads
			}
			f.mu.Lock()
			f.arms = append(f.arms, f.p.DropReplyTo(match[0], match[1:]...))
			f.mu.Unlock()
		case "cut":
			f.p.CutAll()
			f.note(kind)
		case "delay":
			f.p.SetDelay(time.Duration(1+f.r.IntN(10)) * time.Millisecond)
			pause(ctx, time.Duration(20+f.r.IntN(60))*time.Millisecond)
			f.p.SetDelay(0)
			f.note(kind)
		case "refuse":
			f.p.Refuse(true)
			pause(ctx, time.Duration(5+f.r.IntN(20))*time.Millisecond)
			f.p.Refuse(false)
			f.note(kind)
		case "script-flush":
			if err := flushScripts(context.Background(), f.direct); err == nil {
				f.note(kind)
			}
		default:
			if f.wp.inject(ctx, kind, f.r) {
				f.note(kind)
			}
		}
		if f.p == nil {
			pause(ctx, time.Duration(20+f.r.IntN(40))*time.Millisecond)
		} else {
			pause(ctx, time.Duration(3+f.r.IntN(20))*time.Millisecond)
		}
	}
	if f.p != nil {
		f.p.SetDelay(0)
		f.p.Refuse(false)
	}
}

// report adds the faults that happened to the figures; a dropped reply
// counts once the proxy dropped it.
func (f *injector) report(t *testing.T) {
	for _, a := range f.arms {
		select {
		case <-a:
			f.counts["drop-reply"]++
		default:
		}
	}
	for k, n := range f.counts {
		fault(k, n)
	}
	t.Logf("faults: %v", f.counts)
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// flushScripts empties the script cache and drops the function libraries of
// the server, or of every master.
func flushScripts(ctx context.Context, c redis.UniversalClient) error {
	return testenv.FlushLua(ctx, c)
}

// TestReliabilityLinearizable runs concurrent clients on two models, each
// operation one batch on counters, lists and maps (or one read), while faults
// are injected: replies dropped after the server applied the batch,
// connections cut, traffic delayed, new connections refused, and the script
// cache flushed. Each model's history is checked with porcupine against a
// sequential specification in which an operation of unknown outcome may have
// taken effect once or not at all, and a failed one not at all. The ledger
// then checks that no batch was lost or applied twice.
func TestReliabilityLinearizable(t *testing.T) {
	for _, kind := range testenv.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			configs := clientConfigs
			if kind == testenv.Cluster {
				// The proxy fronts one address; a cluster client learns the
				// others from CLUSTER SLOTS. The cluster gets SCRIPT FLUSH
				// only; it meets lost replies, redirections and failover in
				// the cluster tests.
				configs = configs[:1]
			}
			for _, cfg := range configs {
				t.Run(cfg.name, func(t *testing.T) {
					linearizable(t, testenv.On(t, kind), cfg)
				})
			}
		})
	}
}

func linearizable(t *testing.T, b *testenv.Backend, cfg clientConfig) {
	seed := testenv.Seed(t)
	ctx := context.Background()
	ids := []string{"a", "b"}
	direct := rapyer.MustNew[Acct](b.Client, rapyer.Options{Prefix: b.Prefix + "lin", Indexes: acctIndexes})
	for _, id := range ids {
		if err := direct.Save(ctx, id, Acct{}); err != nil {
			t.Fatal(err)
		}
	}
	var proxy *faultproxy.Proxy
	var wp *writePhase
	client := b.Client
	if cfg.writePhase {
		wp = newWritePhase(t, b, direct, ids)
		client = wp.client
	} else if b.Kind != testenv.Cluster {
		proxy = faultproxy.Start(t, b.Addrs[0])
		client = b.NewClient(t, func(o *redis.UniversalOptions) {
			o.Addrs = []string{proxy.Addr()}
			o.MaxRetries = cfg.maxRetries
		})
	}
	m := rapyer.MustNew[Acct](client, rapyer.Options{Prefix: b.Prefix + "lin", Exec: tx.Options{Resends: cfg.resends}, Indexes: acctIndexes})
	l := newLedger()
	d := depositor{m: m, l: l}

	// Each worker runs at least each operations, and goes on (up to most)
	// until every kind of fault happened a few times.
	const workers, each, most = 4, 100, 300
	start := time.Now()
	var mu sync.Mutex
	var history []porcupine.Operation
	injCtx, stopFaults := context.WithCancel(ctx)
	inj := &injector{p: proxy, wp: wp, direct: b.Client, r: rand.New(rand.NewPCG(uint64(seed), 99)), counts: map[string]int64{}}
	injDone := make(chan struct{})
	go func() { defer close(injDone); inj.run(injCtx) }()

	kinds := []string{"read", "topup", "topup", "withdraw", "update", "push", "push", "pop", "put", "take", "purge", "query", "query"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
			for i := 0; i < most && (i < each || !inj.enough()); i++ {
				in := linInput{id: ids[r.IntN(len(ids))], kind: kinds[r.IntN(len(kinds))]}
				token := tokenOf("lin", w, i)
				switch in.kind {
				case "push":
					in.arg = "q." + token
				case "put":
					in.arg = fmt.Sprintf("k%d=%s", r.IntN(3), token)
				case "take":
					in.arg = fmt.Sprintf("k%d", r.IntN(3))
				case "query":
					in.arg = acctQueryArg(r)
				}
				opCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
				call := time.Since(start).Nanoseconds()
				out := linRun(opCtx, d, in, token)
				ret := time.Since(start).Nanoseconds()
				cancel()
				if out.unknown {
					ret = math.MaxInt64
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: w, Input: in, Call: call, Output: out, Return: ret, Metadata: token})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	stopFaults()
	<-injDone
	inj.report(t)

	if wp != nil {
		wp.stop(t)
	}
	stored := readAll(t, direct, ids)
	l.verify(t, stored, nil)
	l.checkTyped(t)
	acctIndexCheck(t, b.Client, direct, b.Prefix+"lin", ids, stored)
	// Resolve the writes of unknown outcome from the stored tokens.
	applied := map[string]bool{}
	for _, a := range stored {
		for _, tok := range a.Tokens {
			applied[tok] = true
		}
	}
	for i, op := range history {
		if out := op.Output.(linOutput); out.unknown {
			out.applied = applied[op.Metadata.(string)]
			history[i].Output = out
		}
	}

	res, info := porcupine.CheckOperationsVerbose(linModel.ToModel(), history, 2*time.Minute)
	parts := len(linModel.Partition(history))
	figures.histories.Add(int64(parts))
	switch res {
	case porcupine.Ok:
		figures.linearizable.Add(int64(parts))
	case porcupine.Unknown:
		figures.undecided.Add(int64(parts))
		t.Errorf("porcupine could not decide within its timeout (%d operations)", len(history))
	default:
		for _, p := range info.PartialLinearizationsOperations() {
			for _, lin := range p {
				t.Logf("longest linearizable prefix (%d ops): last %v", len(lin), lin[max(0, len(lin)-3):])
				break
			}
		}
		t.Errorf("the history of %d operations is not linearizable", len(history))
	}
	unknowns := 0
	for _, op := range history {
		if op.Output.(linOutput).unknown {
			unknowns++
		}
	}
	t.Logf("%d operations in %d histories (%d of unknown outcome, kept in the history): %s", len(history), parts, unknowns, res)
}
