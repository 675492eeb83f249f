package tx_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/rapyer-go/rapyer/internal/shape"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// Wallet is the model of the compiled shapes' equivalence test.
type Wallet struct {
	Owner   string
	Balance int64
	Note    string
	History []string
}

var (
	wOwner   = lens.Of(func(w *Wallet) *string { return &w.Owner })
	wBalance = lens.Of(func(w *Wallet) *int64 { return &w.Balance })
	wNote    = lens.Of(func(w *Wallet) *string { return &w.Note })
	wHistory = lens.Of(func(w *Wallet) *[]string { return &w.History })
)

// randomPred is a guard of the kinds compiled shapes take (comparisons of
// integer and text fields, and, or, not), or now and then one they do not.
func randomPred(r *rand.Rand, depth int) is.Pred[Wallet] {
	amounts := []int64{-5, 0, 1, 50, 100, 1 << 52, -(1 << 60)}
	switch k := r.IntN(9); {
	case k == 0 && depth < 2:
		return is.And(randomPred(r, depth+1), randomPred(r, depth+1))
	case k == 1 && depth < 2:
		return is.Or(randomPred(r, depth+1), randomPred(r, depth+1))
	case k == 2 && depth < 2:
		return is.Not(randomPred(r, depth+1))
	case k == 3:
		return is.Equal(wOwner, []string{"ada", "bob", ""}[r.IntN(3)])
	case k == 4:
		return is.Below(wBalance, amounts[r.IntN(len(amounts))])
	case k == 5:
		return is.AtLeast(wNote, "m")
	case k == 6:
		return is.AtMost(is.Len(wHistory), r.IntN(3)) // not compiled
	}
	return is.AtLeast(wBalance, amounts[r.IntN(len(amounts))])
}

// randomOps is a batch of 1-4 ops, mostly of the kinds compiled shapes take.
func randomOps(r *rand.Rand) []ops.Op {
	var out []ops.Op
	for range 1 + r.IntN(4) {
		switch r.IntN(11) {
		case 0, 1:
			out = append(out, ops.Require(randomPred(r, 0)))
		case 2, 3:
			out = append(out, ops.Incr(wBalance, []int64{1, -1, 7, 1 << 62, -(1 << 62)}[r.IntN(5)]))
		case 4:
			out = append(out, ops.Decr(wBalance, 3))
		case 5, 6:
			out = append(out, ops.Append(wHistory, slices.Repeat([]string{"d" + strconv.Itoa(r.IntN(9))}, 1+r.IntN(3))...))
		case 7:
			out = append(out, ops.Set(wOwner, []string{"ada", "bob", "carl"}[r.IntN(3)]))
		case 8:
			out = append(out, ops.AppendText(wNote, "+x"))
		case 9:
			out = append(out, ops.Set(wBalance, int64(r.IntN(200)-100)))
		case 10:
			out = append(out, ops.PopLast(wHistory)) // not compiled
		}
	}
	return out
}

// prepare stores a random state of the model (or none): its fields,
// perhaps a corrupt balance, a TTL, a history of another type.
func prepare(ctx context.Context, b *testenv.Backend, target tx.Target, r *rand.Rand) {
	keys := tx.Keys(target)
	b.Client.Del(ctx, keys...)
	if r.IntN(6) == 0 {
		return
	}
	bal := []string{"100", "0", "-7", "9223372036854775800", "abc", "4503599627370495"}[r.IntN(6)]
	b.Client.HSet(ctx, keys[0], "__v", strconv.Itoa(1+r.IntN(9)), "owner", []string{"ada", "bob"}[r.IntN(2)], "balance", bal)
	if r.IntN(2) == 0 {
		b.Client.HSet(ctx, keys[0], "note", "n")
	}
	switch r.IntN(4) {
	case 0:
		b.Client.RPush(ctx, keys[1], "h")
	case 1:
		b.Client.Set(ctx, keys[1], "not a list", 0)
	}
	if r.IntN(2) == 0 {
		b.Client.PExpire(ctx, keys[0], time.Hour)
	}
}

// outcome is what a batch did: its error or results, and the stored state.
func outcome(ctx context.Context, b *testenv.Backend, target tx.Target, o []ops.Op, res *tx.Result, err error) string {
	s := fmt.Sprint("err: ", err, "\n")
	var ge *rapyer.GuardError
	if errors.As(err, &ge) {
		s += fmt.Sprintf("guard: %+v\n", *ge)
	}
	if err == nil {
		// Duplicate is left out: it says a reply was lost (a read timeout
		// on a stalled machine) and a resend was answered from the record,
		// which either path may meet; the results are the one application's.
		s += fmt.Sprintf("skipped %v\n", res.Skipped)
		for _, op := range o {
			v, _ := res.Reply(op)
			s += fmt.Sprintf("%s -> %v\n", op, v)
		}
	}
	// a created model's version is the server's clock
	v := b.Client.HGet(ctx, target.Root(), "__v").Val()
	if len(v) > 12 {
		v = "from the clock"
	}
	s += "version " + v + "\n"
	return s + contents(ctx, b, target)
}

// contents is every key of the model: its type, its contents (a hash's
// fields sorted, the version left out) and whether it has a TTL. The
// order of a hash's fields is not compared: a compiled shape writes the
// version first, the interpreter last.
func contents(ctx context.Context, b *testenv.Backend, target tx.Target) string {
	var s string
	for _, k := range tx.Keys(target) {
		typ := b.Client.Type(ctx, k).Val()
		var body any
		switch typ {
		case "hash":
			h := b.Client.HGetAll(ctx, k).Val()
			delete(h, "__v")
			body = h // fmt sorts a map
		case "list":
			body = b.Client.LRange(ctx, k, 0, -1).Val()
		case "string":
			body = b.Client.Get(ctx, k).Val()
		}
		s += fmt.Sprintf("%s %s %v ttl=%v\n", k, typ, body, b.Client.PTTL(ctx, k).Val() > 0)
	}
	return s
}

// TestShapesAgreeWithTheInterpreter: random batches, on random states,
// leave the same results, errors and stored state whether they run on
// their compiled shape or on the interpreter, on every tier.
func TestShapesAgreeWithTheInterpreter(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Wallet](b.Client, rapyer.Options{Prefix: b.Prefix + "wallet"})
		target := m.Target("w")
		r := rand.New(rand.NewPCG(uint64(seed), 13))
		shape.Forget() // the tests before may have filled the process's shapes
		settled0, again0 := transport.ShapeRuns()
		for i := range 300 {
			o := randomOps(r)
			opts := tx.Options{IfMissing: []tx.Missing{tx.FailIfMissing, tx.FailIfMissing, tx.SkipIfMissing, tx.MustBeNew}[r.IntN(4)]}
			if r.IntN(4) == 0 {
				opts.Record = tx.NoRecord
			}
			state := r.Uint64()
			prepare(ctx, b, target, rand.New(rand.NewPCG(state, 1)))
			res, err := tx.ExecOnInterpreter(ctx, b.Client, tx.Of(o...).On(target), opts)
			want := outcome(ctx, b, target, o, res, err)
			prepare(ctx, b, target, rand.New(rand.NewPCG(state, 1)))
			res, err = tx.Exec(ctx, b.Client, tx.Of(o...).On(target), opts)
			if got := outcome(ctx, b, target, o, res, err); got != want {
				t.Fatalf("batch %d %v (%+v): compiled\n%s\ninterpreter\n%s", i, o, opts, got, want)
			}
		}
		settled, again := transport.ShapeRuns()
		t.Logf("%d of 300 batches settled on a compiled shape, %d left to the interpreter", settled-settled0, again-again0)
		if settled-settled0 < 50 {
			t.Fatalf("only %d of 300 batches ran on a compiled shape", settled-settled0)
		}
	})
}

// TestShapeFlushIsRecovered: a compiled shape the server lost (SCRIPT
// FLUSH) is sent again with its text, in one more round trip.
func TestShapeFlushIsRecovered(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Wallet](b.Client, rapyer.Options{Prefix: b.Prefix + "wallet"})
		if err := m.Save(ctx, "f", Wallet{Balance: 10}); err != nil {
			t.Fatal(err)
		}
		batch := func() tx.Batch {
			return tx.Of(ops.Require(is.AtLeast(wBalance, 1)), ops.Decr(wBalance, 1), ops.Append(wHistory, "flush"))
		}
		if _, err := m.Exec(ctx, "f", batch()); err != nil {
			t.Fatal(err)
		}
		if err := testenv.FlushLua(ctx, b.Client); err != nil {
			t.Fatal(err)
		}
		counter := testenv.CountRoundTrips(b.Client)
		settled0, _ := transport.ShapeRuns()
		dec := ops.Decr(wBalance, 1)
		res, err := m.Exec(ctx, "f", tx.Of(ops.Require(is.AtLeast(wBalance, 1)), dec, ops.Append(wHistory, "flush")))
		if err != nil {
			t.Fatalf("the first batch after the flush: %v", err)
		}
		if n, _ := dec.Result(res); n != 8 {
			t.Fatalf("Decr yielded %d, want 8", n)
		}
		// a compiled shape goes alone, as a command go-redis does not resend
		want := []string{"evalsha", "eval"}
		if got := counter.Commands(); !slices.Equal(got, want) {
			t.Fatalf("recovery sent %v, want %v", got, want)
		}
		counter.Reset()
		if _, err := m.Exec(ctx, "f", batch()); err != nil {
			t.Fatal(err)
		}
		if got := counter.Commands(); !slices.Equal(got, []string{"evalsha"}) {
			t.Fatalf("the batch after recovery sent %v", got)
		}
		if settled, _ := transport.ShapeRuns(); settled-settled0 != 2 {
			t.Fatalf("%d of 2 batches settled on their compiled shape", settled-settled0)
		}
		if got, _ := m.Get(ctx, "f"); got.Balance != 7 || len(got.History) != 3 {
			t.Fatalf("after three withdrawals from 10: %+v", got)
		}
	})
}

// TestShapesUnderACL: a user who may send scripts but not one of the
// writes of a compiled shape gets ErrNoPermission and nothing is written
// (the shape's asks leave the batch to the interpreter, which refuses
// it); a user who may not send EVAL or EVALSHA runs every batch on the
// interpreter.
func TestShapesUnderACL(t *testing.T) {
	for _, tier := range []testenv.Kind{testenv.Server, testenv.Cluster} {
		t.Run(string(tier), func(t *testing.T) {
			b := testenv.On(t, tier)
			ctx := context.Background()
			prefix := b.Prefix + "wallet"
			admin := rapyer.MustNew[Wallet](b.Client, rapyer.Options{Prefix: prefix})
			if err := admin.Save(ctx, "u", Wallet{Balance: 10, History: []string{"h"}}); err != nil {
				t.Fatal(err)
			}
			keys := []string{"resetkeys", "~tx{*", "~" + prefix + ":*", "&*"}
			deposit := func(user redis.UniversalClient) error {
				m := rapyer.MustNew[Wallet](user, rapyer.Options{Prefix: prefix})
				_, err := m.Exec(ctx, "u", tx.Of(ops.Require(is.AtLeast(wBalance, 0)), ops.Incr(wBalance, 1), ops.Append(wHistory, "d")))
				return err
			}
			for _, missing := range []string{"-rpush", "-set", "-hincrby"} {
				user := b.NewUser(t, append(keys, "+@all", missing)...)
				before := contents(ctx, b, admin.Target("u"))
				_, again0 := transport.ShapeRuns()
				if err := deposit(user); !errors.Is(err, rapyer.ErrNoPermission) {
					t.Fatalf("a user without %s: %v, want ErrNoPermission", missing, err)
				}
				if after := contents(ctx, b, admin.Target("u")); after != before {
					t.Fatalf("a user without %s wrote:\n%s\nbefore:\n%s", missing, after, before)
				}
				if _, again := transport.ShapeRuns(); again == again0 {
					t.Fatalf("a user without %s: the shape did not leave the batch to the interpreter", missing)
				}
			}
			// a batch that creates its model (tx.MustBeNew): it lists the
			// model's collection keys, to delete any found without their
			// root, so it runs on the interpreter, which asks every write
			fresh := func(c *rapyer.Call) { c.Exec.IfMissing = tx.MustBeNew }
			for i, missing := range []string{"-hset", "-hincrby", "-rpush", "-set"} {
				user := b.NewUser(t, append(keys, "+@all", missing)...)
				m := rapyer.MustNew[Wallet](user, rapyer.Options{Prefix: prefix})
				id := "n" + strconv.Itoa(i)
				_, err := m.Exec(ctx, id, tx.Of(ops.Incr(wBalance, 1), ops.Append(wHistory, "d")), fresh)
				if !errors.Is(err, rapyer.ErrNoPermission) {
					t.Fatalf("a new model, a user without %s: %v, want ErrNoPermission", missing, err)
				}
				if n := b.Client.Exists(ctx, tx.Keys(admin.Target(id))...).Val(); n != 0 {
					t.Fatalf("a new model, a user without %s wrote %d of its keys:\n%s", missing, n, contents(ctx, b, admin.Target(id)))
				}
			}
			user := b.NewUser(t, append(keys, "+@all", "-eval", "-evalsha")...)
			for range 2 {
				if err := deposit(user); err != nil {
					t.Fatalf("a user without scripts: %v", err)
				}
			}
			if got, _ := admin.Get(ctx, "u"); got.Balance != 12 || len(got.History) != 3 {
				t.Fatalf("after two deposits: %+v", got)
			}
		})
	}
}
