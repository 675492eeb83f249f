package shape

import (
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

type account struct {
	Owner   string
	Balance int64
	History []string
}

func target(t *testing.T) prog.Target {
	t.Helper()
	m, err := schema.For[account]()
	if err != nil {
		t.Fatal(err)
	}
	return prog.Target{Root: "acct:{a}", Model: m}
}

// guarded3 is the program of Require(AtLeast(Balance, 0)), Incr(Balance,
// 1), Append(History, "deposit"), with a record.
func guarded3(t *testing.T) *prog.Program {
	tg := target(t)
	b := prog.NewBuilder()
	b.Declare(tg, prog.Need)
	b.GuardPred("acct:{a}", "cmp", "balance", "int", "ge", "0", "0")
	b.Incr("acct:{a}", "balance", "1", "-9223372036854775808", "9223372036854775807")
	b.RPush("acct:{a}", "acct:{a}:history", "deposit")
	return b.Build(prog.Header{ID: "x", Record: "tx{a}:x", RecordMS: 10000})
}

func TestCompilesGuarded3(t *testing.T) {
	s := For(guarded3(t))
	if s == nil {
		t.Fatal("not compiled")
	}
	if For(guarded3(t)) != s {
		t.Fatal("the same shape compiled twice")
	}
	t.Log(s.Text)
}

// TestIsintInline: the inline isint of the scripts tests what batch.lua's
// isint does, for a string.
func TestIsintInline(t *testing.T) {
	piece := luaText()["isint"]
	for _, part := range []string{"#s <= 20", "s == '0'", "string.match(s, '^%-?[1-9]%d*$') ~= nil"} {
		if !strings.Contains(piece, part) || !strings.Contains(isint("s"), part) {
			t.Errorf("batch.lua's isint or the inline one lacks %q:\n%s\n%s", part, piece, isint("s"))
		}
	}
	if s := For(guarded3(t)).Text; strings.Contains(s, "isint(") || strings.Contains(s, "local function cmpint") && !strings.Contains(s, "local function ints()") {
		t.Errorf("the guarded 3-op shape makes its helpers on every call:\n%s", s)
	}
}

// withdrawal is the program of Require(AtLeast(Balance, 1)), Decr(Balance,
// 1), with a record: the peer table's withdrawal.
func withdrawal(t *testing.T, id string) *prog.Program {
	b := prog.NewBuilder()
	b.Declare(target(t), prog.Need)
	b.GuardPred("acct:{a}", "cmp", "balance", "int", "ge", "1", "0")
	b.Incr("acct:{a}", "balance", "-1", "-9223372036854775808", "9223372036854775807")
	return b.Build(prog.Header{ID: id, Record: "tx{a}:" + id, RecordMS: 10000})
}

// TestForFindsAShapeWithoutAllocating: the shape of a program compiled
// before is found with no allocation (its key is made on the stack and
// looked up without a copy; the key, the instructions and the steering
// words took five allocations a call before), and a key longer than that
// room finds its shape too, and the same one every time.
func TestForFindsAShapeWithoutAllocating(t *testing.T) {
	p := withdrawal(t, "x")
	s := For(p)
	if s == nil {
		t.Fatal("the withdrawal is not compiled")
	}
	if got := testing.AllocsPerRun(100, func() {
		if For(p) != s {
			t.Fatal("another shape for the same program")
		}
	}); got != 0 {
		t.Errorf("For allocated %v times a call, want 0", got)
	}
	if w, ok := s.HashWord().(string); !ok || w != s.Hash {
		t.Errorf("HashWord %v, Hash %s", s.HashWord(), s.Hash)
	}
	if got := testing.AllocsPerRun(100, func() { sink = s.HashWord() }); got != 0 {
		t.Errorf("HashWord allocated %v times a call, want 0", got)
	}
	if For(withdrawal(t, "y")) != s {
		t.Error("another batch id found another shape")
	}

	long := func(v string) *prog.Program {
		b := prog.NewBuilder()
		b.Declare(target(t), prog.Need)
		b.HSet("acct:{a}", "owner", v, strings.Repeat("f", keyRoom), v)
		return b.Build(prog.Header{ID: "z", Record: "tx{a}:z", RecordMS: 10000})
	}
	ls := For(long("a"))
	if ls == nil || ls == s {
		t.Fatalf("a set of a long field: shape %p (the withdrawal's %p)", ls, s)
	}
	if For(long("b")) != ls {
		t.Error("a key past the room found another shape the second time")
	}
}

var sink any

// TestReplyOfOneResult: a shape whose one instruction that yields answers
// one text is laid out as the interpreter's reply, in one slice.
func TestReplyOfOneResult(t *testing.T) {
	s := For(withdrawal(t, "x"))
	r, ok := s.Reply("41").([]any)
	if !ok || len(r) != 1+s.n || r[0] != "OK" || r[s.yields[0]] != "41" {
		t.Fatalf("reply %#v, yields %v of %d", r, s.yields, s.n)
	}
	for i, v := range r[1:] {
		if i+1 != s.yields[0] && v != nil {
			t.Errorf("result %d is %v, want nil", i+1, v)
		}
	}
	if got := testing.AllocsPerRun(100, func() { _ = s.Reply("41") }); got > 2 {
		t.Errorf("Reply allocated %v times, want at most 2 (the slice and its box)", got)
	}
}
