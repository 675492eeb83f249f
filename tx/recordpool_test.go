package tx_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// PoolItem is a model without collections: its Save goes by the direct
// path, on a compiled save.
type PoolItem struct {
	Name string
	N    int
}

// evalshas is a hook that keeps the words of every EVALSHA a client sends.
type evalshas struct {
	mu   sync.Mutex
	sent [][]any
}

func (h *evalshas) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *evalshas) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" {
			h.mu.Lock()
			h.sent = append(h.sent, slices.Clone(cmd.Args()))
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (h *evalshas) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// take returns the calls kept since the last take.
func (h *evalshas) take() [][]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.sent
	h.sent = nil
	return out
}

// recordKey is the record key of a compiled save's call: its second key.
func recordKey(call []any) string { return fmt.Sprint(call[4]) }

// Saves of one model, one after another, reuse their record keys: a Save
// settled on its first send gives its key back, and the next Save on the
// slot writes its own id over the last one's. Each one is applied.
func TestSavesReuseTheirRecordKeys(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		rdb := b.NewClient(t, nil)
		h := &evalshas{}
		rdb.AddHook(h)
		m := rapyer.MustNew[PoolItem](rdb, rapyer.Options{Prefix: b.Prefix + "pool"})
		seen := map[string]bool{}
		for i := range 30 {
			if err := m.Save(ctx, "r", PoolItem{Name: "r", N: i}); err != nil {
				t.Fatal(err)
			}
			if got, err := m.Get(ctx, "r"); err != nil || got.N != i {
				t.Fatalf("save %d: stored %+v, %v", i, got, err)
			}
			for _, c := range h.take() {
				seen[recordKey(c)] = true
			}
		}
		// the first Save of the shape names its record by its id; the
		// others share a pooled key (another test saving on the slot at
		// the same moment may take one more)
		if len(seen) == 0 || len(seen) > 4 {
			t.Fatalf("30 Saves used %d record keys: %v", len(seen), seen)
		}
	})
}

// A record key that holds another batch's id (a pooled key a Save used
// before) is no answer: the save is applied, by its compiled save and by
// the interpreter's lean form; one that holds the batch's own id, or '1',
// answers it as a duplicate, and nothing is written.
func TestARecordOfAnotherBatchIsNoAnswer(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[PoolItem](b.Client, rapyer.Options{Prefix: b.Prefix + "other"})
		target := m.Target("o")
		for _, path := range []string{"direct", "lean"} {
			for _, held := range []string{"", "AAAAAAAAAAAAAAAA", "F", "own", "1"} {
				b.Client.Del(ctx, target.Root())
				p, err := tx.BuildProgram(b.Client, tx.On(target, ops.Replace(PoolItem{Name: path + held, N: 7})), tx.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if held == "own" {
					held = p.ID()
				}
				if held != "" {
					b.Client.Set(ctx, p.Record(), held, 0)
				}
				var res *tx.Result
				if path == "direct" {
					res, _, err = p.Direct(ctx, b.Client)
				} else {
					res, err = p.Lean(ctx, b.Client)
				}
				dup := held == p.ID() || held == "1"
				if err != nil || res.Duplicate != dup {
					t.Fatalf("%s, record holding %q: %+v %v; want duplicate %v", path, held, res, err, dup)
				}
				got, err := m.Get(ctx, "o")
				if applied := err == nil && got.N == 7; applied == dup {
					t.Fatalf("%s, record holding %q: stored %+v %v; applied must be %v", path, held, got, err, !dup)
				}
			}
		}
	})
}

// A Save resent after a lost reply keeps its record key out of the pool:
// the Saves after it on the same model use other keys, and a late copy of
// its first send (a straggler that reaches the server after them) finds
// its own record and is answered as a duplicate, applied once.
func TestAStragglerOfAResentSaveIsNotAppliedTwice(t *testing.T) {
	for _, tier := range []testenv.Kind{testenv.Mini, testenv.Server} {
		t.Run(string(tier), func(t *testing.T) {
			b := testenv.On(t, tier)
			ctx := context.Background()
			p := throughProxy(t, b, func(o *redis.UniversalOptions) { o.MaxRetries = -1 })
			h := &evalshas{}
			p.rdb.AddHook(h)
			m := rapyer.MustNew[PoolItem](p.rdb, rapyer.Options{Prefix: b.Prefix + "strag"})
			for i := range 3 { // the shape found, a pooled key in use
				if err := m.Save(ctx, "s", PoolItem{N: i}); err != nil {
					t.Fatal(err)
				}
			}
			h.take()
			if err := p.loseReply(t, func() error { return m.Save(ctx, "s", PoolItem{N: 100}) }, "EVALSHA"); err != nil {
				t.Fatalf("a lost reply with a safe resend: %v", err)
			}
			sent := h.take()
			if len(sent) != 2 || recordKey(sent[0]) != recordKey(sent[1]) {
				t.Fatalf("the lost Save's sends: %v", sent)
			}
			straggler, resentKey := sent[0], recordKey(sent[0])
			for i := range 10 {
				if err := m.Save(ctx, "s", PoolItem{N: 200 + i}); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range h.take() {
				if recordKey(c) == resentKey {
					t.Fatalf("a later Save reused the record key %s of a resent Save", resentKey)
				}
			}
			v0, _ := b.Client.HGet(ctx, fmt.Sprint(straggler[3]), "__v").Result()
			res, err := b.Client.Do(ctx, straggler...).Result()
			if err != nil || fmt.Sprint(res) != "[DUP]" {
				t.Fatalf("the straggler: %v %v; want [DUP]", res, err)
			}
			v1, _ := b.Client.HGet(ctx, fmt.Sprint(straggler[3]), "__v").Result()
			if got, err := m.Get(ctx, "s"); err != nil || got.N != 209 || v0 != v1 {
				t.Fatalf("after the straggler: %+v %v, version %s then %s", got, err, v0, v1)
			}
		})
	}
}
