package prog

import "testing"

// TestLean: only programs that replace whole models, every collection
// cleared, are lean; every other golden program runs on the interpreter.
func TestLean(t *testing.T) {
	const root = "account:{ada}"
	at := accountTarget(t, root)
	bt := accountTarget(t, "account:{ada}:bob")
	replace := func(b *Builder, t Target, fill bool) {
		b.Declare(t, Need)
		b.Creates(t.Root)
		b.Reset(t.Root)
		b.HSet(t.Root, "owner", "ada")
		for _, k := range t.CollectionKeys() {
			b.Clear(t.Root, k, "list")
		}
		if fill {
			b.RPush(t.Root, t.CollectionKeys()[0], "x")
		}
	}
	lean := map[string]func() *Program{
		"one": func() *Program { b := NewBuilder(); replace(b, at, true); return b.Build(Header{}) },
		"two": func() *Program {
			b := NewBuilder()
			replace(b, at, true)
			replace(b, bt, false)
			return b.Build(Header{ID: "x", Record: "tx{ada}:x", RecordMS: 10})
		},
	}
	not := map[string]func() *Program{
		"then an incr": func() *Program {
			b := NewBuilder()
			replace(b, at, true)
			b.Incr(root, "balance", "1", "0", "9")
			return b.Build(Header{})
		},
		"a fill before its clear": func() *Program {
			b := NewBuilder()
			b.Declare(at, Need)
			b.Creates(root)
			b.Reset(root)
			b.RPush(root, at.CollectionKeys()[0], "x")
			for _, k := range at.CollectionKeys() {
				b.Clear(root, k, "list")
			}
			return b.Build(Header{})
		},
		"a second model written in the first's group": func() *Program {
			b := NewBuilder()
			replace(b, at, false)
			b.Declare(bt, Need)
			b.HSet(bt.Root, "owner", "bob")
			return b.Build(Header{})
		},
	}
	for name, c := range goldenCases(t) {
		not["golden "+name] = c
	}
	for name, c := range lean {
		if p := c(); !p.Lean() || p.Argv[5] != "save" {
			t.Errorf("%s: not lean", name)
		}
	}
	for name, c := range not {
		if p := c(); p.Lean() || p.Argv[5] == "save" {
			t.Errorf("%s: lean", name)
		}
	}
}
