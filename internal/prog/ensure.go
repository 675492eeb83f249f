package prog

// The instructions of issue #12 item 8 that need more of the builder than
// emit: kept apart so that the opcode table's file stays a table.

// Ensure creates the model at root when it does not exist, with the root
// hash fields pairs (field, value, field, value...) and a lifetime of ttlms
// milliseconds ("0": none); when it exists, it does nothing. The instruction goes before
// every instruction of the model emitted so far but the ensures before it
// (the first of the batch creates the model), so that the guards and the
// checks of the batch see the model as created, wherever the op stands in
// the batch. The model need not exist for the batch to run (Creates),
// unless an Exists guard requires it.
func (b *Builder) Ensure(root, ttlms string, pairs ...string) {
	b.Creates(root)
	w0, i0 := len(b.words), len(b.instrs)
	b.emit(opEnsure, pairs, root, ttlms)
	m := b.byRoot(root)
	if m == nil {
		return
	}
	// after the ensures of the model before it: the interpreter lets the
	// first of them create the model, and the first is the batch's
	at, ati, n := int(m.firstWord+m.ensureWords), int(m.firstInstr+m.ensures), len(b.words)-w0
	m.ensureWords, m.ensures = m.ensureWords+int32(n), m.ensures+1
	if at == w0 {
		return
	}
	hoist(b.words, at, w0)
	hoist(b.instrs, ati, i0)
	for _, o := range b.models {
		if o != m && int(o.firstWord) >= at {
			o.firstWord += int32(n)
			o.firstInstr++
		}
	}
}

// hoist moves s[from:] to index at (at <= from), shifting s[at:from] after
// it.
func hoist[T any](s []T, at, from int) {
	tail := append([]T(nil), s[from:]...)
	copy(s[at+len(tail):], s[at:from])
	copy(s[at:], tail)
}
