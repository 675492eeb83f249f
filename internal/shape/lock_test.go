package shape

import (
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/prog"
)

// TestLockShapes: a model lock's save (model, glock, a field's write,
// unlock) compiles, and so does the lock alone; a lock key the batch
// unlocks twice, or pushes to as a list, is left to the interpreter, whose
// unlock reads the key at its turn.
func TestLockShapes(t *testing.T) {
	const lk = "acct:{a}:lock:x"
	build := func(f func(b *prog.Builder)) *prog.Program {
		b := prog.NewBuilder()
		b.Declare(target(t), prog.Need)
		f(b)
		return b.Build(prog.Header{ID: "x", Record: "tx{a}:x", RecordMS: 10000})
	}
	cases := []struct {
		name    string
		f       func(b *prog.Builder)
		compile bool
	}{
		{"save", func(b *prog.Builder) {
			b.GuardLock(lk, "t")
			b.HSet("acct:{a}", "owner", "ada")
			b.Unlock(lk, "t", lk+":wake")
		}, true},
		{"lock alone", func(b *prog.Builder) { b.GuardLock(lk, "t"); b.Unlock(lk, "t", lk+":wake") }, true},
		{"unlocked twice", func(b *prog.Builder) { b.Unlock(lk, "t", lk+":wake"); b.Unlock(lk, "t", lk+":wake") }, false},
		{"pushed to", func(b *prog.Builder) { b.GuardLock(lk, "t"); b.RPush("acct:{a}", lk, "x") }, false},
		{"the root", func(b *prog.Builder) { b.GuardLock("acct:{a}", "t") }, false},
		// the release reads the waiters' flag in the check phase: a batch
		// that writes it is left to the interpreter
		{"its wait flag written", func(b *prog.Builder) {
			b.GuardLock(lk, "t")
			b.RPush("acct:{a}", lk+":fence:wait", "x")
			b.Unlock(lk, "t", lk+":wake")
		}, false},
		{"another token, another channel", func(b *prog.Builder) {
			b.GuardLock(lk, "t")
			b.Unlock(lk, "u", "elsewhere")
		}, true},
	}
	for _, c := range cases {
		if got := For(build(c.f)) != nil; got != c.compile {
			t.Errorf("%s: compiled %v, want %v", c.name, got, c.compile)
		}
	}
}

// TestVersionFolded: the version goes in the batch's first write when that
// is an HSET of the root (a model lock's save, a field set, a text
// appended): one HSET of the root, '__v' first, and no HSET of the version
// alone; it does not when the first write is another (an HDEL, an HINCRBY,
// which bumps the version by HINCRBY, a list's RPUSH). What the folded
// script leaves is held to the interpreter's by tx's equivalence tests.
func TestVersionFolded(t *testing.T) {
	const lk = "acct:{a}:lock:x"
	build := func(f func(b *prog.Builder)) string {
		b := prog.NewBuilder()
		b.Declare(target(t), prog.Need)
		f(b)
		s := For(b.Build(prog.Header{ID: "x", Record: "tx{a}:x", RecordMS: 10000}))
		if s == nil {
			t.Fatal("not compiled")
		}
		return s.Text
	}
	cases := []struct {
		name   string
		f      func(b *prog.Builder)
		folded bool
	}{
		{"lock save", func(b *prog.Builder) {
			b.GuardLock(lk, "t")
			b.HSet("acct:{a}", "owner", "ada")
			b.Unlock(lk, "t", lk+":wake")
		}, true},
		{"field set, then deleted", func(b *prog.Builder) { b.HSet("acct:{a}", "owner", "ada"); b.HDel("acct:{a}", "owner") }, true},
		{"text appended", func(b *prog.Builder) { b.AppendText("acct:{a}", "owner", "!") }, true},
		{"field deleted, then set", func(b *prog.Builder) { b.HDel("acct:{a}", "owner"); b.HSet("acct:{a}", "owner", "ada") }, false},
		{"incr first", func(b *prog.Builder) {
			b.Incr("acct:{a}", "balance", "1", "-9223372036854775808", "9223372036854775807")
			b.HSet("acct:{a}", "owner", "ada")
		}, false},
		{"pushed first", func(b *prog.Builder) {
			b.RPush("acct:{a}", "acct:{a}:history", "x")
			b.HSet("acct:{a}", "owner", "ada")
		}, false},
	}
	for _, c := range cases {
		text := build(c.f)
		if strings.ContainsAny(text, "\x00") {
			t.Errorf("%s: a mark is left in the text", c.name)
		}
		alone := strings.Contains(text, "redis.call('HSET', root, '__v', nx)\n")
		in := strings.Contains(text, "redis.call('HSET', root, '__v', nx, ")
		if in != c.folded || (alone && c.folded) {
			t.Errorf("%s: version in the first write %v, alone %v; want folded %v\n%s", c.name, in, alone, c.folded, text)
		}
	}
}

// TestLockSaveText: a model lock's save (a glock and an unlock of the same
// token, on the lock's own channel) takes neither the unlock's token nor
// the channel, writes its record as a text, and asks the ACL for no
// EXISTS (the waiters' flag is read in the check phase); a release of
// another token on another channel takes both. Their shapes differ.
func TestLockSaveText(t *testing.T) {
	const lk = "acct:{a}:lock:x"
	build := func(tok, ch string) *prog.Program {
		b := prog.NewBuilder()
		b.Declare(target(t), prog.Need)
		b.GuardLock(lk, "t")
		b.HSet("acct:{a}", "owner", "ada")
		b.Unlock(lk, tok, ch)
		return b.Build(prog.Header{ID: "x", Record: "tx{a}:x", RecordMS: 10000})
	}
	save, other := build("t", lk+":wake"), build("u", "elsewhere")
	s, o := For(save), For(other)
	if s == nil || o == nil || s == o {
		t.Fatalf("shapes %p and %p: want two compiled shapes", s, o)
	}
	for _, w := range []string{`local rs = '[false,false,false,"1"]'`, "KS[2] .. ':wake'", "redis.call('EXISTS', KS[2] .. ':fence:wait')"} {
		if !strings.Contains(s.Text, w) {
			t.Errorf("the save's text has no %q:\n%s", w, s.Text)
		}
	}
	if strings.Contains(s.Text, "acl('EXISTS'") {
		t.Errorf("the save's text asks for EXISTS:\n%s", s.Text)
	}
	if got := s.Command(save)[3:]; len(got) != 3+3 {
		t.Errorf("the save's call takes %v, want its 3 keys and the token, field and value", got)
	}
	if got := o.Command(other)[3:]; len(got) != 3+5 {
		t.Errorf("the other release's call takes %v, want its 3 keys, the two tokens, the field, the value and the channel", got)
	}
}
