package is

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// Pred is a condition on a model of type S: a comparison of a field, a
// membership, a length, or Not, And and Or of such. It is a value: build
// it once, keep it, print it (String), test it on a Go value (Holds), and
// hand it to ops.Require (a guard) or ops.Check (a yield of whether it
// holds). Only the constructors of this package make one; the zero Pred
// holds for nothing and carries an error.
type Pred[S any] struct{ n *node[S] }

// node is a predicate tree: a leaf (cmp, len, has) or a connective (and,
// or, not) over kids.
type node[S any] struct {
	tag   string // cmp, len, has, and, or, not
	kids  []*node[S]
	shown string       // the node, described
	field *schema.Node // the field of a leaf
	// the words of a leaf after its key, as the interpreter reads them
	typ, kind, rel, arg, zero string
	holds                     func(S) bool
	err                       error
}

func (p Pred[S]) root() *node[S] {
	if p.n == nil {
		return &node[S]{tag: "or", shown: "<zero Pred>", err: fmt.Errorf("%w: the zero is.Pred", errs.Invalid)}
	}
	return p.n
}

// String describes the predicate: `And(AtLeast(balance, 10), Not(Member(tags, "banned")))`.
func (p Pred[S]) String() string { return p.root().shown }

// Err is the error the predicate carries, nil for one that can run: a lens
// that points at no stored field, a field of a kind the comparison cannot
// take, a NaN. A batch holding a predicate with an error fails before
// anything is sent.
func (p Pred[S]) Err() error {
	stack := []*node[S]{p.root()} // no recursion: a predicate may nest however deep
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.err != nil {
			return n.err
		}
		for i := len(n.kids) - 1; i >= 0; i-- {
			stack = append(stack, n.kids[i])
		}
	}
	return nil
}

// Holds reports whether the predicate holds for v, evaluated in Go with
// the semantics the server's evaluation has (a predicate with an error holds
// for nothing).
func (p Pred[S]) Holds(v S) bool {
	if p.Err() != nil {
		return false
	}
	return p.root().eval(v)
}

func (n *node[S]) eval(v S) bool {
	switch n.tag {
	case "and":
		for _, k := range n.kids {
			if !k.eval(v) {
				return false
			}
		}
		return true
	case "or":
		for _, k := range n.kids {
			if k.eval(v) {
				return true
			}
		}
		return false
	case "not":
		return !n.kids[0].eval(v)
	}
	return n.holds(v)
}

// Lower encodes the predicate for the batch interpreter, for the model at
// t: its nodes in prefix order, seven words each (key, tag, then five words
// of the tag). It is for package ops; the type of its argument is internal
// to this module, so no other code can call it.
//
// A predicate past the bounds of a batch (64 levels, 63 of And, Or and
// Not over a leaf; 4096 nodes; 1 MiB of values) is refused with an error wrapping
// rapyer.ErrTooLarge, before anything is lowered.
func (p Pred[S]) Lower(t prog.Target) ([]string, error) {
	if err := p.bounds(); err != nil {
		return nil, err
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if want := reflect.TypeFor[S](); t.Model == nil || t.Model.Type != want {
		return nil, fmt.Errorf("%w: a predicate on %s is bound to another model", errs.Invalid, want)
	}
	var out []string
	var walk func(n *node[S])
	walk = func(n *node[S]) {
		switch n.tag {
		case "and", "or", "not":
			out = append(out, t.Root, n.tag, fmt.Sprint(len(n.kids)), "", "", "", "")
			for _, k := range n.kids {
				walk(k)
			}
		case "cmp":
			out = append(out, t.Root, n.tag, n.field.Name, n.kind, n.rel, n.arg, n.zero)
		case "len":
			if n.typ == "text" { // the root's field, in the kind slot
				out = append(out, t.Root, n.tag, n.typ, n.field.Name, n.rel, n.arg, "")
			} else {
				out = append(out, t.Key(n.field), n.tag, n.typ, "", n.rel, n.arg, "")
			}
		default: // has
			out = append(out, t.Key(n.field), n.tag, n.typ, "", n.rel, n.arg, "")
		}
	}
	walk(p.root())
	return out, nil
}

// Not holds where p does not.
func Not[S any](p Pred[S]) Pred[S] {
	r := p.root()
	return Pred[S]{&node[S]{tag: "not", kids: []*node[S]{r}, shown: describe("Not", 1, func(int) string { return r.shown })}}
}

// And holds where every one of ps holds.
//
// And() with no predicates is refused: it carries an error wrapping
// rapyer.ErrInvalid (Err), holds for nothing, and a guard, a Check or a
// query holding it, however deep (Not(And()), Or(p, And())), fails before
// anything is sent. An empty And would hold for every model, so an And
// built from a slice that came out empty would make a guard always pass
// and a DeleteWhere delete every model. Ask for every model with
// query.All.
func And[S any](ps ...Pred[S]) Pred[S] { return join("and", "And", ps) }

// Or holds where at least one of ps holds.
//
// Or() with no predicates is refused as And() is (an error wrapping
// rapyer.ErrInvalid, nothing sent): it would hold for no model, and
// Not(Or()) for every one.
func Or[S any](ps ...Pred[S]) Pred[S] { return join("or", "Or", ps) }

func join[S any](tag, name string, ps []Pred[S]) Pred[S] {
	n := &node[S]{tag: tag}
	for _, p := range ps {
		n.kids = append(n.kids, p.root())
	}
	n.shown = describe(name, len(n.kids), func(i int) string { return n.kids[i].shown })
	if len(ps) == 0 {
		n.err = fmt.Errorf("%w: %s: an %s of no predicates (from an empty slice?) would hold for %s; give it at least one, or use query.All for every model",
			errs.Invalid, n.shown, name, map[string]string{"and": "every model", "or": "none"}[tag])
	}
	return Pred[S]{n}
}

// maxShown bounds a description (String, and the messages that name a
// predicate). A description of every part would grow with the predicate:
// an In of 100k values, and a tree nested 10k deep, where each level would
// copy the description of the level below and building it would cost the
// square of the depth.
const maxShown = 300

// describe is name(part(0), ..., part(n-1)), cut with "..." past
// maxShown bytes; it asks for the parts only as far as it shows them.
func describe(name string, n int, part func(int) string) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if p := part(i); b.Len()+len(p) > maxShown {
			b.WriteString(cut(p, maxShown-b.Len()))
			b.WriteString("...")
			break
		} else {
			b.WriteString(p)
		}
	}
	b.WriteByte(')')
	return b.String()
}

// cut is s cut to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
