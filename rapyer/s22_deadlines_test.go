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
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/ixcheck"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// s22Doc is the model of the deadline sweep: N counts the tokens of Log,
// so a write applied in part (the counter without the list, or the list
// without the counter) shows as N != len(Log). Email is Unique (nil
// claims nothing), Rank indexed.
type s22Doc struct {
	Email *string
	Rank  int
	N     int
	Log   []string
}

var (
	s22Email = lens.Of(func(d *s22Doc) **string { return &d.Email })
	s22Rank  = lens.Of(func(d *s22Doc) *int { return &d.Rank })
	s22dN    = lens.Of(func(d *s22Doc) *int { return &d.N })
	s22Log   = lens.Of(func(d *s22Doc) *[]string { return &d.Log })
	s22Specs = []index.Spec{index.Unique(s22Email), index.On(s22Rank)}
)

// s22Sweep is one tier's sweep: the model on a client with
// ContextTimeoutEnabled, the seeded randomness, and what each call that
// appends a token was told (token -> error).
type s22Sweep struct {
	t      *testing.T
	m      *rapyer.Model[s22Doc]
	rdb    redis.UniversalClient
	prefix string
	r      *rand.Rand
	told   map[string]error
	spans  map[string]int            // token -> models it is appended to, when not 1
	kinds  map[string]map[string]int // entry point -> how its calls ended
	seq    int
}

// s22Churn are the ids Save, Create, Delete and friends churn; s22Counted
// are those only counting writes touch, whose tokens are checked against
// what each call was told: s22Plain those of the writes that take no lock
// (Exec, tx.Exec, Update, UpdateMany), s22Locked those of Lock and
// LockAll. They are apart because a model lock excludes other holders of
// the lock, not writers that do not take it (docs/locks.md, "Ops under a
// model lock"): the lock's save sets N to the value fn computed, so a
// counting Exec landing between the lock's load and its save would keep
// its token and lose its increment. A sweep's calls follow one another,
// but one told ErrUnknownOutcome may still be run by the server after it
// returned, during a later call, on every tier: session 22's one finding
// (miniredis, seed 7950859193248645016, N 75 and 76 tokens), explained by
// TestS23mLockSaveOverwritesAWriterOutsideTheLock and
// TestS23mMiniredisRunsAnAbandonedBatchLate.
var (
	s22Churn   = []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"}
	s22Plain   = []string{"c0", "c1", "c2", "c3"}
	s22Locked  = []string{"k0", "k1", "k2", "k3"}
	s22Counted = slices.Concat(s22Plain, s22Locked)
)

// ctx draws a call's context: mostly a deadline from 1µs to about 3ms
// (log-uniform, so that every step of a call is hit), sometimes one
// cancelled before the call, and a quarter of the time 3ms to 33ms, so
// that enough calls (under -race) end, on time or just after sending.
func (s *s22Sweep) ctx() (context.Context, context.CancelFunc) {
	if s.r.IntN(12) == 0 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	}
	d := time.Microsecond<<s.r.IntN(12) + time.Duration(s.r.IntN(1000))*time.Nanosecond
	if s.r.IntN(4) == 0 {
		d = time.Duration(3+s.r.IntN(30)) * time.Millisecond // some calls end, to hold their effects to their nil
	}
	return context.WithTimeout(context.Background(), d)
}

// token is a new token, unique in the run.
func (s *s22Sweep) token() string { s.seq++; return "t" + strconv.Itoa(s.seq) }

// doc is a whole model: k tokens and N = k, an email of a small pool (so
// that Unique refuses some) or none, a rank below 100 (churned models only).
func (s *s22Sweep) doc() s22Doc {
	d := s22Doc{Rank: s.r.IntN(10)}
	for range s.r.IntN(4) {
		d.Log = append(d.Log, s.token())
	}
	d.N = len(d.Log)
	if s.r.IntN(2) == 0 {
		e := "e" + strconv.Itoa(s.r.IntN(12))
		d.Email = &e
	}
	return d
}

func (s *s22Sweep) pick(ids []string) string { return ids[s.r.IntN(len(ids))] }

// counted is the batch of a counting write: N+1 and one token appended,
// and a new rank of 100 or more (so DeleteWhere, which deletes ranks
// below 10, never takes a counted model).
func (s *s22Sweep) counted(tok string) []ops.Op {
	return []ops.Op{ops.Incr(s22dN, 1), ops.Append(s22Log, tok), ops.Set(s22Rank, 100+s.r.IntN(5))}
}

// s22Entry is one entry point of the sweep; call makes one call with ctx
// and returns its error, and the token it appends, if it counts.
type s22Entry struct {
	name string
	call func(s *s22Sweep, ctx context.Context) (string, error)
}

// run makes n calls of e, each with a context of ctx, and records how
// they ended; every error must wrap a sentinel of package rapyer.
func (s *s22Sweep) run(e s22Entry, n int) {
	s.t.Helper()
	for range n {
		ctx, cancel := s.ctx()
		tok, err := e.call(s, ctx)
		cancel()
		if err != nil && !errs.Typed(err) {
			s.t.Errorf("%s: an untyped error: %v", e.name, err)
		}
		if tok != "" {
			if _, dup := s.told[tok]; dup {
				s.t.Fatalf("%s: token %s drawn twice", e.name, tok)
			}
			s.told[tok] = err
		}
		if s.kinds[e.name] == nil {
			s.kinds[e.name] = map[string]int{}
		}
		s.kinds[e.name][s22Kind(err)]++
	}
}

// s22Kind names how a call ended, for the log and the check that the
// sweep met both outcomes.
func s22Kind(err error) string {
	for _, e := range []error{rapyer.ErrNotSent, rapyer.ErrUnknownOutcome, rapyer.ErrPartlyApplied} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(e.Error(), "rapyer: ")
		}
	}
	if err == nil {
		return "ok"
	}
	return "other"
}

// s22Whole are the entry points that write whole models (churned ids).
var s22Whole = []s22Entry{
	{"Save", func(s *s22Sweep, ctx context.Context) (string, error) {
		return "", s.m.Save(ctx, s.pick(s22Churn), s.doc())
	}},
	{"Create", func(s *s22Sweep, ctx context.Context) (string, error) {
		return "", s.m.Create(ctx, s.pick(s22Churn), s.doc())
	}},
	{"Insert", func(s *s22Sweep, ctx context.Context) (string, error) {
		_, err := s.m.Insert(ctx, s.doc())
		return "", err
	}},
	{"SaveMany", func(s *s22Sweep, ctx context.Context) (string, error) {
		ids := slices.Clone(s22Churn)
		s.r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		var es []rapyer.Entry[s22Doc]
		for _, id := range ids[:1+s.r.IntN(3)] {
			es = append(es, rapyer.Entry[s22Doc]{ID: id, Value: s.doc()})
		}
		return "", s.m.SaveMany(ctx, es)
	}},
	{"InsertMany", func(s *s22Sweep, ctx context.Context) (string, error) {
		_, err := s.m.InsertMany(ctx, s.doc(), s.doc())
		return "", err
	}},
	{"Duplicate", func(s *s22Sweep, ctx context.Context) (string, error) {
		to := ""
		if s.r.IntN(2) == 0 {
			to = s.pick(s22Churn)
		}
		_, err := s.m.Duplicate(ctx, s.pick(s22Churn), to)
		return "", err
	}},
	{"Delete", func(s *s22Sweep, ctx context.Context) (string, error) {
		_, err := s.m.Delete(ctx, s.pick(s22Churn))
		return "", err
	}},
	{"DeleteMany", func(s *s22Sweep, ctx context.Context) (string, error) {
		_, err := s.m.DeleteMany(ctx, s.pick(s22Churn), s.pick(s22Churn))
		return "", err
	}},
	{"DeleteWhere", func(s *s22Sweep, ctx context.Context) (string, error) {
		_, err := s.m.DeleteWhere(ctx, query.Where(is.Equal(s22Rank, s.r.IntN(10))))
		return "", err
	}},
	{"Expire", func(s *s22Sweep, ctx context.Context) (string, error) {
		return "", s.m.Expire(ctx, s.pick(append(s22Churn, s22Counted...)), time.Hour)
	}},
	{"Persist", func(s *s22Sweep, ctx context.Context) (string, error) {
		return "", s.m.Persist(ctx, s.pick(append(s22Churn, s22Counted...)))
	}},
}

// s22Counting are the entry points that append a token to counted models.
var s22Counting = []s22Entry{
	{"Exec", func(s *s22Sweep, ctx context.Context) (string, error) {
		tok := s.token()
		_, err := s.m.Exec(ctx, s.pick(s22Plain), tx.Of(s.counted(tok)...))
		return tok, err
	}},
	{"tx.Exec", func(s *s22Sweep, ctx context.Context) (string, error) {
		tok := s.token()
		_, err := tx.Exec(ctx, s.rdb, tx.On(s.m.Target(s.pick(s22Plain)), s.counted(tok)...), tx.Options{})
		return tok, err
	}},
	{"Update", func(s *s22Sweep, ctx context.Context) (string, error) {
		tok := s.token()
		_, err := s.m.Update(ctx, s.pick(s22Plain), func(s22Doc) (tx.Batch, error) { return tx.Of(s.counted(tok)...), nil })
		return tok, err
	}},
	{"UpdateMany", func(s *s22Sweep, ctx context.Context) (string, error) {
		tok := s.token()
		_, err := s.m.UpdateMany(ctx, []string{s.pick(s22Plain)}, func([]s22Doc) (tx.Batch, error) { return tx.Of(s.counted(tok)...), nil })
		return tok, err
	}},
	{"Lock", func(s *s22Sweep, ctx context.Context) (string, error) {
		tok := s.token()
		_, err := s.m.Lock(ctx, s.pick(s22Locked), "w", func(_ context.Context, d *s22Doc) error {
			d.N++
			d.Log = append(d.Log, tok)
			return nil
		}, rapyer.WithWait(time.Second))
		return tok, err
	}},
}

// s22Maint are the maintenance entry points, and the lock package's.
var s22Maint = []s22Entry{
	{"Reindex", func(s *s22Sweep, ctx context.Context) (string, error) { return "", s.m.Reindex(ctx, nil) }},
	{"DropIndex", func(s *s22Sweep, ctx context.Context) (string, error) { return "", s.m.DropIndex(ctx, "gone") }},
	{"Sweep", func(s *s22Sweep, ctx context.Context) (string, error) {
		_, err := s.m.Sweep(ctx)
		return "", err
	}},
	{"lock.Acquire+Extend+Release", func(s *s22Sweep, ctx context.Context) (string, error) {
		k := s.prefix + ":{lk}:lock:x"
		l, err := lock.Acquire(ctx, s.rdb, k, lock.Options{TTL: time.Minute, Wait: time.Second})
		if err != nil {
			return "", err
		}
		ectx, cancel := s.ctx()
		err = l.Extend(ectx, time.Minute)
		cancel()
		rctx, cancel := s.ctx()
		defer cancel()
		rerr := l.Release(rctx)
		for _, e := range []error{err, rerr} {
			if e != nil && !errs.Typed(e) {
				return "", e
			}
		}
		return "", errors.Join(err, rerr)
	}},
	{"LockAll", func(s *s22Sweep, ctx context.Context) (string, error) {
		tok := s.token()
		s.spans[tok] = 2
		ids := slices.Clone(s22Locked)
		s.r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		var a, b s22Doc
		held := []rapyer.Held{s.m.Hold(ids[0], &a), s.m.Hold(ids[1], &b)}
		_, err := rapyer.LockAll(ctx, "w", held, func(context.Context) error {
			a.N, b.N = a.N+1, b.N+1
			a.Log, b.Log = append(a.Log, tok), append(b.Log, tok)
			return nil
		}, rapyer.WithWait(time.Second))
		return tok, err
	}},
}

// TestS22EveryWriteUnderTinyDeadlines: every public entry point that
// writes (Save, Create, Insert, SaveMany, InsertMany, Duplicate, Delete,
// DeleteMany, DeleteWhere, Expire, Persist, Exec, tx.Exec, Update,
// UpdateMany, Lock, LockAll, Reindex, DropIndex, Sweep, and lock's
// Acquire, Extend and Release), called a few hundred times on a client
// with ContextTimeoutEnabled under deadlines from 1µs to ~3ms and contexts
// cancelled before the call, first one entry point at a time, then mixed.
// Every error wraps a sentinel; afterwards every model is whole (N counts
// its Log), a counting write told nil stored its token once, one told
// ErrNotSent (or any error but an unknown outcome) stored nothing, no
// token is stored twice, no lock is left held, every key of a model has
// a TTL or none has, every lock and batch record key has one, the indexes
// are what the models give, and the goroutines return to their count.
func TestS22EveryWriteUnderTinyDeadlines(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		prefix := b.Prefix + "dl"
		check := rapyer.MustNew[s22Doc](b.Client, rapyer.Options{Prefix: prefix, Indexes: s22Specs})
		before, _ := s22Count()
		s := s22Setup(t, b, prefix, seed)
		n := 100 // per entry point, then as many again mixed
		if b.Kind == testenv.Mini {
			n = 50
		}
		all := slices.Concat(s22Whole, s22Counting, s22Maint)
		for _, e := range all {
			s.run(e, n)
		}
		for range n * len(all) {
			s.run(all[s.r.IntN(len(all))], 1)
		}
		for _, e := range all {
			t.Logf("%-28s %v", e.name, s.kinds[e.name])
			if s.kinds[e.name]["not sent"] == 0 {
				t.Errorf("%s: no call was cut short: the sweep tried nothing", e.name)
			}
		}
		s22AllWhole(t, check)
		s22Truth(t, check, s.told, s.spans)
		s22TTLs(t, b, check)
		_ = s.rdb.Close()
		s22Goroutines(t, before)
		ixcheck.MustNew[s22Doc](t, b.Client, prefix, 1, s22Specs, check.IDs).Check(t, "after the sweep")
	})
}

// s22Setup stores the counted models (N 0) and the churned ones, and
// returns the sweep on a client of its own with ContextTimeoutEnabled.
func s22Setup(t *testing.T, b *testenv.Backend, prefix string, seed int64) *s22Sweep {
	t.Helper()
	rdb := b.NewClient(t, func(o *redis.UniversalOptions) { o.ContextTimeoutEnabled = true })
	s := &s22Sweep{t: t, rdb: rdb, prefix: prefix, r: rand.New(rand.NewPCG(uint64(seed), 22)),
		told: map[string]error{}, spans: map[string]int{}, kinds: map[string]map[string]int{},
		m: rapyer.MustNew[s22Doc](rdb, rapyer.Options{Prefix: prefix, Indexes: s22Specs})}
	ctx := context.Background()
	for _, id := range s22Counted {
		if err := s.m.Save(ctx, id, s22Doc{Rank: 100}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range s22Churn {
		d := s.doc()
		d.Email = nil
		if err := s.m.Save(ctx, id, d); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// s22AllWhole checks that every stored model is whole: N counts its Log.
func s22AllWhole(t *testing.T, m *rapyer.Model[s22Doc]) {
	t.Helper()
	ctx := context.Background()
	count := 0
	for id, err := range m.IDs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		d, err := m.Get(ctx, id)
		if errors.Is(err, rapyer.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("Get %s: %v", id, err)
		}
		count++
		if d.N != len(d.Log) {
			t.Errorf("model %s is not whole: N %d, Log %v", id, d.N, d.Log)
		}
	}
	if count < len(s22Counted) {
		t.Errorf("%d models left, want at least the %d counted", count, len(s22Counted))
	}
}

// s22Truth holds each counting call's error to the models: nil stored its
// token in as many models as it wrote (spans, else 1), an unknown outcome
// in all or none, a partly applied one in some, any other error in none;
// and every token in a counted model is one a call appended, once.
func s22Truth(t *testing.T, m *rapyer.Model[s22Doc], told map[string]error, spans map[string]int) {
	t.Helper()
	found, missing, err := m.GetMany(context.Background(), s22Counted)
	if err != nil || len(missing) > 0 {
		t.Fatalf("GetMany of the counted models: %v, missing %v", err, missing)
	}
	seen := map[string]int{}
	for _, e := range found {
		for _, tok := range e.Value.Log {
			seen[tok]++
			if _, ok := told[tok]; !ok {
				t.Errorf("model %s holds %s, which no call appended", e.ID, tok)
			}
		}
		if len(e.Value.Log) != len(slices.Compact(slices.Sorted(slices.Values(e.Value.Log)))) {
			t.Errorf("model %s holds a token twice: %v", e.ID, e.Value.Log)
		}
	}
	ok := 0
	for tok, err := range told {
		n, want := seen[tok], max(spans[tok], 1)
		switch {
		case err == nil && n != want:
			t.Errorf("%s: told nil, stored in %d models, want %d", tok, n, want)
		case errors.Is(err, rapyer.ErrUnknownOutcome) && n != 0 && n != want:
			t.Errorf("%s: unknown outcome (%v), stored in %d of %d models", tok, err, n, want)
		case errors.Is(err, rapyer.ErrPartlyApplied) && n > want:
			t.Errorf("%s: %v, stored in %d models, more than %d", tok, err, n, want)
		case err != nil && !errors.Is(err, rapyer.ErrUnknownOutcome) && !errors.Is(err, rapyer.ErrPartlyApplied) && n != 0:
			t.Errorf("%s: told %v, yet stored in %d models", tok, err, n)
		}
		if err == nil {
			ok++
		}
	}
	if ok == 0 {
		t.Errorf("no counting call succeeded in %d: the truth check checked nothing", len(told))
	}
}

// s22TTLs checks what the sweep left under the prefix and in the batch
// records: no lock held (after a generous wait: their TTL is longer), every
// lock and record key with a TTL, and each model's keys all with a TTL or
// all without one (Expire and Persist act on every key in one step).
func s22TTLs(t *testing.T, b *testenv.Backend, m *rapyer.Model[s22Doc]) {
	t.Helper()
	var left map[string]time.Duration
	held := []string{"?"}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && len(held) > 0; time.Sleep(10 * time.Millisecond) {
		left, held = keysOf(t, b), nil
		for k := range left {
			if strings.HasSuffix(k, ":lock:w") || strings.HasSuffix(k, ":lock:x") {
				held = append(held, k)
			}
		}
	}
	if len(held) > 0 {
		t.Errorf("locks left held after every call ended: %v", held)
	}
	for k, ttl := range left {
		if strings.Contains(k, ":lock:") && ttl == -1 {
			t.Errorf("%s lives for ever", k)
		}
	}
	ctx := context.Background()
	for id, err := range m.IDs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		ks, _ := m.Keys(id)
		var ttls []string
		with := map[bool]int{}
		for _, k := range ks {
			if ttl, ok := left[k]; ok && ttl != -2 {
				ttls = append(ttls, fmt.Sprintf("%s=%v", k, ttl))
				with[ttl != -1]++
			}
		}
		if with[true] > 0 && with[false] > 0 {
			t.Errorf("model %s: some keys have a TTL, some not: %v", id, ttls)
		}
	}
	s22Records(t, b)
}

// s22Records checks that every batch record key (tx{...}:...) has a TTL.
func s22Records(t *testing.T, b *testenv.Backend) {
	t.Helper()
	if err := eachMaster(b, func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, "tx{*", 1000).Iterator()
		for it.Next(ctx) {
			if c.PTTL(ctx, it.Val()).Val() == -1 {
				t.Errorf("batch record %s lives for ever", it.Val())
			}
		}
		return it.Err()
	}); err != nil {
		t.Fatal(err)
	}
}

// s22Goroutines waits (generously) for this process's goroutines to return
// to their count before the run, and fails with their stacks if they do
// not. miniredis's own goroutines (one pair per open connection, and the
// checks' client keeps some open) are not counted: they are the server's.
func s22Goroutines(t *testing.T, before int) {
	t.Helper()
	var now int
	var stacks string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if now, stacks = s22Count(); now <= before {
			return
		}
	}
	t.Errorf("%d goroutines, %d before the run:\n%s", now, before, stacks)
}

// s22Count counts the goroutines but miniredis's, and returns their stacks.
func s22Count() (int, string) {
	buf := make([]byte, 4<<20)
	var ours []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "miniredis/v2/server") {
			ours = append(ours, g)
		}
	}
	return len(ours), strings.Join(ours, "\n\n")
}
