package shape

import (
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
	}
	for _, c := range cases {
		if got := For(build(c.f)) != nil; got != c.compile {
			t.Errorf("%s: compiled %v, want %v", c.name, got, c.compile)
		}
	}
}
