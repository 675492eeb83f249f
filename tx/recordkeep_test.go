package tx_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// recordWord is the record word of a compiled save's call: its last word
// ("" or "+": a lifetime from now; an id: the key's lifetime kept).
func recordWord(call []any) string { return fmt.Sprint(call[len(call)-1]) }

// msRounding is the most a server's whole ms take off a TTL it reports
// (it reads its clock in whole ms when it sets a TTL and when it answers
// PTTL).
const msRounding = 2 * time.Millisecond

// kept reports whether a compiled save's call keeps its record key's
// lifetime (SET ... KEEPTTL): its record word is the id the key held.
func kept(call []any) bool { return len(recordWord(call)) > 1 }

// A pooled record key that is not as its client left it (deleted behind
// its back, as an eviction, a flush, a restart or a failover leaves it; or
// holding an older write with a shorter lifetime, as a failover or a
// restart that lost the last writes may leave it) gets the record's
// lifetime from the Save that meets it: a Save whose client would keep the
// key's lifetime (KEEPTTL) never leaves a record key without a TTL, nor
// with less than its record's lifetime after the Save. The Save is applied
// once, and its words sent again are answered as a duplicate.
func TestAPooledKeyNotAsItsClientLeftItGetsItsLifetime(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		rdb := b.NewClient(t, nil)
		h := &evalshas{}
		rdb.AddHook(h)
		m := rapyer.MustNew[PoolItem](rdb, rapyer.Options{Prefix: b.Prefix + "keep"})
		n := 0
		save := func() []any {
			t.Helper()
			n++
			if err := m.Save(ctx, "k", PoolItem{N: n}); err != nil {
				t.Fatal(err)
			}
			calls := h.take()
			if len(calls) != 1 {
				return nil // the first Save of the shape (EVAL), or one resent
			}
			return calls[0]
		}
		for _, tamper := range []string{"deleted", "an older write"} {
			met := false
			for try := 0; try < 20 && !met; try++ {
				last := save()
				if last == nil || (!kept(last) && recordWord(last) != "+") {
					continue // not yet a key its client knows
				}
				k := recordKey(last)
				switch tamper {
				case "deleted":
					b.Client.Del(ctx, k)
				default:
					b.Client.Set(ctx, k, "AAAAAAAAAAAAAAAA", 50*time.Millisecond)
				}
				start := time.Now()
				call := save()
				if call == nil || recordKey(call) != k || !kept(call) {
					continue // another Save of the slot took the key, or it had to be refreshed
				}
				met = true
				pttl, err := b.Client.PTTL(ctx, k).Result()
				if err != nil || pttl <= 0 || pttl+time.Since(start)+msRounding < tx.DefaultRecord {
					t.Fatalf("%s: the record key after the Save: PTTL %v %v; want at least %v after the Save", tamper, pttl, err, tx.DefaultRecord)
				}
				if got, err := m.Get(ctx, "k"); err != nil || got.N != n {
					t.Fatalf("%s: stored %+v %v, want N %d", tamper, got, err, n)
				}
				v0, _ := b.Client.HGet(ctx, fmt.Sprint(call[3]), "__v").Result()
				if res, err := b.Client.Do(ctx, call...).Result(); err != nil || fmt.Sprint(res) != "[DUP]" {
					t.Fatalf("%s: the Save's words again: %v %v; want [DUP]", tamper, res, err)
				}
				if v1, _ := b.Client.HGet(ctx, fmt.Sprint(call[3]), "__v").Result(); v1 != v0 {
					t.Fatalf("%s: the duplicate moved the version from %s to %s", tamper, v0, v1)
				}
			}
			if !met {
				t.Fatalf("%s: no Save kept the lifetime of a key tampered with", tamper)
			}
		}
	})
}

// Every record a Save writes lives at least the record's lifetime after
// the Save started, whichever form its record takes (a lifetime from now,
// a refresh, or the pooled key's lifetime kept): Saves of one model with a
// short record lifetime, at random intervals (seeded), each record's PTTL
// checked right after its Save. A client that kept a key's lifetime
// without knowing it lasts (or that counted it from after the send) would
// leave records that die before their resends could come.
func TestEveryRecordOutlivesItsResendWindow(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		rnd := rand.New(rand.NewSource(seed))
		rdb := b.NewClient(t, nil)
		h := &evalshas{}
		rdb.AddHook(h)
		const life = time.Second
		m := rapyer.MustNew[PoolItem](rdb, rapyer.Options{Prefix: b.Prefix + "window", Exec: tx.Options{Record: life}})
		forms := map[string]int{}
		for i := 0; i < 200 && (i < 30 || forms["kept"] == 0 || forms["+"] == 0); i++ {
			start := time.Now()
			if err := m.Save(ctx, "w", PoolItem{N: i}); err != nil {
				t.Fatal(err)
			}
			calls := h.take()
			if len(calls) != 1 {
				continue // the first Save of the shape (EVAL), or one resent
			}
			form := recordWord(calls[0])
			if kept(calls[0]) {
				form = "kept"
			}
			forms[form]++
			k := recordKey(calls[0])
			pttl, err := b.Client.PTTL(ctx, k).Result()
			if err != nil || pttl <= 0 || pttl+time.Since(start)+msRounding < life {
				t.Fatalf("save %d (record %q): PTTL %v %v; want at least %v after the Save", i, form, pttl, err, life)
			}
			pause := time.Duration(rnd.Intn(100)) * time.Millisecond
			if b.Mini != nil {
				b.Mini.FastForward(pause) // miniredis's TTLs move only so
			}
			time.Sleep(pause) // the Saves' spacing, not a synchronisation
		}
		if forms["kept"] == 0 || forms["+"] == 0 {
			t.Fatalf("the record forms met: %v; want kept lifetimes and refreshes", forms)
		}
		t.Logf("record forms: %v", forms)
	})
}

// oldServer stands for the first line of a compiled save's text in
// TestARecordOnAServerWithoutSetGet: its pc answers a SET ... GET with the
// error a server before 6.2 gives, as a table.
const oldServer = `local KS, AV = KEYS, ARGV
local pc = function(...)
  local a = {...}
  if a[1] == 'SET' and a[#a] == 'GET' then return {err = 'ERR syntax error'} end
  return redis.pcall(...)
end
`

// On a server without SET ... GET (before 6.2, whose error the test's
// script stands in for), a compiled save looks its record up by GET and
// writes it by SET PX, whichever record word its call has (a lifetime from
// now, a refresh, or an id whose lifetime it would keep): a record of its
// own id answers a duplicate with nothing written; any other applies the
// save, and leaves the record holding the id with at least the record's
// lifetime.
func TestARecordOnAServerWithoutSetGet(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[PoolItem](b.Client, rapyer.Options{Prefix: b.Prefix + "old"})
		target := m.Target("o")
		const prev = "PPPPPPPPPPPPPPPP"
		for _, word := range []string{"", "+", prev} {
			for _, held := range []string{"", prev, "other", "own"} {
				p, err := tx.BuildProgram(b.Client, tx.On(target, ops.Replace(PoolItem{Name: "x", N: 7})), tx.Options{})
				if err != nil {
					t.Fatal(err)
				}
				text, keys, args, ok := p.CompiledSave()
				if !ok || !strings.HasPrefix(text, "-- rapyer-go: a compiled save") {
					t.Fatalf("no compiled save: %q", text)
				}
				text = strings.Replace(text, "local KS, AV, pc = KEYS, ARGV, redis.pcall\n", oldServer, 1)
				args[len(args)-1] = word
				b.Client.Del(ctx, target.Root(), p.Record())
				if held == "own" {
					held = p.ID()
				}
				if held != "" {
					b.Client.Set(ctx, p.Record(), held, time.Minute)
				}
				start := time.Now()
				res, err := b.Client.Eval(ctx, text, keys, args...).Result()
				dup := held == p.ID()
				if err != nil || (fmt.Sprint(res) == "[DUP]") != dup || (!dup && fmt.Sprint(res) != "1") {
					t.Fatalf("word %q, record holding %q: %v %v; want duplicate %v", word, held, res, err, dup)
				}
				got, err := m.Get(ctx, "o")
				if applied := err == nil && got.N == 7; applied == dup {
					t.Fatalf("word %q, record holding %q: stored %+v %v; applied must be %v", word, held, got, err, !dup)
				}
				rec, _ := b.Client.Get(ctx, p.Record()).Result()
				pttl, _ := b.Client.PTTL(ctx, p.Record()).Result()
				if rec != p.ID() || pttl <= 0 || (!dup && pttl+time.Since(start)+msRounding < tx.DefaultRecord) {
					t.Fatalf("word %q, record holding %q: the record %q with PTTL %v", word, held, rec, pttl)
				}
			}
		}
	})
}
