package transport_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
)

// A lock's release in a compiled batch (internal/shape, lock.go) reads the
// waiters' flag in its check phase, and when the batch also guards the
// lock with the same token (a model Lock's save) and wakes on the lock's
// own channel, the call sends neither the token again nor the channel and
// the record is a text of the script. These tests hold every form of the
// release to the interpreter's.

// unlockForm is one way a batch releases its lock: with or without a guard
// of the lock, by the guard's token or another, on the lock's own channel
// or another.
type unlockForm struct {
	name          string
	guard, other  bool // a glock first; the unlock's token is not the glock's
	ownChannel    bool
	shorterByArgs int // words the call saves against the longest form
}

var unlockForms = []unlockForm{
	{"save: same token, own channel", true, false, true, 2},
	{"same token, another channel", true, false, false, 1},
	{"another token, own channel", true, true, true, 1},
	{"another token, another channel", true, true, false, 0},
	{"unlock alone, own channel", false, false, true, 2},
}

// unlockProgram builds the batch of form f on root, lock lk, with record id.
func (f unlockForm) program(t *testing.T, root, lk, id string) *prog.Program {
	ch := root + ":elsewhere"
	if f.ownChannel {
		ch = lk + ":wake"
	}
	tok := "t1"
	if f.other {
		tok = "t2"
	}
	return withRecord(t, root, id, prog.Need, func(b *prog.Builder) {
		if f.guard {
			b.GuardLock(lk, "t1")
		}
		b.HSet(root, "s", "saved")
		b.Unlock(lk, tok, ch)
	})
}

// TestUnlockFormsAgreeWithTheInterpreter: every form of a release, on a
// lock held by the guard's token, by the unlock's (when another), by a
// third holder, or by nobody, with and without a waiter's flag, answers and
// leaves what the interpreter does: the reply, the model, the lock key,
// the record, and the wake-ups on both channels; and the save's call is
// the shortest. On every tier.
func TestUnlockFormsAgreeWithTheInterpreter(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		root := b.Prefix + "doc:{d}"
		lk := root + ":lock:x"
		ps := b.Client.Subscribe(ctx, lk+":wake", root+":elsewhere")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		longest := 0
		for _, f := range unlockForms {
			n := len(shape.For(f.program(t, root, lk, "len")).Command(f.program(t, root, lk, "len")))
			longest = max(longest, n)
		}
		seq := 0
		for _, f := range unlockForms {
			p := f.program(t, root, lk, "len")
			if n := len(shape.For(p).Command(p)); n != longest-f.shorterByArgs {
				t.Errorf("%s: a call of %d words, want %d", f.name, n, longest-f.shorterByArgs)
			}
			for _, holder := range []string{"t1", "t2", "t3", ""} {
				for _, waiter := range []bool{false, true} {
					run := func(interp bool) string {
						seq++
						if err := b.Client.Del(ctx, root, lk, lk+":fence:wait").Err(); err != nil {
							t.Fatal(err)
						}
						b.Client.HSet(ctx, root, "__v", "1", "n", "5")
						if holder != "" {
							b.Client.Set(ctx, lk, holder, 0)
						}
						if waiter {
							b.Client.Set(ctx, lk+":fence:wait", "someone", 0)
						}
						id := fmt.Sprintf("%sul%d", b.Prefix, seq)
						p := f.program(t, root, lk, id)
						var r any
						var err error
						if interp {
							r, err = transport.RunInterpreter(ctx, b.Client, p)
						} else {
							r = onShape(ctx, t, b, p)
						}
						if err != nil {
							t.Fatal(err)
						}
						got := b.Client.HGetAll(ctx, root).Val()
						held, _ := b.Client.Get(ctx, lk).Result()
						rec, _ := b.Client.Get(ctx, "tx{d}:"+id).Result()
						return fmt.Sprintf("reply %v\nmodel %v\nlock %q\nrecord %q\nwake-ups %s", r, got, held, rec, wakeups(ctx, t, b, ps, lk+":wake", root+":elsewhere"))
					}
					want := run(true)
					if got := run(false); got != want {
						t.Errorf("%s, lock held by %q, waiter %v: compiled\n%s\ninterpreter\n%s", f.name, holder, waiter, got, want)
					}
				}
			}
		}
	})
}

// wakeups counts the messages that reached ps on each channel since the
// last call: a marker published now on the last comes after all of them.
func wakeups(ctx context.Context, t *testing.T, b *testenv.Backend, ps *redis.PubSub, channels ...string) string {
	t.Helper()
	last := channels[len(channels)-1]
	if err := b.Client.Publish(ctx, last, "marker").Err(); err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Channel == last && m.Payload == "marker" {
			return fmt.Sprint(n)
		}
		n[m.Channel]++
	}
}

// TestUnlockWaitFlagRefused: a user who may not read the waiters' flag
// (no EXISTS) runs a model lock's save: the compiled shape's check phase
// leaves it to the interpreter, which refuses it with ErrNoPermission;
// nothing is written (no record, the model's version as it was, the lock
// still held). On the real server and cluster (miniredis has no ACL).
func TestUnlockWaitFlagRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		app := b.NewUser(t, "~*", "&*", "+@all", "-exists")
		root := b.Prefix + "doc:{d}"
		lk := root + ":lock:x"
		b.Client.HSet(ctx, root, "__v", "1", "n", "5")
		b.Client.Set(ctx, lk, "t1", 0)
		for _, waiter := range []bool{false, true} {
			if waiter {
				b.Client.Set(ctx, lk+":fence:wait", "someone", 0)
			}
			id := fmt.Sprintf("%snoexists%v", b.Prefix, waiter)
			p := unlockForms[0].program(t, root, lk, id)
			_, again0 := transport.ShapeRuns()
			r, err := transport.RunTx(ctx, app, p)
			if err == nil {
				_, err = transport.Decode(p, r)
			}
			if !errors.Is(err, errs.NoPermission) {
				t.Fatalf("waiter %v: the save as a user without EXISTS gave %v, %v; want ErrNoPermission", waiter, r, err)
			}
			if _, again := transport.ShapeRuns(); again != again0+1 {
				t.Errorf("waiter %v: the compiled shape did not leave the save to the interpreter", waiter)
			}
			if v := b.Client.HGet(ctx, root, "__v").Val(); v != "1" {
				t.Fatalf("waiter %v: version %s after the refused save", waiter, v)
			}
			if held := b.Client.Get(ctx, lk).Val(); held != "t1" {
				t.Fatalf("waiter %v: the lock says %q after the refused save", waiter, held)
			}
			if n := b.Client.Exists(ctx, "tx{d}:"+id).Val(); n != 0 {
				t.Fatalf("waiter %v: the refused save left its record", waiter)
			}
		}
	})
}
