package transport_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type doc struct {
	N int
	S string
}

func target(t *testing.T, root string) prog.Target {
	t.Helper()
	sm, err := schema.For[doc]()
	if err != nil {
		t.Fatal(err)
	}
	return prog.Target{Root: root, Model: sm}
}

// broken is a program whose instruction "Broken" passes the checks and
// fails in the write phase (an HSET with a field and no value), after an
// Incr when incrFirst.
func broken(t *testing.T, root string, incrFirst bool) *prog.Program {
	b := prog.NewBuilder()
	b.Declare(target(t, root), prog.Need)
	if incrFirst {
		b.Owner(nil, "Incr(n)")
		b.Incr(root, "n", "1", "-9223372036854775808", "9223372036854775807")
	}
	b.Owner(nil, "Broken")
	b.HSet(root, "lonely")
	return b.Build(prog.Header{})
}

// TestFailureAfterAWriteIsPartlyApplied: a command that fails in the write
// phase after a write gives errs.PartlyApplied naming the op; the same
// failure before any write gives errs.Refused, and nothing changed. Both
// were an untyped "batch script failed: SCRIPT".
func TestFailureAfterAWriteIsPartlyApplied(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		root := b.Prefix + "d:{x}"
		if err := b.Client.HSet(ctx, root, "__v", "5", "n", "1").Err(); err != nil {
			t.Fatal(err)
		}
		run := func(p *prog.Program) error {
			t.Helper()
			reply, err := transport.Run(ctx, b.Client, p)
			if err != nil {
				t.Fatalf("the server refused the program: %v", err)
			}
			_, err = transport.Decode(p, reply)
			return err
		}
		before := b.Client.HGetAll(ctx, root).Val()
		err := run(broken(t, root, false))
		if !errors.Is(err, errs.Refused) || errors.Is(err, errs.PartlyApplied) || !strings.Contains(err.Error(), "Broken") {
			t.Fatalf("a failure before any write: %v; want errs.Refused naming Broken", err)
		}
		if diff := cmp.Diff(before, b.Client.HGetAll(ctx, root).Val()); diff != "" {
			t.Fatalf("a refused program wrote (-before +after):\n%s", diff)
		}
		err = run(broken(t, root, true))
		if !errors.Is(err, errs.PartlyApplied) || !strings.Contains(err.Error(), "Broken") {
			t.Fatalf("a failure after a write: %v; want errs.PartlyApplied naming Broken", err)
		}
		if n := b.Client.HGet(ctx, root, "n").Val(); n != "2" {
			t.Fatalf("n is %s: the Incr before the failure was not written, yet the error said partly applied", n)
		}
	})
}

// TestEveryReplyIsTyped: whatever the interpreter answers, Decode's error
// wraps a sentinel.
func TestEveryReplyIsTyped(t *testing.T) {
	b := prog.NewBuilder()
	b.Declare(target(t, "d:{x}"), prog.Need)
	b.Owner(nil, "Op")
	b.Incr("d:{x}", "n", "1", "0", "9")
	p := b.Build(prog.Header{})
	for _, c := range []struct {
		reply any
		want  error
	}{
		{[]any{"ERR", "PARTIAL", "2", "NOPERM: no"}, errs.PartlyApplied},
		{[]any{"ERR", "NOPERM", "2", "no"}, errs.NoPermission},
		{[]any{"ERR", "UNSUP", "2", "no LPOS"}, errs.Unsupported},
		{[]any{"ERR", "REFUSED", "2", "OOM"}, errs.Refused},
		{[]any{"ERR", "WRONGTYPE", "1", "a string"}, errs.WrongType},
		{[]any{"ERR", "SCRIPT", "0", "old"}, errs.Refused},
		{[]any{"ERR", "SOMETHING NEW", "0", "?"}, errs.Refused},
		{[]any{"ERR"}, errs.Refused},
		{[]any{"WHAT"}, errs.UnknownOutcome},
		{"OK", errs.UnknownOutcome},
		{nil, errs.UnknownOutcome},
	} {
		_, err := transport.Decode(p, c.reply)
		if !errors.Is(err, c.want) {
			t.Errorf("Decode(%v) = %v; want %v", c.reply, err, c.want)
		}
	}
}

// TestDecodeInto: DecodeInto reads what Decode reads into the caller's
// Outcome, without an allocation of its own, and leaves it alone on an
// error.
func TestDecodeInto(t *testing.T) {
	b := prog.NewBuilder()
	b.Declare(target(t, "d:{x}"), prog.Need)
	b.Owner(nil, "Op")
	b.Incr("d:{x}", "n", "1", "0", "9")
	p := b.Build(prog.Header{})
	for _, reply := range []any{[]any{"OK", nil, int64(3)}, []any{"DUP", nil, int64(3)}, []any{"DUPX"}, []any{"SKIP"}} {
		want, err := transport.Decode(p, reply)
		if err != nil {
			t.Fatal(err)
		}
		var got transport.Outcome
		if err := transport.DecodeInto(&got, p, reply); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(*want, got); diff != "" {
			t.Fatalf("DecodeInto(%v) (-Decode +DecodeInto):\n%s", reply, diff)
		}
	}
	ok := any([]any{"OK", nil, int64(3)})
	if n := testing.AllocsPerRun(100, func() {
		var out transport.Outcome
		_ = transport.DecodeInto(&out, p, ok)
	}); n != 0 {
		t.Fatalf("DecodeInto of an OK: %v allocations, want 0", n)
	}
	kept := transport.Outcome{Duplicate: true}
	if err := transport.DecodeInto(&kept, p, []any{"ERR", "NOTFOUND", "1", "gone"}); !errors.Is(err, errs.NotFound) || !kept.Duplicate {
		t.Fatalf("DecodeInto of a failure: %v, the outcome %+v", err, kept)
	}
}
