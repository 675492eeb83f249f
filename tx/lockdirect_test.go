package tx_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// lockState is a stored state for a model Lock's save: the model saved
// as before, or missing, or of another type, or with a corrupt or
// overflowing version; its lock held by the save's token, by another, or
// gone (expired); a waiter's flag or none; perhaps a record of the batch
// there already (a resend's).
type lockState struct {
	model, lock string
	wait        bool
	record      string // "" none, else its value
}

func randomLockState(r *rand.Rand) lockState {
	models := []string{"saved", "saved", "saved", "saved", "missing", "string", "ver:x", "ver:9007199254740991", "ver:9007199254740992", "ver:99"}
	locks := []string{"held", "held", "held", "other", "gone"}
	s := lockState{model: models[r.IntN(len(models))], lock: locks[r.IntN(len(locks))], wait: r.IntN(3) == 0}
	if r.IntN(6) == 0 {
		s.record = "1"
	}
	return s
}

// prepareLockSave stores s for the save of before at root under l.
func prepareLockSave(ctx context.Context, t *testing.T, b *testenv.Backend, m *rapyer.Model[Nest], id string, before Nest, l *lock.Lock, rec string, s lockState) {
	t.Helper()
	root := m.Target(id).Root()
	b.Client.Del(ctx, root, l.Key(), l.Key()+":fence:wait")
	if rec != "" {
		b.Client.Del(ctx, rec)
		if s.record != "" {
			b.Client.Set(ctx, rec, s.record, time.Minute)
		}
	}
	switch {
	case s.model == "missing":
	case s.model == "string":
		b.Client.Set(ctx, root, "a string", 0)
	default:
		if err := m.Save(ctx, id, before); err != nil {
			t.Fatal(err)
		}
		if v, ok := cutPrefix(s.model, "ver:"); ok {
			b.Client.HSet(ctx, root, "__v", v)
		} else {
			b.Client.HSet(ctx, root, "__v", "41")
		}
	}
	switch s.lock {
	case "held":
		b.Client.Set(ctx, l.Key(), l.Token(), time.Minute)
	case "other":
		b.Client.Set(ctx, l.Key(), "another holder's token", time.Minute)
	}
	if s.wait {
		b.Client.Set(ctx, l.Key()+":fence:wait", "1", time.Minute)
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// lockOutcome is what a model Lock's save did: its error's kind (and,
// when exact, its text), its Result (skipped, duplicate, the reply of
// each op), the stored model with its version, the lock key, and the
// record.
func lockOutcome(ctx context.Context, b *testenv.Backend, root string, l *lock.Lock, rec string, exact bool, batchOps []ops.Op, res *tx.Result, err error) string {
	s := "err: nil\n"
	if err != nil {
		kinds := []error{rapyer.ErrNotFound, rapyer.ErrLockLost, rapyer.ErrNotHeld, rapyer.ErrWrongType, rapyer.ErrCorrupt, rapyer.ErrOverflow,
			rapyer.ErrNoPermission, rapyer.ErrPartlyApplied, rapyer.ErrInvalid, rapyer.ErrRefused}
		s = "err:"
		for _, k := range kinds {
			if errors.Is(err, k) {
				s += fmt.Sprintf(" %v;", k)
			}
		}
		s += "\n"
		if exact {
			s += err.Error() + "\n"
		}
	} else {
		// Duplicate is left out: it says a reply was lost (a read timeout
		// on a stalled machine) and a resend was answered from the record,
		// which either path may meet; the results are the one application's.
		s += fmt.Sprintf("skipped %v\n", res.Skipped)
		for _, op := range batchOps {
			v, ok := res.Reply(op)
			s += fmt.Sprintf("reply of %s: %v %v\n", op, v, ok)
		}
	}
	typ := b.Client.Type(ctx, root).Val()
	s += "root " + typ + "\n"
	if typ == "hash" {
		h := b.Client.HGetAll(ctx, root).Val()
		var fs []string
		for f, x := range h {
			fs = append(fs, f+"="+x)
		}
		sort.Strings(fs)
		s += fmt.Sprint(fs, "\n")
	}
	s += fmt.Sprintf("lock %q\n", b.Client.Get(ctx, l.Key()).Val())
	if rec != "" {
		s += fmt.Sprintf("record %q ttl=%v\n", b.Client.Get(ctx, rec).Val(), b.Client.PTTL(ctx, rec).Val() > 0)
	}
	return s
}

// nestAfter is a change of before: each part kept or changed at random.
func nestAfter(r *rand.Rand, before Nest) Nest {
	after := randomNest(r)
	if r.IntN(2) == 0 {
		after.Name = before.Name
	}
	if r.IntN(2) == 0 {
		after.Home = before.Home
	}
	if r.IntN(2) == 0 {
		after.Work = before.Work
	}
	if r.IntN(2) == 0 {
		after.Rank = before.Rank
	}
	if r.IntN(2) == 0 {
		after.Ratio = before.Ratio
	}
	if r.IntN(8) == 0 {
		after = before // nothing changed: the guard and the release only
	}
	return after
}

// TestLockSaveDirectAgreesWithTheProgram: random model Lock saves of a
// model whose changed fields depend on the values (nested structs, a
// pointer to a struct, pointer scalars: fields set and fields removed),
// with and without a record, failing or skipping a missing model, on
// random stored states (a missing model, one of another type, a corrupt
// or overflowing version, the lock held, taken by another or expired, a
// waiter, a resend's record), leave the same results, errors (exactly)
// and stored state, record and lock included, on the direct path (words
// made without a program) as on the program (its compiled shape, then the
// interpreter), the same kinds of errors on the generic interpreter; and
// the direct path takes every save but those that drop a pointer to a
// struct; on every tier.
func TestLockSaveDirectAgreesWithTheProgram(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(uint64(seed), 14))
		for k, record := range []time.Duration{0, tx.NoRecord} {
			m := rapyer.MustNew[Nest](b.Client, rapyer.Options{Prefix: b.Prefix + "lnest", Exec: tx.Options{Record: record}})
			target := m.Target("d")
			root := target.Root()
			l, err := lock.Acquire(ctx, b.Client, fmt.Sprint(root, ":lock:save", k), lock.Options{TTL: time.Minute, NoFence: true})
			if err != nil {
				t.Fatal(err)
			}
			sent0 := tx.LockDirectSent()
			direct := 0
			for i := range 50 {
				before := randomNest(r)
				after := nestAfter(r, before)
				state := randomLockState(r)
				opts := tx.Options{Record: record}
				if r.IntN(4) == 0 {
					opts.IfMissing = tx.SkipIfMissing
				}
				batchOps := []ops.Op{ops.Fenced(l), ops.Diff(before, after), ops.Unlock(l)}
				batch := tx.On(target, batchOps...)
				built, err := tx.BuildProgram(b.Client, batch, opts)
				if err != nil {
					t.Fatal(err)
				}
				rec := built.Record()
				what := fmt.Sprintf("save %d (seed %d, record %v): %+v -> %+v on %+v", i, seed, record, before, after, state)

				prepareLockSave(ctx, t, b, m, "d", before, l, rec, state)
				res, sent, err := built.LockDirect(ctx, b.Client)
				dropsWork := before.Work != nil && after.Work == nil
				if sent == dropsWork {
					t.Fatalf("%s: sent by the direct path: %v", what, sent)
				}
				if !sent {
					continue
				}
				direct++
				got := lockOutcome(ctx, b, root, l, rec, true, batchOps, res, err)

				prepareLockSave(ctx, t, b, m, "d", before, l, rec, state)
				res, err = built.Exec(ctx, b.Client)
				if want := lockOutcome(ctx, b, root, l, rec, true, batchOps, res, err); got != want {
					t.Fatalf("%s:\ndirect:\n%s\nthe program:\n%s", what, got, want)
				}

				prepareLockSave(ctx, t, b, m, "d", before, l, rec, state)
				res, err = built.Interpreter(ctx, b.Client)
				got = lockOutcome(ctx, b, root, l, rec, false, batchOps, res, err)
				prepareLockSave(ctx, t, b, m, "d", before, l, rec, state)
				res, sent, err = built.LockDirect(ctx, b.Client)
				if !sent {
					t.Fatalf("%s: not sent by the direct path the second time", what)
				}
				if want := lockOutcome(ctx, b, root, l, rec, false, batchOps, res, err); got != want {
					t.Fatalf("%s:\ndirect:\n%s\nthe interpreter:\n%s", what, want, got)
				}
			}
			if direct < 20 || tx.LockDirectSent()-sent0 < int64(direct) {
				t.Fatalf("record %v: %d saves of 50 by the direct path, %d sent", record, direct, tx.LockDirectSent()-sent0)
			}
			if compiled, program := tx.LockShapes(target); compiled < 4 || program > 0 {
				t.Fatalf("record %v: the direct path's shapes: %d compiled, %d by a program", record, compiled, program)
			}
		}
	})
}

// TestLockSaveResendIsAnsweredOnce: a model Lock's save sent again with
// its batch id (a resend after a lost reply), by the direct path or by the
// program, after it went through by either, is answered from its record:
// a duplicate with no error (the lock it released is not asked for
// again), the model and its version as after one save; on every tier.
func TestLockSaveResendIsAnsweredOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Nest](b.Client, rapyer.Options{Prefix: b.Prefix + "lresend"})
		target := m.Target("r")
		root := target.Root()
		type path struct {
			name string
			send func(*tx.Built) (*tx.Result, error)
		}
		direct := path{"direct", func(bt *tx.Built) (*tx.Result, error) {
			r, sent, err := bt.LockDirect(ctx, b.Client)
			if !sent {
				t.Fatal("not sent by the direct path")
			}
			return r, err
		}}
		program := path{"program", func(bt *tx.Built) (*tx.Result, error) { return bt.Exec(ctx, b.Client) }}
		interp := path{"interpreter", func(bt *tx.Built) (*tx.Result, error) { return bt.Interpreter(ctx, b.Client) }}
		for _, order := range [][2]path{{direct, direct}, {direct, program}, {program, direct}, {interp, direct}, {direct, interp}} {
			before := Nest{Name: "n", Home: NestAddr{City: "c"}}
			if err := m.Save(ctx, "r", before); err != nil {
				t.Fatal(err)
			}
			b.Client.HSet(ctx, root, "__v", "7")
			l, err := lock.Acquire(ctx, b.Client, root+":lock:save", lock.Options{TTL: time.Minute, NoFence: true})
			if err != nil {
				t.Fatal(err)
			}
			after := before
			after.Name = "m"
			built, err := tx.BuildProgram(b.Client, tx.On(target, ops.Fenced(l), ops.Diff(before, after), ops.Unlock(l)), tx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := order[0].send(built)
			if err != nil || res.Duplicate {
				t.Fatalf("%s first: %v, %+v", order[0].name, err, res)
			}
			res, err = order[1].send(built)
			if err != nil || !res.Duplicate {
				t.Fatalf("%s after %s: %v, %+v; want a duplicate", order[1].name, order[0].name, err, res)
			}
			if v := b.Client.HGet(ctx, root, "__v").Val(); v != "8" {
				t.Fatalf("%s then %s: version %s after one save from 7", order[0].name, order[1].name, v)
			}
			if got, err := m.Get(ctx, "r"); err != nil || got.Name != "m" {
				t.Fatalf("%s then %s: stored %+v, %v", order[0].name, order[1].name, got, err)
			}
			if n := b.Client.Exists(ctx, l.Key()).Val(); n != 0 {
				t.Fatalf("%s then %s: the lock is still held", order[0].name, order[1].name)
			}
		}
	})
}

// TestModelLockSavesByTheDirectPath: Model.Lock's save of a model without
// collections goes by the direct path (one compiled shape for one set of
// changed fields, none by a program), and its cycles count; with the lock
// lost under fn, the save is refused with ErrLockLost and nothing stored;
// on every tier.
func TestModelLockSavesByTheDirectPath(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Nest](b.Client, rapyer.Options{Prefix: b.Prefix + "lcycle"})
		if err := m.Save(ctx, "c", Nest{Name: "n"}); err != nil {
			t.Fatal(err)
		}
		sent0 := tx.LockDirectSent()
		for i := range 5 {
			res, err := m.Lock(ctx, "c", "bump", func(_ context.Context, v *Nest) error { v.Ratio++; return nil })
			if err != nil || res.Duplicate || res.Skipped {
				t.Fatalf("cycle %d: %v, %+v", i, err, res)
			}
		}
		if sent := tx.LockDirectSent() - sent0; sent != 5 {
			t.Fatalf("%d of 5 saves sent by the direct path", sent)
		}
		if compiled, program := tx.LockShapes(m.Target("c")); compiled < 1 || program != 0 {
			t.Fatalf("the direct path's shapes: %d compiled, %d by a program", compiled, program)
		}
		got, ver, err := m.GetWithVersion(ctx, "c")
		if err != nil || got.Ratio != 5 {
			t.Fatalf("after 5 cycles: %+v, %v", got, err)
		}
		root := m.Target("c").Root()
		_, err = m.Lock(ctx, "c", "bump", func(_ context.Context, v *Nest) error {
			b.Client.Set(ctx, root+":lock:bump", "taken over", time.Minute)
			v.Ratio = 100
			return nil
		})
		if !errors.Is(err, rapyer.ErrLockLost) || !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("a save under a lost lock: %v, want ErrLockLost", err)
		}
		if got2, ver2, _ := m.GetWithVersion(ctx, "c"); got2 != got || ver2 != ver {
			t.Fatalf("a save under a lost lock stored %+v version %d (was %+v, %d)", got2, ver2, got, ver)
		}
		if v := b.Client.Get(ctx, root+":lock:bump").Val(); v != "taken over" {
			t.Fatalf("the other holder's lock: %q", v)
		}
	})
}

// TestLockSaveDirectRefusedByTheACL: a user who may not HSET the model,
// or may not DEL the lock, gets ErrNoPermission from a model Lock's save
// on the direct path as on the program, and nothing is written: the
// model, its version, the lock and the record are as they were. The real
// server and cluster (miniredis has no ACL rules).
func TestLockSaveDirectRefusedByTheACL(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "lacl"
		for k, denied := range []string{"-hset", "-del"} {
			app := b.NewUser(t, "~"+prefix+"*", "~tx{*", "&"+prefix+"*", "+@all", denied)
			admin := rapyer.MustNew[Nest](b.Client, rapyer.Options{Prefix: prefix})
			m := rapyer.MustNew[Nest](app, rapyer.Options{Prefix: prefix})
			target := m.Target("a")
			root := target.Root()
			l, err := lock.Acquire(ctx, b.Client, fmt.Sprint(root, ":lock:save", k), lock.Options{TTL: time.Minute, NoFence: true})
			if err != nil {
				t.Fatal(err)
			}
			before := Nest{Name: "n"}
			after := Nest{Name: "m", Ratio: 2}
			batchOps := []ops.Op{ops.Fenced(l), ops.Diff(before, after), ops.Unlock(l)}
			built, err := tx.BuildProgram(app, tx.On(target, batchOps...), tx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			state := lockState{model: "saved", lock: "held"}
			prepareLockSave(ctx, t, b, admin, "a", before, l, built.Record(), state)
			res, sent, err := built.LockDirect(ctx, app)
			if !sent || !errors.Is(err, rapyer.ErrNoPermission) {
				t.Fatalf("%s: the direct path (sent %v): %v, want ErrNoPermission", denied, sent, err)
			}
			got := lockOutcome(ctx, b, root, l, built.Record(), true, batchOps, res, err)
			prepareLockSave(ctx, t, b, admin, "a", before, l, built.Record(), state)
			res, err = built.Exec(ctx, app)
			if want := lockOutcome(ctx, b, root, l, built.Record(), true, batchOps, res, err); got != want {
				t.Fatalf("%s:\ndirect:\n%s\nthe program:\n%s", denied, got, want)
			}
			if v := b.Client.HGet(ctx, root, "__v").Val(); v != "41" {
				t.Fatalf("%s: version %s after a refused save, want 41", denied, v)
			}
			if v := b.Client.Get(ctx, l.Key()).Val(); v != l.Token() {
				t.Fatalf("%s: the lock after a refused save: %q", denied, v)
			}
			if n := b.Client.Exists(ctx, built.Record()).Val(); n != 0 {
				t.Fatalf("%s: a refused save left its record", denied)
			}
		}
	})
}

// TestLockSaveDirectLostReply: Model.Lock's save by the direct path whose
// reply is lost is resent by Exec with its batch id and answered from the
// record: applied once, no error, the lock released; without a record the
// caller gets ErrUnknownOutcome. The real server (there the acquire is an
// FCALL, so the proxy drops the reply of the save alone).
func TestLockSaveDirectLostReply(t *testing.T) {
	b := testenv.On(t, testenv.Server)
	ctx := context.Background()
	eachRecordLosingReply(t, b, func(t *testing.T, c *lostReply) {
		m := rapyer.MustNew[Nest](c.rdb, rapyer.Options{Prefix: b.Prefix + "llost", Exec: tx.Options{Record: c.record}})
		if err := m.Save(ctx, "lost", Nest{Name: "n"}); err != nil {
			t.Fatal(err)
		}
		bump := func(_ context.Context, v *Nest) error { v.Ratio++; return nil }
		if _, err := m.Lock(ctx, "lost", "bump", bump); err != nil { // the shape found, the script loaded
			t.Fatal(err)
		}
		_, ver0, err := m.GetWithVersion(ctx, "lost")
		if err != nil {
			t.Fatal(err)
		}
		sent0 := tx.LockDirectSent()
		c.send(t, func() error { _, err := m.Lock(ctx, "lost", "bump", bump); return err })
		if tx.LockDirectSent() == sent0 {
			t.Fatal("the save did not go by the direct path")
		}
		got, ver, err := m.GetWithVersion(ctx, "lost")
		if err != nil || got.Ratio != 2 || ver != ver0+1 {
			t.Fatalf("%+v version %d (from %d), %v; want it saved once", got, ver, ver0, err)
		}
		lockReleased(t, b, m.Target("lost").Root(), "bump")
	})
}

// TestLockSaveDirectWithoutScripts: for a user who may not EVAL or
// EVALSHA (functions only), a model Lock's save on the direct path falls
// back to the interpreter with the same batch: saved once a cycle, the
// version bumped once, the lock released. The real server and cluster
// (miniredis has no ACL rules).
func TestLockSaveDirectWithoutScripts(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		prefix := b.Prefix + "lnoscript"
		app := b.NewUser(t, "~"+prefix+"*", "~tx{*", "&"+prefix+"*", "+@all", "-eval", "-evalsha")
		m := rapyer.MustNew[Nest](app, rapyer.Options{Prefix: prefix})
		if err := m.Save(ctx, "s", Nest{Name: "n"}); err != nil {
			t.Fatal(err)
		}
		_, ver0, err := m.GetWithVersion(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		sent0 := tx.LockDirectSent()
		for i := range 3 {
			if _, err := m.Lock(ctx, "s", "bump", func(_ context.Context, v *Nest) error { v.Ratio++; return nil }); err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
		}
		got, ver, err := m.GetWithVersion(ctx, "s")
		if err != nil || got.Ratio != 3 || ver != ver0+3 {
			t.Fatalf("after 3 cycles: %+v version %d (from %d), %v", got, ver, ver0, err)
		}
		if n := b.Client.Exists(ctx, m.Target("s").Root()+":lock:bump").Val(); n != 0 {
			t.Fatal("the lock is still held")
		}
		if tx.LockDirectSent()-sent0 != 3 {
			t.Fatalf("%d of 3 saves by the direct path", tx.LockDirectSent()-sent0)
		}
	})
}
