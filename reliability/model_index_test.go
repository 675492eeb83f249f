package reliability_test

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// docIndexes is how the indexed runs of the model-based test declare
// indexes on Doc: On(N), Members(Set), Members(L), and on S either
// Prefix (4 slot groups) or Unique (1 group, and the model refuses a
// second Doc with one S: ErrDuplicate).
type docIndexes struct {
	unique bool
	groups int
}

func (x *docIndexes) specs() []index.Spec {
	s := index.Prefix(dS)
	if x.unique {
		s = index.Unique(dS)
	}
	return []index.Spec{index.On(dN), s, index.Members(dSet), index.Members(dL)}
}

func (x *docIndexes) fields() []ixField {
	return []ixField{{name: "n", kind: "i"}, {name: "s", kind: "s", unique: x.unique}, {name: "set", kind: "s", coll: "set"},
		{name: "l", kind: "s", coll: "list"}}
}

// duplicate reports whether a Unique S of sv on model id is taken by
// another stored model.
func (s *machine) duplicate(id, sv string) bool {
	if s.ix == nil || !s.ix.unique {
		return false
	}
	for other, r := range s.refs {
		if other != id && r.exists && r.doc.S == sv {
			return true
		}
	}
	return false
}

// dq is a query on Doc with what a scan needs to answer it: the predicate,
// the order and the limit.
type dq struct {
	q        query.Query[Doc]
	p        is.Pred[Doc]
	by       string // "", "n", "s"
	desc     bool
	limit    int
	drivable bool // an index serves the predicate
	all      bool // every model: p is unset
}

var docWords = []string{"a", "b", "c", "dd", "ab", "x"}

func docLeaf(r *rand.Rand) is.Pred[Doc] {
	w := func() string { return docWords[r.IntN(len(docWords))] }
	v := func() int { return r.IntN(16) - 6 }
	switch r.IntN(11) {
	case 0:
		return is.Equal(dN, v())
	case 1:
		return is.Below(dN, v())
	case 2:
		return is.AtMost(dN, v())
	case 3:
		return is.Above(dN, v())
	case 4:
		return is.AtLeast(dN, v())
	case 5:
		return is.In(dN, v(), v(), v())
	case 6:
		return is.Equal(dS, w())
	case 7:
		return is.In(dS, w(), w())
	case 8:
		return is.HasPrefix(dS, []string{"", "a", "d", "dd", "b"}[r.IntN(5)])
	case 9:
		return is.Member(dSet, w())
	}
	return is.Element(dL, w())
}

// genQuery draws a query of one of several shapes: a leaf, And, Or, And
// with a Not, Or of an And, Not alone, every model; an order by N or S,
// either way, or none; a limit or none.
func genQuery(r *rand.Rand) dq {
	x := dq{drivable: true}
	switch r.IntN(7) {
	case 0, 1:
		x.p = docLeaf(r)
	case 2:
		x.p = is.And(docLeaf(r), docLeaf(r))
	case 3:
		x.p = is.Or(docLeaf(r), docLeaf(r))
	case 4:
		x.p = is.And(docLeaf(r), is.Not(docLeaf(r)))
	case 5:
		x.p = is.Or(is.And(docLeaf(r), docLeaf(r)), docLeaf(r))
	default:
		x.p, x.drivable = is.Not(docLeaf(r)), false
	}
	if x.all = r.IntN(8) == 7; x.all {
		x.q, x.drivable = query.All[Doc](), true
	} else {
		x.q = query.Where(x.p)
	}
	switch r.IntN(5) {
	case 1:
		x.q, x.by = x.q.OrderBy(dN), "n"
	case 2:
		x.q, x.by, x.desc = x.q.OrderBy(dN).Desc(), "n", true
	case 3:
		x.q, x.by = x.q.OrderBy(dS), "s"
	case 4:
		x.q, x.by, x.desc = x.q.OrderBy(dS).Desc(), "s", true
	}
	if r.IntN(3) == 0 {
		x.limit = 1 + r.IntN(3)
		x.q = x.q.Limit(x.limit)
	}
	return x
}

// holds is the predicate on a stored Doc; the zero predicate (every
// model) holds for all.
func (x dq) holds(d Doc) bool {
	return x.all || x.p.Holds(d)
}

// want is what a scan of the in-memory models gives for x: every match,
// in x's order (ties by id), else by id; the limit aside.
func (s *machine) want(x dq) []string {
	var ids []string
	for _, id := range s.ids {
		if r := s.refs[id]; r.exists && x.holds(r.doc) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		c := 0
		switch x.by {
		case "n":
			c = cmp.Compare(s.refs[a].doc.N, s.refs[b].doc.N)
		case "s":
			c = cmp.Compare(s.refs[a].doc.S, s.refs[b].doc.S)
		}
		if c == 0 {
			c = cmp.Compare(a, b)
		}
		if x.desc {
			return -c
		}
		return c
	})
	return ids
}

// checkQueries runs a few drawn queries and compares every answer (FindIDs,
// Find, Page after Page, Count) with a scan of the in-memory models, which
// check has just found equal to the stored ones.
func (s *machine) checkQueries(t *rapid.T) {
	r := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "queries"), 7))
	for range 3 {
		x := genQuery(r)
		if !x.drivable {
			// No index serves it: refused, naming the field; with Scan it
			// reads every model.
			if _, err := s.m.Count(s.ctx, x.q); !errors.Is(err, rapyer.ErrNotIndexed) {
				t.Fatalf("%s: Count without Scan: %v, want ErrNotIndexed", x.q, err)
			}
			x.q = x.q.Scan()
		}
		s.compareQuery(t, x)
	}
}

func (s *machine) compareQuery(t *rapid.T, x dq) {
	all := s.want(x)
	want := all
	if x.limit > 0 && len(want) > x.limit {
		want = want[:x.limit]
	}
	var got []string
	for id, err := range s.m.FindIDs(s.ctx, x.q) {
		if err != nil {
			t.Fatalf("%s: FindIDs: %v", x.q, err)
		}
		got = append(got, id)
	}
	s.sameIDs(t, x, "FindIDs", got, want, all)
	var docs []string
	for d, err := range s.m.Find(s.ctx, x.q) {
		if err != nil {
			t.Fatalf("%s: Find: %v", x.q, err)
		}
		docs = append(docs, fmt.Sprint(d))
	}
	var wantDocs []string
	for _, id := range got {
		wantDocs = append(wantDocs, fmt.Sprint(s.refs[id].doc))
	}
	if x.by == "" {
		slices.Sort(docs)
		slices.Sort(wantDocs)
	}
	if !slices.Equal(docs, wantDocs) {
		t.Fatalf("%s: Find gave %q, want %q", x.q, docs, wantDocs)
	}
	n, err := s.m.Count(s.ctx, x.q)
	if err != nil || n != len(all) {
		t.Fatalf("%s: Count %d, %v; a scan gives %d", x.q, n, err, len(all))
	}
	size := 1 + len(all)%2
	var paged []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := s.m.Page(s.ctx, x.q.Limit(size), cursor)
		if err != nil || pages > len(all)+1 {
			t.Fatalf("%s: page %d of %d: %v (%d pages)", x.q, pages, size, err, pages)
		}
		for _, e := range p.Items {
			paged = append(paged, e.ID)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	s.sameIDs(t, x, "pages", paged, all, all)
	figures.queries.Add(1)
	figures.queryAnswers.Add(4)
}

// sameIDs compares an answer with a scan's: in order for an ordered query;
// otherwise as a set, with no repeats, and with a limit as that many of
// the matches.
func (s *machine) sameIDs(t *rapid.T, x dq, what string, got, want, all []string) {
	if x.by != "" {
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %s %q, a scan gives %q", x.q, what, got, want)
		}
		return
	}
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if len(slices.Compact(slices.Clone(sorted))) != len(got) || len(got) != len(want) {
		t.Fatalf("%s: %s %q, a scan gives %q", x.q, what, got, want)
	}
	for _, id := range got {
		if !slices.Contains(all, id) {
			t.Fatalf("%s: %s %q, a scan gives %q", x.q, what, got, all)
		}
	}
}

// deleteWhere deletes by a drawn query that an index serves.
func (s *machine) deleteWhere(t *rapid.T) {
	r := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "query"), 9))
	x := genQuery(r)
	for !x.drivable {
		x = genQuery(r)
	}
	want := s.want(x)
	if x.limit > 0 && len(want) > x.limit {
		want = want[:x.limit]
	}
	n, err := s.m.DeleteWhere(s.ctx, x.q)
	if err != nil {
		t.Fatalf("DeleteWhere(%s): %v", x.q, err)
	}
	if x.by != "" || len(want) == len(s.want(x)) {
		if n != len(want) {
			t.Fatalf("DeleteWhere(%s) deleted %d, a scan gives %q", x.q, n, want)
		}
		for _, id := range want {
			*s.refs[id] = ref{}
		}
	} else {
		// a limit below the matches, in the index's order: find which
		if n != len(want) {
			t.Fatalf("DeleteWhere(%s) deleted %d, want %d", x.q, n, len(want))
		}
		for _, id := range s.want(x) {
			if _, err := s.m.Get(s.ctx, id); errors.Is(err, rapyer.ErrNotFound) {
				*s.refs[id] = ref{}
			}
		}
	}
	s.check(t)
}

var modelIxRun atomic.Int64

// TestReliabilityModelIndexed is TestReliabilityModel on a Doc with
// indexes (docIndexes, Prefix or Unique on S, drawn per sequence), three
// ids, and deletes by query as well: after every step, on every backend,
// every slot group's index keys must equal what the stored models give
// (ixOracle), and drawn queries (equality, ranges, In, prefixes,
// membership, And, Or, Not with a scan, every model; ordered either way or
// not; limited or not) must answer, through FindIDs, Find, Page after Page
// and Count, what a scan of the in-memory model gives. A second model
// with a taken Unique value must be refused with ErrDuplicate by every
// write that would give it one.
func TestReliabilityModelIndexed(t *testing.T) {
	setRapidFlags(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		if b.Kind == testenv.Mini {
			// The embedded server's Lua is slow under -race: fewer
			// sequences there.
			defer capRapidChecks(10)()
		}
		rt := testenv.CountRoundTrips(b.Client)
		rapid.Check(t, func(rt2 *rapid.T) {
			figures.sequences.Add(1)
			ctx := context.Background()
			prefix := b.Prefix + "mi" + strconv.FormatInt(modelIxRun.Add(1), 10)
			x := &docIndexes{unique: rapid.Bool().Draw(rt2, "unique"), groups: 4}
			if x.unique {
				x.groups = 1
			}
			m := rapyer.MustNew[Doc](b.Client, rapyer.Options{Prefix: prefix, Indexes: x.specs(), Groups: x.groups})
			s := &machine{ctx: ctx, b: b, rt: rt, refs: map[string]*ref{}, ids: []string{"x", "y", "z"}, m: m, ix: x,
				oracle: ixOracle{c: b.Client, prefix: prefix, groups: x.groups, fields: x.fields(), ids: []string{"x", "y", "z"}}}
			s.run(rt2, map[string]func(*rapid.T){
				"deleteWhere": s.deleteWhere,
				"":            func(*rapid.T) {}, // every action checks already
			})
		})
	})
}

// TestReliabilityIndexReadyFromFirstWrite: a model type declared with its
// indexes from the start answers queries after its first write, without
// Model.Reindex: the group's first write marks its indexes ready (found
// missing in session 5, fixed by s5-d/s5-e in 785e3e8).
func TestReliabilityIndexReadyFromFirstWrite(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		x := &docIndexes{groups: 2}
		m := rapyer.MustNew[Doc](b.Client, rapyer.Options{Prefix: b.Prefix + "ready", Indexes: x.specs(), Groups: x.groups})
		if err := m.Save(ctx, "x", Doc{N: 1, S: "a"}); err != nil {
			t.Fatal(err)
		}
		n, err := m.Count(ctx, query.Where(is.Equal(dN, 1)))
		if err != nil || n != 1 {
			t.Fatalf("Count(N = 1) after the first Save: %d, %v; want 1", n, err)
		}
	})
}

// capRapidChecks lowers -rapid.checks to at most n until the returned
// function restores it.
func capRapidChecks(n int) func() {
	f := flag.Lookup("rapid.checks")
	was := f.Value.String()
	if cur, err := strconv.Atoi(was); err == nil && cur > n {
		_ = f.Value.Set(strconv.Itoa(n))
	}
	return func() { _ = f.Value.Set(was) }
}
