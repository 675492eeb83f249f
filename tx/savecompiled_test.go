package tx_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// prepareSave stores a random state for a Save of a Flat at target: none,
// a root of another type, or a hash with a version (some corrupt, some
// past 2^53, some whose next one carries), an old and a stray field,
// perhaps a TTL; and perhaps a record of the batch already there ('1', a
// resend's; 'F', a failed save's that could not delete its own).
func prepareSave(ctx context.Context, b *testenv.Backend, target tx.Target, rec string, r *rand.Rand) {
	root := target.Root()
	b.Client.Del(ctx, root)
	if rec != "" {
		b.Client.Del(ctx, rec)
		switch r.IntN(8) {
		case 0:
			b.Client.Set(ctx, rec, "1", time.Minute)
		case 1:
			b.Client.Set(ctx, rec, "F", time.Minute)
		}
	}
	switch r.IntN(8) {
	case 0:
		return
	case 1:
		b.Client.Set(ctx, root, "a string", 0)
		return
	}
	vers := []string{"1", "41999", "9", "0", "9007199254740991", "9007199254740992", "x", "007", "-3",
		"8", "1796053238019058", "1796053238019059", "9999999999999999", "10000000000000000", "", " 7", "7 ", "+7", "1e3", "0x1F", "12a4", "00", "5.0"}
	ver := vers[r.IntN(len(vers))]
	first := []any{"__v", ver, "name", "old"}
	if r.IntN(4) == 0 {
		// a value past hash-max-listpack-value: a hash of the table
		// encoding, whose fields come in no order
		first[3] = strings.Repeat("long ", 20)
	}
	switch r.IntN(3) {
	case 0:
		b.Client.HSet(ctx, root, first...)
	case 1:
		// the fields of a value, which a save overwrites in place
		b.Client.HSet(ctx, root, first...)
		b.Client.HSet(ctx, root, "age", "7", "score", "0.5")
	case 2:
		// the same fields in another order than the save writes them
		b.Client.HSet(ctx, root, "score", "0.5", "age", "7")
		b.Client.HSet(ctx, root, first...)
	}
	if r.IntN(2) == 0 {
		b.Client.HSet(ctx, root, "stray", "s")
	}
	if r.IntN(2) == 0 {
		b.Client.HSet(ctx, root, "note", "old note")
	}
	if r.IntN(2) == 0 {
		b.Client.PExpire(ctx, root, time.Hour)
	}
}

// saveOutcome is what a Save did: its error's kind (and, when exact, its
// text), whether it was skipped or a duplicate, the stored model, its
// version, and the record.
func saveOutcome(ctx context.Context, b *testenv.Backend, target tx.Target, rec string, exact bool, res *tx.Result, err error) string {
	s := "err: nil\n"
	if err != nil {
		kinds := []error{rapyer.ErrNotFound, rapyer.ErrExists, rapyer.ErrWrongType, rapyer.ErrCorrupt, rapyer.ErrOverflow,
			rapyer.ErrNoPermission, rapyer.ErrPartlyApplied, rapyer.ErrInvalid, rapyer.ErrRefused}
		s = "err: other\n"
		for _, k := range kinds {
			if errors.Is(err, k) {
				s = fmt.Sprintf("err: %v\n", k)
			}
		}
		if exact {
			s += err.Error() + "\n"
		}
	} else {
		// Duplicate is left out: it says a reply was lost (a read timeout
		// on a stalled machine) and a resend was answered from the record,
		// which either path may meet; the results are the one application's.
		s += fmt.Sprintf("skipped %v\n", res.Skipped)
	}
	root := target.Root()
	v := b.Client.HGet(ctx, root, "__v").Val()
	// the clock's microseconds (16 digits, 17..., not a prepared version)
	if len(v) == 16 && v[0] != '9' {
		v = "from the clock"
	}
	s += "version " + v + "\n"
	typ := b.Client.Type(ctx, root).Val()
	s += fmt.Sprintf("root %s ttl=%v\n", typ, b.Client.PTTL(ctx, root).Val() > 0)
	if typ == "hash" {
		h := b.Client.HGetAll(ctx, root).Val()
		delete(h, "__v")
		var fs []string
		for f, x := range h {
			fs = append(fs, f+"="+x)
		}
		sort.Strings(fs)
		s += fmt.Sprint(fs, "\n")
	}
	if rec != "" {
		// a save's record holds its batch id (the end of its record key
		// here), the generic interpreter's '1': both say the batch applied
		v := b.Client.Get(ctx, rec).Val()
		if _, id, _ := strings.Cut(rec, "}:"); v == id {
			v = "1"
		}
		s += fmt.Sprintf("record %q ttl=%v\n", v, b.Client.PTTL(ctx, rec).Val() > 0)
	}
	return s
}

// TestCompiledSavesAgreeWithTheInterpreter: random Saves, Creates and
// saves of the other modes of a model without collections (random values,
// with and without a TTL, with and without a record), on random stored
// states, sent once or twice (a resend, perhaps after another client
// changed the model), leave the same results, errors and stored state
// (record included) on the compiled save (Exec's path), on a Save's
// direct path (the same id, words made without the program), on the lean form
// of the interpreter (exactly: same error texts) and on the generic
// interpreter (same kinds of errors), on every tier.
func TestCompiledSavesAgreeWithTheInterpreter(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Flat](b.Client, rapyer.Options{Prefix: b.Prefix + "flat"})
		target := m.Target("c")
		r := rand.New(rand.NewPCG(uint64(seed), 6))
		settled0, _ := transport.ShapeRuns()
		for i := range 300 {
			v := flatValues()[r.IntN(3)]
			ttl := r.IntN(3) == 0
			opts := tx.Options{IfMissing: []tx.Missing{tx.FailIfMissing, tx.FailIfMissing, tx.SkipIfMissing, tx.MustBeNew}[r.IntN(4)]}
			if r.IntN(4) == 0 {
				opts.Record = tx.NoRecord
			}
			batch := flatBatch(target, v, ttl)
			p, err := tx.BuildProgram(b.Client, batch, opts)
			if err != nil {
				t.Fatal(err)
			}
			resend := r.IntN(3) == 0
			meddle := r.IntN(2) == 0
			state := r.Uint64()
			// exact: compare error texts too (the generic interpreter
			// numbers a Save's instructions as the lean form does not)
			run := func(exact bool, send func(context.Context) (*tx.Result, error)) string {
				prepareSave(ctx, b, target, p.Record(), rand.New(rand.NewPCG(state, 1)))
				if !exact && p.Record() != "" && b.Client.Get(ctx, p.Record()).Val() == "F" {
					// a failed lean save's record: the generic interpreter
					// never meets it (a lean program runs on the lean form)
					return "F"
				}
				res, err := send(ctx)
				out := ""
				if resend {
					out = saveOutcome(ctx, b, target, p.Record(), exact, res, err)
					if meddle {
						// another client deletes the model, or makes it a string
						b.Client.Del(ctx, target.Root())
						if state%2 == 0 {
							b.Client.Set(ctx, target.Root(), "x", 0)
						}
					}
					res, err = send(ctx)
				}
				return out + saveOutcome(ctx, b, target, p.Record(), exact, res, err)
			}
			compiled := run(true, func(ctx context.Context) (*tx.Result, error) { return p.Exec(ctx, b.Client) })
			lean := run(true, func(ctx context.Context) (*tx.Result, error) { return p.Lean(ctx, b.Client) })
			if compiled != lean {
				t.Fatalf("save %d (%+v, value %+v, ttl %v, resend %v): compiled\n%s\nthe lean form\n%s", i, opts, v, ttl, resend, compiled, lean)
			}
			direct := run(true, func(ctx context.Context) (*tx.Result, error) {
				res, ok, err := p.Direct(ctx, b.Client)
				if !ok {
					t.Fatalf("save %d (%+v, value %+v, ttl %v): not sent by the direct path", i, opts, v, ttl)
				}
				return res, err
			})
			if direct != compiled {
				t.Fatalf("save %d (%+v, value %+v, ttl %v, resend %v): direct\n%s\ncompiled\n%s", i, opts, v, ttl, resend, direct, compiled)
			}
			interp := run(false, func(ctx context.Context) (*tx.Result, error) { return p.Interpreter(ctx, b.Client) })
			if loose := run(false, func(ctx context.Context) (*tx.Result, error) { return p.Exec(ctx, b.Client) }); interp != "F" && loose != interp {
				t.Fatalf("save %d (%+v, value %+v, ttl %v, resend %v): compiled\n%s\nthe interpreter\n%s", i, opts, v, ttl, resend, loose, interp)
			}
		}
		settled, _ := transport.ShapeRuns()
		t.Logf("%d calls of 300 saves settled on a compiled save", settled-settled0)
		if settled-settled0 < 100 {
			t.Fatalf("only %d calls settled on a compiled save", settled-settled0)
		}
		// the direct path found a compiled save for every shape of the
		// saves (values with and without a Note, TTL or not, modes, record
		// or not), none by a program
		if compiled, program := tx.DirectShapes(target); compiled < 8 || program > 0 {
			t.Fatalf("the direct path's shapes: %d compiled, %d by a program", compiled, program)
		}
	})
}

// TestCompiledSaveLostReply: a compiled save whose reply is lost is
// applied once, go-redis's retries left at their default: it is sent as a
// command go-redis does not resend, so without a record the caller gets
// ErrUnknownOutcome, and with one Exec's resend is answered from it.
func TestCompiledSaveLostReply(t *testing.T) {
	for _, tier := range []testenv.Kind{testenv.Mini, testenv.Server} {
		t.Run(string(tier), func(t *testing.T) {
			b := testenv.On(t, tier)
			ctx := context.Background()
			eachRecordLosingReply(t, b, func(t *testing.T, c *lostReply) {
				m := rapyer.MustNew[Flat](c.rdb, rapyer.Options{Prefix: b.Prefix + "flat", Exec: tx.Options{Record: c.record}})
				root := m.Target("lost").Root()
				if err := m.Save(ctx, "lost", flatValues()[1]); err != nil {
					t.Fatal(err)
				}
				b.Client.HSet(ctx, root, "__v", "7")
				c.send(t, func() error { return m.Save(ctx, "lost", flatValues()[1]) })
				if v := b.Client.HGet(ctx, root, "__v").Val(); v != "8" {
					t.Fatalf("the version after one Save from 7: %s", v)
				}
				c.resentOnShape(t)
			})
		})
	}
}

// TestCompiledSaveWithoutHLenOrPTTL: a user who may run scripts but not
// HLEN or PTTL (the reads a compiled save makes besides HGET) saves through
// the compiled save in one call, which writes the root anew as saveone
// does: on a root of the same fields with a TTL, one with a stray, one
// without either and a missing one, the model is the value, its version the
// next, with no stray and no TTL. Until session 16 the refused read made
// the script answer AGAIN, and every such Save went to the interpreter
// after a first call.
func TestCompiledSaveWithoutHLenOrPTTL(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "flatread"
		admin := rapyer.MustNew[Flat](b.Client, rapyer.Options{Prefix: prefix})
		v := flatValues()[1]
		all := []string{"+del", "+hset", "+pexpire", "+hlen", "+pttl", "+eval", "+evalsha"}
		for _, missing := range []string{"+hlen", "+pttl"} {
			m := rapyer.MustNew[Flat](b.NewUser(t, leanRules(prefix, all, missing)...), rapyer.Options{Prefix: prefix})
			for _, state := range []string{"same fields, TTL", "a stray", "same fields", "missing"} {
				root := m.Target("a").Root()
				b.Client.Del(ctx, root)
				if state != "missing" {
					if err := admin.Save(ctx, "a", v); err != nil {
						t.Fatal(err)
					}
				}
				switch state {
				case "same fields, TTL":
					b.Client.PExpire(ctx, root, time.Hour)
				case "a stray":
					b.Client.HSet(ctx, root, "stray", "s")
				}
				before := b.Client.HGet(ctx, root, "__v").Val()
				_, again0 := transport.ShapeRuns()
				if err := m.Save(ctx, "a", v); err != nil {
					t.Fatalf("without %s, %s: %v", missing, state, err)
				}
				if _, again := transport.ShapeRuns(); again != again0 {
					t.Fatalf("without %s, %s: the compiled save left the save to the interpreter", missing, state)
				}
				got, ver, err := admin.GetWithVersion(ctx, "a")
				h := b.Client.HGetAll(ctx, root).Val()
				if err != nil || got != v || h["stray"] != "" || b.Client.PTTL(ctx, root).Val() > 0 {
					t.Fatalf("without %s, %s: stored %+v %v %v, TTL %v", missing, state, got, h, err, b.Client.PTTL(ctx, root).Val())
				}
				if before != "" && fmt.Sprint(ver) != nextText(before) {
					t.Fatalf("without %s, %s: version %v after %s", missing, state, ver, before)
				}
			}
		}
	})
}

// nextText is the decimal text of the count after s's.
func nextText(s string) string {
	var n int64
	fmt.Sscan(s, &n)
	return fmt.Sprint(n + 1)
}
