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
