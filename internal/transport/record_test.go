package transport_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
)

// A compiled shape writes its record first of its writes, with NX, which is
// also its look-up; a batch that stops before its writes looks the record
// up. These tests hold the shapes to the promises that scheme must keep.

// withRecord builds a program of mode with the instructions f adds and a
// record under id.
func withRecord(t *testing.T, root, id string, mode prog.Mode, f func(b *prog.Builder)) *prog.Program {
	t.Helper()
	b := prog.NewBuilder()
	b.Declare(target(t, root), mode)
	f(b)
	p := b.Build(prog.Header{ID: id, Record: "tx{d}:" + id, RecordMS: 60000})
	if shape.For(p) == nil {
		t.Fatalf("program %s is not compiled", id)
	}
	return p
}

// onShape runs p by RunTx and fails unless its compiled shape settled it.
func onShape(ctx context.Context, t *testing.T, b *testenv.Backend, p *prog.Program) any {
	t.Helper()
	settled0, _ := transport.ShapeRuns()
	r, err := transport.RunTx(ctx, b.Client, p)
	if err != nil {
		t.Fatal(err)
	}
	if settled, _ := transport.ShapeRuns(); settled != settled0+1 {
		t.Fatalf("the call was left to the interpreter (%v), want it settled on the compiled shape", r)
	}
	return r
}

// dup is the answer of a resend of a batch whose first run answered r.
func dup(r any) any { return append([]any{"DUP"}, r.([]any)[1:]...) }

// TestResendOfALockSaveAfterTheLockMovedOn: a model lock's save (glock,
// a write, unlock) whose reply was lost released its lock, which another
// holder has taken since; its resend fails the lock's check, and is
// answered from the record, by the shape itself, with the first run's
// results: nothing written again, the new holder's lock left alone.
func TestResendOfALockSaveAfterTheLockMovedOn(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		root := b.Prefix + "doc:{d}"
		lk := root + ":lock:x"
		if err := b.Client.HSet(ctx, root, "__v", "1", "n", "5").Err(); err != nil {
			t.Fatal(err)
		}
		if err := b.Client.Set(ctx, lk, "t1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		save := func() *prog.Program {
			return withRecord(t, root, b.Prefix+"lk1", prog.Need, func(pb *prog.Builder) {
				pb.GuardLock(lk, "t1")
				pb.HSet(root, "s", "saved")
				pb.Unlock(lk, "t1", lk+":wake")
			})
		}
		r1 := onShape(ctx, t, b, save())
		if n := b.Client.Exists(ctx, lk).Val(); n != 0 {
			t.Fatal("the save did not release its lock")
		}
		if err := b.Client.Set(ctx, lk, "t2", 0).Err(); err != nil {
			t.Fatal(err)
		}
		r2 := onShape(ctx, t, b, save())
		if diff := cmp.Diff(dup(r1), r2); diff != "" {
			t.Fatalf("the resend's reply (-want +got):\n%s", diff)
		}
		if v := b.Client.HGet(ctx, root, "__v").Val(); v != "2" {
			t.Fatalf("version %s after a save and its resend, want 2", v)
		}
		if got := b.Client.Get(ctx, lk).Val(); got != "t2" {
			t.Fatalf("the new holder's lock says %q", got)
		}
	})
}

// TestResendWhoseCheckNowFailsIsAnsweredFromTheRecord: a batch whose first
// run moved what its checks read (a guard's field, the version, a model it
// created) fails them when resent; the resend is answered from the record,
// by the shape itself, and writes nothing.
func TestResendWhoseCheckNowFailsIsAnsweredFromTheRecord(t *testing.T) {
	cases := []struct {
		name string
		mode prog.Mode
		f    func(b *prog.Builder, root string)
	}{
		{"a guard on the field it moves", prog.Need, func(b *prog.Builder, root string) {
			b.GuardPred(root, "cmp", "n", "int", "eq", "5", "0")
			b.Incr(root, "n", "1", "-9223372036854775808", "9223372036854775807")
		}},
		{"the version", prog.Need, func(b *prog.Builder, root string) {
			b.GuardVersion(root, "1")
			b.HSet(root, "s", "x")
			b.AppendText(root, "s", "y")
		}},
		{"a model it created", prog.Fresh, func(b *prog.Builder, root string) {
			b.HSet(root, "n", "5")
			b.Incr(root, "n", "2", "0", "100")
		}},
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		for i, c := range cases {
			root := b.Prefix + "doc" + string(rune('a'+i)) + ":{d}"
			if c.mode != prog.Fresh {
				if err := b.Client.HSet(ctx, root, "__v", "1", "n", "5").Err(); err != nil {
					t.Fatal(err)
				}
			}
			p := func() *prog.Program {
				return withRecord(t, root, b.Prefix+"g"+string(rune('a'+i)), c.mode, func(pb *prog.Builder) { c.f(pb, root) })
			}
			r1 := onShape(ctx, t, b, p())
			after := b.Client.HGetAll(ctx, root).Val()
			r2 := onShape(ctx, t, b, p())
			want := any([]any{"DUP"})
			if rs, ok := r1.([]any); ok && len(rs) > 1 && slicesHasResult(rs[1:]) {
				want = dup(r1)
			}
			if diff := cmp.Diff(want, r2); diff != "" {
				t.Fatalf("%s: the resend's reply (-want +got):\n%s", c.name, diff)
			}
			if diff := cmp.Diff(after, b.Client.HGetAll(ctx, root).Val()); diff != "" {
				t.Fatalf("%s: the resend wrote (-before +after):\n%s", c.name, diff)
			}
		}
	})
}

// slicesHasResult reports whether some result of rs is not nil (the
// record is then the results' JSON, not '1').
func slicesHasResult(rs []any) bool {
	for _, r := range rs {
		if r != nil {
			return true
		}
	}
	return false
}

// TestShapeRecordIsTheInterpreters: the record a compiled shape writes is
// byte for byte the one the interpreter writes for the same batch on the
// same state: no result, integers (exact past 2^53), texts cjson escapes,
// a lock's release and its failure, results too large to keep.
func TestShapeRecordIsTheInterpreters(t *testing.T) {
	cases := []struct {
		name string
		f    func(b *prog.Builder, root, lk string)
	}{
		{"nothing yields", func(b *prog.Builder, root, _ string) { b.HSet(root, "s", "a") }},
		{"integers", func(b *prog.Builder, root, _ string) {
			b.Incr(root, "n", "1", "-9223372036854775808", "9223372036854775807")
			b.Incr(root, "big", "-3", "-9223372036854775808", "9223372036854775807")
		}},
		{"texts", func(b *prog.Builder, root, _ string) {
			b.AppendText(root, "s", "q\"/\\\x01\n é ☃ {}")
			b.HSet(root, "t", "a")
			b.AppendText(root, "t", "[1,false]")
		}},
		{"a lock released", func(b *prog.Builder, root, lk string) {
			b.GuardLock(lk, "t1")
			b.HSet(root, "s", "saved")
			b.Unlock(lk, "t1", lk+":wake")
		}},
		{"a lock another holds", func(b *prog.Builder, root, lk string) {
			b.HSet(root, "s", "saved")
			b.Unlock(lk, "t0", lk+":wake")
		}},
		{"too large to keep", func(b *prog.Builder, root, _ string) { b.AppendText(root, "s", strings.Repeat("z", 1100)) }},
	}
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		root := b.Prefix + "doc:{d}"
		lk := root + ":lock:x"
		state := func() {
			b.Client.Del(ctx, root, lk)
			if err := b.Client.HSet(ctx, root, "__v", "3", "n", "41", "big", "9007199254740993", "s", "α").Err(); err != nil {
				t.Fatal(err)
			}
			if err := b.Client.Set(ctx, lk, "t1", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range cases {
			ids := [2]string{b.Prefix + "rs" + string(rune('a'+i)), b.Prefix + "ri" + string(rune('a'+i))}
			p := func(id string) *prog.Program {
				return withRecord(t, root, id, prog.Need, func(pb *prog.Builder) { c.f(pb, root, lk) })
			}
			state()
			onShape(ctx, t, b, p(ids[0]))
			state()
			if _, err := transport.Run(ctx, b.Client, p(ids[1])); err != nil {
				t.Fatal(err)
			}
			shapeRec, err1 := b.Client.Get(ctx, "tx{d}:"+ids[0]).Result()
			interRec, err2 := b.Client.Get(ctx, "tx{d}:"+ids[1]).Result()
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: the records: %v, %v", c.name, err1, err2)
			}
			if shapeRec != interRec {
				t.Fatalf("%s: the shape's record %q, the interpreter's %q", c.name, shapeRec, interRec)
			}
		}
	})
}

// TestFailedShapeTakesItsRecordBack: a batch that fails in its writes,
// after the record it wrote first, leaves no record: its resend fails as
// it did, not answered as applied. The failure: an Incr whose bounds
// reach past 2^63, which the checks pass and the server's HINCRBY refuses
// (on the real servers: miniredis's HINCRBY wraps around instead).
func TestFailedShapeTakesItsRecordBack(t *testing.T) {
	for _, tier := range []testenv.Kind{testenv.Server, testenv.Cluster} {
		t.Run(string(tier), func(t *testing.T) {
			b := testenv.On(t, tier)
			ctx := context.Background()
			root := b.Prefix + "d:{d}"
			if err := b.Client.HSet(ctx, root, "__v", "5", "n", "9223372036854775807").Err(); err != nil {
				t.Fatal(err)
			}
			id := b.Prefix + "broken"
			p := func() *prog.Program {
				return withRecord(t, root, id, prog.Need, func(pb *prog.Builder) {
					pb.Owner(nil, "Incr(n)")
					pb.Incr(root, "n", "1", "0", "99999999999999999999")
					pb.HSet(root, "s", "a")
				})
			}
			for try := range 2 {
				settled0, _ := transport.ShapeRuns()
				reply, err := transport.RunTx(ctx, b.Client, p())
				if err != nil {
					t.Fatalf("the server refused the program: %v", err)
				}
				if settled, _ := transport.ShapeRuns(); settled != settled0+1 {
					t.Fatalf("try %d: the call was left to the interpreter (%v)", try, reply)
				}
				if _, err := transport.Decode(p(), reply); !errors.Is(err, errs.PartlyApplied) || !strings.Contains(err.Error(), "Incr(n)") {
					t.Fatalf("try %d: %v (reply %v), want errs.PartlyApplied naming Incr(n)", try, err, reply)
				}
				if n := b.Client.Exists(ctx, "tx{d}:"+id).Val(); n != 0 {
					t.Fatalf("try %d: a failed batch left its record %q", try, b.Client.Get(ctx, "tx{d}:"+id).Val())
				}
			}
		})
	}
}

// TestFailedRecordIsNoRecord: a record saying 'F' (a failed batch that
// could not delete the record it wrote first) is no record, to the shape
// and to the interpreter: the batch is applied, and its record written.
func TestFailedRecordIsNoRecord(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		root := b.Prefix + "doc:{d}"
		if err := b.Client.HSet(ctx, root, "__v", "1", "n", "5").Err(); err != nil {
			t.Fatal(err)
		}
		for i, shaped := range []bool{true, false} {
			id := b.Prefix + "f" + string(rune('a'+i))
			if err := b.Client.Set(ctx, "tx{d}:"+id, "F", 0).Err(); err != nil {
				t.Fatal(err)
			}
			p := withRecord(t, root, id, prog.Need, func(pb *prog.Builder) {
				pb.Incr(root, "n", "1", "-9223372036854775808", "9223372036854775807")
			})
			var r any
			if shaped {
				r = onShape(ctx, t, b, p)
			} else {
				var err error
				if r, err = transport.Run(ctx, b.Client, p); err != nil {
					t.Fatal(err)
				}
			}
			n := strconv.Itoa(6 + i)
			if diff := cmp.Diff([]any{"OK", nil, n}, r); diff != "" {
				t.Fatalf("shape %v: the reply (-want +got):\n%s", shaped, diff)
			}
			if got := b.Client.Get(ctx, "tx{d}:"+id).Val(); got != `[false,"`+n+`"]` {
				t.Fatalf("shape %v: the record says %q", shaped, got)
			}
		}
	})
}

// TestS24aDecodeRecordRefusesWhatNoBatchRecords: an optimistic update
// whose EXEC reply was lost reads its record back (DecodeRecord). A record
// no batch writes ('[]', '{}', an object, a number, text) is ErrCorrupt,
// not "applied, nothing yielded"; '1', '0' and a non-empty array are
// records. ('[]' was taken as applied before session 24.)
func TestS24aDecodeRecordRefusesWhatNoBatchRecords(t *testing.T) {
	for _, s := range []string{"[]", "{}", `{"a":1}`, "5", `"x"`, "garbage"} {
		if r, err := transport.DecodeRecord(s); !errors.Is(err, errs.Corrupt) {
			t.Errorf("DecodeRecord(%q) = %v, %v; want ErrCorrupt", s, r, err)
		}
	}
	for _, s := range []string{"1", "0", "[5]", "[null,\"a\"]"} {
		if _, err := transport.DecodeRecord(s); err != nil {
			t.Errorf("DecodeRecord(%q): %v", s, err)
		}
	}
}
