package ops_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// The regression tests of issue 11's write phase: each batch below wrote
// some of its ops, then failed, before the interpreter proved in its check
// phase every command its write phase sends. Each test fails on that code.

// TestBigArgumentListsAreSplit: DeleteItems and Discard of 8000 and more
// keys after an Incr and a Set of the same batch. The write phase unpacked
// the keys into one HDEL (SREM), which Lua cannot: "too many results to
// unpack" came back untyped, after the Incr and the Set were written. Now
// the list is sent 1000 at a time and the batch applies whole.
func TestBigArgumentListsAreSplit(t *testing.T) {
	const n = 8500
	keys := make([]string, n)
	limits := make(map[string]int, n)
	flags := make(map[string]struct{}, n)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		limits[keys[i]] = i
		flags[keys[i]] = struct{}{}
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", Acct{Owner: "ann", Balance: 5, Limits: limits, Flags: flags})

		del := ops.DeleteItems(Limits, append(keys, "absent")...)
		res, err := m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), ops.Set(Owner, "bob"), del))
		if err != nil {
			t.Fatalf("Incr, Set, DeleteItems of %d keys: %v", n+1, err)
		}
		if got, _ := del.Result(res); got != n {
			t.Fatalf("DeleteItems yielded %d, want %d", got, n)
		}
		dis := ops.Discard(Flags, keys...)
		res, err = m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), ops.Set(Owner, "cy"), dis))
		if err != nil {
			t.Fatalf("Incr, Set, Discard of %d members: %v", n, err)
		}
		if got, _ := dis.Result(res); got != n {
			t.Fatalf("Discard yielded %d, want %d", got, n)
		}
		got, err := m.Get(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		if want := (Acct{Owner: "cy", Balance: 7}); cmp.Diff(want, got, strict) != "" {
			t.Fatalf("after the batches (-want +got):\n%s", cmp.Diff(want, got, strict))
		}
	})
}

// TestLockSaveClearsABigMap: a lock's save (a Diff, as Model.Lock sends)
// that empties a map of 10k keys sent them in one HDEL, which failed after
// the other changes of the save were written.
func TestLockSaveClearsABigMap(t *testing.T) {
	const n = 10000
	limits := make(map[string]int, n)
	for i := range n {
		limits["k"+strconv.Itoa(i)] = i
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		save(t, m, "x", Acct{Owner: "ann", Limits: limits})
		_, err := m.Lock(ctx, "x", "edit", func(_ context.Context, a *Acct) error {
			a.Owner = "bob"
			a.Balance = 9
			a.Limits = nil
			return nil
		})
		if err != nil {
			t.Fatalf("a lock save that clears a map of %d keys: %v", n, err)
		}
		got, err := m.Get(ctx, "x")
		if err != nil || cmp.Diff(Acct{Owner: "bob", Balance: 9}, got, strict) != "" {
			t.Fatalf("after the save: %+v, %v", got, err)
		}
	})
}

// TestBadVersionWritesNothing: a version field that is not a count the
// interpreter made (corrupt) or that cannot grow exactly (2^53 and above)
// fails every write path, Save, Exec, Update and a lock's save, with
// rapyer.ErrCorrupt or rapyer.ErrOverflow naming the model, before anything is written.
// Save copied a corrupt version and wrote; the others wrote, then failed in
// the version's HINCRBY with an untyped error.
func TestBadVersionWritesNothing(t *testing.T) {
	bad := []struct {
		v    string
		want error
	}{
		{"abc", rapyer.ErrCorrupt},
		{"", rapyer.ErrCorrupt},
		{" 7", rapyer.ErrCorrupt},
		{"1.5", rapyer.ErrCorrupt},
		{"-3", rapyer.ErrCorrupt},
		{"-0", rapyer.ErrCorrupt},
		{"007", rapyer.ErrCorrupt},
		{"0x1F", rapyer.ErrCorrupt},
		{"1e3", rapyer.ErrCorrupt},
		{"nan", rapyer.ErrCorrupt},
		{"inf", rapyer.ErrCorrupt},
		{"9007199254740993", rapyer.ErrOverflow}, // 2^53+1, read as 2^53
		{"9007199254740992", rapyer.ErrOverflow}, // 2^53
		{"9223372036854775807", rapyer.ErrOverflow},
	}
	paths := []struct {
		name string
		run  func(ctx context.Context, m *rapyer.Model[Acct]) error
	}{
		{"Save", func(ctx context.Context, m *rapyer.Model[Acct]) error {
			return m.Save(ctx, "x", Acct{Owner: "new", History: []string{"n"}})
		}},
		{"Exec", func(ctx context.Context, m *rapyer.Model[Acct]) error {
			_, err := m.Exec(ctx, "x", tx.Of(ops.Append(History, "c"), ops.Incr(Balance, 1)))
			return err
		}},
		{"Update", func(ctx context.Context, m *rapyer.Model[Acct]) error {
			_, err := m.Update(ctx, "x", func(a Acct) (tx.Batch, error) {
				return tx.Of(ops.Append(History, "c"), ops.Set(Balance, a.Balance+1)), nil
			})
			return err
		}},
		{"Lock", func(ctx context.Context, m *rapyer.Model[Acct]) error {
			_, err := m.Lock(ctx, "x", "edit", func(_ context.Context, a *Acct) error {
				a.Balance++
				a.History = append(a.History, "c")
				return nil
			})
			return err
		}},
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for i, bv := range bad {
			for j, p := range paths {
				t.Run(fmt.Sprintf("%q/%s", bv.v, p.name), func(t *testing.T) {
					m := newModel(t, b, i*len(paths)+j)
					save(t, m, "x", Acct{Owner: "ann", Balance: 5, History: []string{"a"}})
					r := root(t, m, "x")
					if err := b.Client.HSet(ctx, r, "__v", bv.v).Err(); err != nil {
						t.Fatal(err)
					}
					before := snapshot(t, b, m, "x")
					err := p.run(ctx, m)
					if !errors.Is(err, bv.want) || !strings.Contains(err.Error(), r) {
						t.Fatalf("%s over the version %q: %v; want %v naming %s", p.name, bv.v, err, bv.want, r)
					}
					if diff := cmp.Diff(before, snapshot(t, b, m, "x")); diff != "" {
						t.Fatalf("%s over the version %q wrote (-before +after):\n%s", p.name, bv.v, diff)
					}
				})
			}
		}
		// A set's version goes up by one as text, across a carry and past
		// 2^31 (the compiled script's count prints a C long, and sends
		// 2^31 to the interpreter), to 2^53.
		t.Run("counts", func(t *testing.T) {
			m := newModel(t, b, 101)
			save(t, m, "x", Acct{Owner: "ann"})
			r := root(t, m, "x")
			for _, c := range [][2]string{{"0", "1"}, {"9", "10"}, {"1999", "2000"}, {"2147483646", "2147483647"},
				{"2147483647", "2147483648"}, {"2147483648", "2147483649"}, {"1796113949433529", "1796113949433530"},
				{"9007199254740991", "9007199254740992"}} {
				if err := b.Client.HSet(ctx, r, "__v", c[0]).Err(); err != nil {
					t.Fatal(err)
				}
				if _, err := m.Exec(ctx, "x", tx.Of(ops.Set(Balance, 7))); err != nil {
					t.Fatalf("a set over the version %s: %v", c[0], err)
				}
				if v := b.Client.HGet(ctx, r, "__v").Val(); v != c[1] {
					t.Fatalf("version %s after %s, want %s", v, c[0], c[1])
				}
			}
		})
		// The last version that can grow: 2^53-1 becomes 2^53, which no
		// batch writes over.
		t.Run("2^53-1", func(t *testing.T) {
			m := newModel(t, b, 100)
			save(t, m, "x", Acct{Owner: "ann"})
			r := root(t, m, "x")
			if err := b.Client.HSet(ctx, r, "__v", "9007199254740991").Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1))); err != nil {
				t.Fatal(err)
			}
			if v := b.Client.HGet(ctx, r, "__v").Val(); v != "9007199254740992" {
				t.Fatalf("version %s, want 9007199254740992", v)
			}
			if _, err := m.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1))); !errors.Is(err, rapyer.ErrOverflow) {
				t.Fatalf("a write over the version 2^53: %v; want ErrOverflow", err)
			}
			// A read-only batch and a Delete do not need the version.
			if _, err := m.Exec(ctx, "x", tx.Of(ops.Len(History))); err != nil {
				t.Fatal(err)
			}
			if ok, err := m.Delete(ctx, "x"); !ok || err != nil {
				t.Fatalf("Delete of a model with an exhausted version: %v, %v", ok, err)
			}
		})
	})
}

// TestVersionsNeverRepeat: a version read before a delete (or an expiry,
// which runs no script) must not pass a VersionIs guard on the model
// created again under the same id. The version restarted at 1, so it did.
func TestVersionsNeverRepeat(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		r := root(t, m, "x")
		version := func() int64 {
			t.Helper()
			v, err := b.Client.HGet(ctx, r, "__v").Int64()
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		guarded := func(v int64) error {
			_, err := m.Exec(ctx, "x", tx.Of(ops.VersionIs[Acct](v), ops.Incr(Balance, 1)))
			return err
		}
		seen := []int64{}
		recreate := []struct {
			name string
			gone func()
			make func() error
		}{
			{"Delete then Save", func() { mustDelete(t, m, "x") }, func() error { return m.Save(ctx, "x", Acct{Owner: "b"}) }},
			{"Delete then Create", func() { mustDelete(t, m, "x") }, func() error { return m.Create(ctx, "x", Acct{Owner: "c"}) }},
			{"Delete then Replace", func() { mustDelete(t, m, "x") }, func() error {
				_, err := m.Exec(ctx, "x", tx.Of(ops.Replace(Acct{Owner: "d"})))
				return err
			}},
			{"expiry then Save", func() { expire(t, b, m, "x") }, func() error { return m.Save(ctx, "x", Acct{Owner: "e"}) }},
			{"Delete and write in one batch", func() {}, func() error {
				_, err := m.Exec(ctx, "x", tx.Of(ops.Delete[Acct](), ops.Set(Owner, "f")))
				return err
			}},
		}
		save(t, m, "x", Acct{Owner: "a"})
		for _, rc := range recreate {
			if err := guarded(version()); err != nil { // one more write
				t.Fatal(err)
			}
			before := version()
			seen = append(seen, before)
			rc.gone()
			if err := rc.make(); err != nil {
				t.Fatalf("%s: %v", rc.name, err)
			}
			after := version()
			for _, v := range seen {
				if err := guarded(v); !errors.Is(err, rapyer.ErrPrecondition) {
					t.Fatalf("%s: VersionIs(%d) read before passed on the new model (version %d): %v", rc.name, v, after, err)
				}
			}
			if after <= before {
				t.Fatalf("%s: the new model's version %d is not above %d", rc.name, after, before)
			}
			seen = append(seen, after)
		}
	})
}

func mustDelete(t *testing.T, m *rapyer.Model[Acct], id string) {
	t.Helper()
	if ok, err := m.Delete(context.Background(), id); !ok || err != nil {
		t.Fatalf("Delete(%s) = %v, %v", id, ok, err)
	}
}

// expire lets the model expire: the server removes it with no script run.
func expire(t *testing.T, b *testenv.Backend, m *rapyer.Model[Acct], id string) {
	t.Helper()
	ctx := context.Background()
	if err := m.Expire(ctx, id, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if b.Mini != nil {
		b.Mini.FastForward(time.Second)
	}
	for i := 0; ; i++ {
		if ok, err := m.Exists(ctx, id); err != nil || !ok {
			return
		}
		if i > 500 {
			t.Fatal("the model did not expire")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestDeleteIsAllOrNothing: Delete of a model whose root key, or one of its
// collection keys, holds another Redis type fails with rapyer.ErrWrongType and
// deletes nothing. It returned rapyer.ErrWrongType for a root of the wrong type
// but deleted every key, and deleted a collection key of the wrong type
// with no error.
func TestDeleteIsAllOrNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := newModel(t, b, 0)
		start := Acct{Owner: "ann", History: []string{"a"}, Limits: map[string]int{"d": 1}, Flags: set("f")}

		// A root key that is a string, next to the model's collections.
		save(t, m, "x", start)
		r := root(t, m, "x")
		if err := b.Client.Del(ctx, r).Err(); err != nil {
			t.Fatal(err)
		}
		if err := b.Client.Set(ctx, r, "not a hash", 0).Err(); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, b, m, "x")
		if ok, err := m.Delete(ctx, "x"); ok || !errors.Is(err, rapyer.ErrWrongType) {
			t.Fatalf("Delete of a string root: %v, %v; want ErrWrongType", ok, err)
		}
		unchanged(t, b, m, before, "Delete of a string root changed keys")

		// Collection keys of the wrong type, one at a time.
		for _, c := range []struct{ field, typ string }{{"history", "hash"}, {"limits", "set"}, {"flags", "string"}, {"queue", "list"}} {
			id := "y" + c.field
			save(t, m, id, start)
			k := colKey(t, m, id, c.field)
			if c.field == "queue" {
				// the right type: Delete goes through
				if err := b.Client.RPush(ctx, k, "q").Err(); err != nil {
					t.Fatal(err)
				}
				if ok, err := m.Delete(ctx, id); !ok || err != nil {
					t.Fatalf("Delete: %v, %v", ok, err)
				}
				requireGone(t, b, m, id)
				continue
			}
			if err := b.Client.Del(ctx, k).Err(); err != nil {
				t.Fatal(err)
			}
			var err error
			switch c.typ {
			case "hash":
				err = b.Client.HSet(ctx, k, "f", "v").Err()
			case "set":
				err = b.Client.SAdd(ctx, k, "m").Err()
			case "string":
				err = b.Client.Set(ctx, k, "s", 0).Err()
			}
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, b, m, id)
			ok, err := m.Delete(ctx, id)
			if ok || !errors.Is(err, rapyer.ErrWrongType) || !strings.Contains(err.Error(), k) {
				t.Fatalf("Delete with %s a %s: %v, %v; want ErrWrongType naming %s", c.field, c.typ, ok, err, k)
			}
			if diff := cmp.Diff(before, snapshot(t, b, m, id)); diff != "" {
				t.Fatalf("Delete with %s a %s changed keys (-before +after):\n%s", c.field, c.typ, diff)
			}
		}

		// A missing model: false, no error, in one round trip.
		counter := testenv.CountRoundTrips(b.Client)
		if ok, err := m.Delete(ctx, "nobody"); ok || err != nil {
			t.Fatalf("Delete of a missing model: %v, %v", ok, err)
		}
		if ok, err := m.Delete(ctx, "nobody"); ok || err != nil {
			t.Fatalf("Delete of a missing model: %v, %v", ok, err)
		}
		if c := counter.Count(); c != 2 {
			t.Fatalf("two Deletes took %d round trips: %v", c, counter.Commands())
		}
	})
}

func requireGone(t *testing.T, b *testenv.Backend, m *rapyer.Model[Acct], id string) {
	t.Helper()
	ks, err := m.Keys(id)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := existing(b, ks); err != nil || n != 0 {
		t.Fatalf("%d keys of %s are left (%v)", n, id, err)
	}
}

// TestMoveWithoutLMOVE: Move is a pop and a push inside the interpreter, with
// LMOVE's semantics: every pair of ends, a list onto itself (a rotation),
// and an empty source.
func TestMoveWithoutLMOVE(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		checkMoves(t, b.Client, b.Prefix)
	})
}

func checkMoves(t *testing.T, c redis.UniversalClient, prefix string) {
	t.Helper()
	ctx := context.Background()
	m, err := rapyer.New[Acct](c, rapyer.Options{Prefix: prefix + "mv"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(ctx, "x", Acct{History: []string{"a", "b", "c"}, Queue: []string{"q"}}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		op         *ops.Maybe[string]
		yield      string
		ok         bool
		hist, queu []string
	}{
		{ops.Move(History, ops.Last, Queue, ops.First), "c", true, []string{"a", "b"}, []string{"c", "q"}},
		{ops.Move(History, ops.First, Queue, ops.Last), "a", true, []string{"b"}, []string{"c", "q", "a"}},
		{ops.Move(Queue, ops.First, Queue, ops.Last), "c", true, []string{"b"}, []string{"q", "a", "c"}},
		{ops.Move(Queue, ops.Last, Queue, ops.First), "c", true, []string{"b"}, []string{"c", "q", "a"}},
		{ops.Move(History, ops.Last, History, ops.First), "b", true, []string{"b"}, []string{"c", "q", "a"}},
		{ops.Move(History, ops.First, Queue, ops.First), "b", true, nil, []string{"b", "c", "q", "a"}},
		{ops.Move(History, ops.First, Queue, ops.First), "", false, nil, []string{"b", "c", "q", "a"}},
	}
	for i, s := range steps {
		res, err := m.Exec(ctx, "x", tx.Of(s.op))
		if err != nil {
			t.Fatalf("step %d, %s: %v", i, s.op, err)
		}
		v, ok, err := s.op.Result(res)
		if err != nil || v != s.yield || ok != s.ok {
			t.Fatalf("step %d, %s yielded %q, %v; want %q, %v", i, s.op, v, ok, s.yield, s.ok)
		}
		got, err := m.Get(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.History, s.hist) || !slices.Equal(got.Queue, s.queu) {
			t.Fatalf("step %d, %s: history %q queue %q; want %q %q", i, s.op, got.History, got.Queue, s.hist, s.queu)
		}
	}
}

// TestRecordLifetimeUnderAMillisecond: Options.Exec.Record below 1 ms gave
// the record's SET a PX of 0, which the server refused after the batch's
// writes. Such a lifetime is now refused before anything is sent: by New
// for a model's defaults, by the call for a per-call option, with
// rapyer.ErrInvalid and nothing written; never partly, never untyped.
func TestRecordLifetimeUnderAMillisecond(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		base := newModel(t, b, 0)
		short := tx.Options{Record: 500 * time.Microsecond}
		if _, err := rapyer.New[Acct](b.Client, rapyer.Options{Prefix: base.Prefix(), Exec: short}); !errors.Is(err, rapyer.ErrInvalid) {
			t.Fatalf("New with a record of 500µs: %v; want ErrInvalid", err)
		}
		save(t, base, "x", Acct{Owner: "ann", Balance: 5, History: []string{"a"}})
		before := snapshot(t, b, base, "x")
		_, err := base.Exec(ctx, "x", tx.Of(ops.Incr(Balance, 1), ops.Append(History, "b")), func(c *rapyer.Call) { c.Exec = short })
		if !errors.Is(err, rapyer.ErrInvalid) {
			t.Fatalf("a batch with a record of 500µs: %v; want ErrInvalid", err)
		}
		if diff := cmp.Diff(before, snapshot(t, b, base, "x")); diff != "" {
			t.Fatalf("a refused batch wrote (-before +after):\n%s", diff)
		}
	})
}
