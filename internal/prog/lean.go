package prog

import "slices"

// Lean reports whether the program only replaces whole models, in the
// shape the lean form of the interpreter (save in batch.lua) runs: per
// declared model, in the order of the declarations, a reset of its root
// followed only by writes of that model (hset of the root, clear of every
// one of its collection keys, and rpush, mset or sadd of a key cleared
// before). That is ops.Replace, with or without ops.Expire, of one model
// or of several (SaveMany). The program's first declaration then has the
// opcode "save" instead of "model", and the interpreter's entry point hands
// it to save, which reads the same layout, answers with the same replies
// and records, and keeps the same promises; any other program runs on the
// interpreter. One entry point for both keeps one function, and one script
// on servers without functions (a second script would cost its first call
// a round trip to load it).
func (p *Program) Lean() bool { return p.lean }

// wordSave is the opcode of the first declaration of a lean program.
var wordSave any = "save"

// lean decides Lean at Build.
func lean(models []*model, instrs []Instr) bool {
	if len(models) == 0 || len(instrs) == 0 {
		return false
	}
	next := 0 // the model whose reset comes next
	var m *model
	var cleared []string
	for _, in := range instrs {
		if len(in.Args) == 0 {
			return false
		}
		if in.Op == "reset" {
			if (m != nil && !allCleared(m, cleared)) || next >= len(models) {
				return false
			}
			m, cleared = models[next], cleared[:0]
			next++
			if !m.creates || in.Args[0] != m.root {
				return false
			}
			continue
		}
		if m == nil || in.Args[0] != m.root || !leanWrite(in, cleared) {
			return false
		}
		if in.Op == "clear" {
			cleared = append(cleared, in.Args[1])
		}
	}
	return next == len(models) && allCleared(m, cleared)
}

// leanWrite reports whether in, of the model being replaced, is a write
// save runs: an hset, a clear, or a fill of a key cleared before.
func leanWrite(in Instr, cleared []string) bool {
	switch in.Op {
	case "hset":
		return true
	case "clear":
		return len(in.Args) >= 2
	case "rpush", "mset", "sadd":
		return len(in.Args) >= 2 && slices.Contains(cleared, in.Args[1])
	}
	return false
}

// allCleared reports whether every collection key of m is in cleared:
// save deletes them all with the root.
func allCleared(m *model, cleared []string) bool {
	for _, k := range m.target.CollectionKeys() {
		if !slices.Contains(cleared, k) {
			return false
		}
	}
	return true
}
