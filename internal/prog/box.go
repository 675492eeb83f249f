package prog

import "unsafe"

// Boxing the texts of ARGV without an allocation each. Converting a string
// to an interface copies its header to the heap: one allocation per field
// name and value of a Save, most of a program's. A text of an instruction
// is kept in b.shown anyway (Instr.Args), whose elements are never written
// again once appended (Instr.Args are cut from it with their capacity
// capped, and appends that grow it copy to a new array, leaving the old
// one to the words that point into it), so the boxed word points at that
// element instead of at a copy of its own.

// eface is the layout of an interface{} value.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// stringType is the type word of a string in an interface.
var stringType = func() unsafe.Pointer {
	var v any = ""
	return (*eface)(unsafe.Pointer(&v)).typ
}()

// boxed returns *p as an interface that points at *p, which must never
// change afterwards.
func boxed(p *string) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = stringType, unsafe.Pointer(p)
	return v
}

// Grow makes room for about n more argument words (the fields and values
// of an HSet), so that emitting them grows no slice.
func (b *Builder) Grow(n int) {
	if n <= 0 {
		return
	}
	if cap(b.words)-len(b.words) < n+8 {
		w := make([]any, len(b.words), len(b.words)+n+8)
		copy(w, b.words)
		b.words = w
	}
	if cap(b.shown)-len(b.shown) < n+4 {
		s := make([]string, len(b.shown), len(b.shown)+n+4)
		copy(s, b.shown)
		b.shown = s
	}
}

// Boxed is *p as an interface that points at *p, without an allocation;
// *p must never change afterwards (a Save's direct path in tx boxes the
// words of its call so).
func Boxed(p *string) any { return boxed(p) }
