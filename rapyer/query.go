package rapyer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/plan"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/query"
)

// qrun is one query made ready to run on a model: its plan, the groups it
// asks, the predicate as the script reads it, and its fingerprint (for the
// cursor).
type qrun[T any] struct {
	m     *Model[T]
	spec  plan.Spec
	plan  plan.Plan
	bases []string
	words []string
	fp    [8]byte
	// names are the root fields a model is read with (rootNames); root is
	// the map a model's root is decoded from, reused from model to model.
	names []string
	root  map[string]string
	val   *T // the model a hit is decoded into (value), reused
	// tail are the script's arguments of every call for tailOf (args);
	// setPlan drops them
	tail   []any
	tailOf string
}

// prepare plans q for the model.
func (m *Model[T]) prepare(q query.Query[T]) (*qrun[T], error) {
	if err := m.usable(); err != nil {
		return nil, err
	}
	spec, err := q.Spec(plan.Access{})
	if err != nil {
		return nil, err
	}
	if m.ix == nil {
		return nil, fmt.Errorf("%w: %s: the model has no indexes (Options.Indexes)", errs.NotIndexed, spec.Shown)
	}
	r := &qrun[T]{m: m, spec: spec}
	if r.bases, err = m.queryBases(spec); err != nil {
		return nil, err
	}
	if err := treeBounds(spec.Tree); err != nil {
		return nil, errs.At(spec.Shown, err)
	}
	if spec.Lower != nil {
		if r.words, err = m.queryWords(spec); err != nil {
			return nil, errs.At(spec.Shown, err)
		}
		if err := wordBounds(r.words); err != nil {
			return nil, errs.At(spec.Shown, err)
		}
	}
	p, err := plan.Make(spec.Tree, spec.Order, spec.Scan, m.planIndexes())
	if err != nil {
		return nil, errs.At(spec.Shown, err)
	}
	r.setPlan(p)
	return r, nil
}

// setPlan sets the plan and the fingerprint that goes with it: a cursor of
// one plan is refused by another.
func (r *qrun[T]) setPlan(p plan.Plan) {
	r.plan, r.tail = p, nil
	s := r.spec
	// each word a part of its own, after their count: words joined by a
	// separator would let a value holding it make two queries one text
	// (TestACursorOfAQueryWhoseWordsJoinAlikeIsRefused)
	parts := []string{r.m.opts.Prefix, string(p.Mode), s.Order, strconv.FormatBool(s.Desc), s.Tag,
		strconv.Itoa(len(r.words))}
	parts = append(parts, r.words...)
	parts = append(parts, strconv.Itoa(len(p.Uses)))
	parts = append(parts, p.Uses...)
	r.fp = plan.Fingerprint(parts...)
}

func (m *Model[T]) planIndexes() []plan.Index {
	out := make([]plan.Index, len(m.ix.Fields))
	for i, f := range m.ix.Fields {
		out[i] = plan.Index{Field: f.Name, Kind: f.Kind, Use: f.Use}
	}
	return out
}

// queryBases are the groups a query asks: every group, or the one of its
// tag for a model with a hash tag.
func (m *Model[T]) queryBases(s plan.Spec) ([]string, error) {
	switch {
	case m.ix.Tagged && !s.HasTag:
		return nil, fmt.Errorf("%w: %s: a model with Options.HashTag is queried one tag at a time (query.Tag)", errs.Invalid, s.Shown)
	case !m.ix.Tagged && s.HasTag:
		return nil, fmt.Errorf("%w: %s: query.Tag is for models with Options.HashTag", errs.Invalid, s.Shown)
	case s.HasTag:
		if s.Tag == "" || strings.ContainsAny(s.Tag, "{}") {
			return nil, fmt.Errorf("%w: %s: the tag %q is empty or holds a brace", errs.Invalid, s.Shown, s.Tag)
		}
		return []string{ix.Base(m.opts.Prefix, s.Tag)}, nil
	}
	return m.ix.Bases(), nil
}

// qroot stands for a candidate's root while the predicate is lowered; the
// script puts each candidate's keys in its place.
const qroot = "\x00root"

// queryWords lowers the predicate for the script: its key words become '1'
// (the candidate's root) and '2'... (its collections, in schema order).
func (m *Model[T]) queryWords(s plan.Spec) ([]string, error) {
	w, err := s.Lower(prog.Target{Root: qroot, Model: m.schema})
	if err != nil {
		return nil, err
	}
	at := map[string]string{qroot: "1"}
	for j, c := range m.schema.Collections {
		at[keys.Field(qroot, c.Name)] = strconv.Itoa(j + 2)
	}
	for i := 0; i < len(w); i += 7 {
		k, ok := at[w[i]]
		if !ok {
			return nil, fmt.Errorf("%w: the predicate reads %q, no key of the model", errs.Invalid, w[i])
		}
		w[i] = k
	}
	return w, nil
}

// The bounds of a query's predicate (docs/queries.md, "Bad input"): every
// call of the query script carries the predicate and evaluates it on each
// candidate it does not know to hold it, so its size is the size of every
// request and of the work per candidate. Before, an In of 4096 values, or
// an Or of 1024 ranges, held a redis-server past its busy-script time
// (BUSY for every other client), and an In of 1000 values was a call of
// miniredis past go-redis's read timeout.
const (
	// maxQueryNodes is the most nodes (leaves and And, Or, Not) of a
	// query's predicate: an In of up to 255 values.
	maxQueryNodes = 256
	// maxQueryDepth is the deepest nesting of And, Or and Not.
	maxQueryDepth = 64
	// maxQueryBytes is the most bytes of the predicate's words, what each
	// call of the query script carries.
	maxQueryBytes = 1 << 20
)

// treeBounds refuses a predicate over maxQueryNodes or maxQueryDepth with
// ErrTooLarge, before anything is lowered or sent. It stops counting at
// the first bound passed, so a huge tree costs no more than the bound.
func treeBounds(t *plan.Node) error {
	if t == nil {
		return nil
	}
	type at struct {
		n     *plan.Node
		depth int
	}
	nodes, stack := 0, []at{{t, 1}}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if nodes++; nodes > maxQueryNodes {
			return fmt.Errorf("%w: the predicate has more than %d nodes (leaves and And, Or, Not; an In of n values is n+1): split the query", errs.TooLarge, maxQueryNodes)
		}
		if top.depth > maxQueryDepth {
			return fmt.Errorf("%w: the predicate nests And, Or and Not deeper than %d", errs.TooLarge, maxQueryDepth)
		}
		for _, k := range top.n.Kids {
			stack = append(stack, at{k, top.depth + 1})
		}
	}
	return nil
}

// wordBounds refuses a predicate whose words, as each call of the script
// carries them, pass maxQueryBytes, with ErrTooLarge.
func wordBounds(words []string) error {
	n := 0
	for _, w := range words {
		n += len(w)
	}
	if n > maxQueryBytes {
		return fmt.Errorf("%w: the predicate's values are %d bytes, over the %d a query carries in each call", errs.TooLarge, n, maxQueryBytes)
	}
	return nil
}
