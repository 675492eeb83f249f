package rapyer_test

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
)

// s18Txt is a text-marshalled type whose zero marshals to "none" (not
// ""), and whose value "empty" marshals to "".
type s18Txt struct{ s string }

// MarshalText writes the zero as "none" and "empty" as "".
func (k s18Txt) MarshalText() ([]byte, error) {
	switch k.s {
	case "":
		return []byte("none"), nil
	case "empty":
		return nil, nil
	}
	return []byte(k.s), nil
}

// UnmarshalText reads what MarshalText writes.
func (k *s18Txt) UnmarshalText(b []byte) error {
	switch string(b) {
	case "none":
		k.s = ""
	case "":
		k.s = "empty"
	default:
		k.s = string(b)
	}
	return nil
}

type s18Inner struct{ X s18Txt }

// s18Doc has a text field under a pointer: a nil In leaves it absent.
type s18Doc struct {
	In *s18Inner
	N  int
}

var (
	s18X = lens.Of(func(p *s18Doc) *s18Txt {
		if p.In == nil {
			p.In = &s18Inner{}
		}
		return &p.In.X
	})
	s18N = lens.Of(func(p *s18Doc) *int { return &p.N })
)

func s18Docs(t *testing.T, b *testenv.Backend, groups int) *rapyer.Model[s18Doc] {
	t.Helper()
	m, err := rapyer.New[s18Doc](b.Client, rapyer.Options{Prefix: b.Prefix + "s18doc", Groups: groups,
		Indexes: []index.Spec{index.On(s18X), index.On(s18N)}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCountOfATextWhoseZeroIsNotEmptyAgreesWithFind: an absent field of a
// text-marshalled type whose zero does not marshal to "" is indexed as ""
// (docs/queries.md, "Absent fields"), while a predicate reads it as the
// zero's text. Count of an equality (or an In) on such a field counts
// what Find returns. Before, Count answered from the index alone and
// counted the model with the absent field under "" (1 where Find found
// none; 2 where Find found one).
func TestCountOfATextWhoseZeroIsNotEmptyAgreesWithFind(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := s18Docs(t, b, 2)
		for id, p := range map[string]s18Doc{"a": {N: 1}, "b": {In: &s18Inner{}, N: 2}, "c": {In: &s18Inner{X: s18Txt{"x"}}, N: 3}} {
			if err := m.Save(ctx, id, p); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []is.Pred[s18Doc]{is.Equal(s18X, s18Txt{"empty"}), is.Equal(s18X, s18Txt{"x"}),
			is.In(s18X, s18Txt{"empty"}, s18Txt{"x"})} {
			for _, q := range []query.Query[s18Doc]{query.Where(p), query.Where(p).OrderBy(s18X)} {
				ids := findIDs(t, m, q)
				want := 0
				for _, id := range []string{"a", "b", "c"} {
					v, err := m.Get(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if p.Holds(v) {
						want++
					}
				}
				n, err := m.Count(ctx, q)
				if err != nil || n != len(ids) || n != want {
					t.Errorf("%s: Count %d, %v; Find %v; the predicate holds for %d", q, n, err, ids, want)
				}
			}
		}
		if ids := findIDs(t, m, query.Where(is.Equal(s18X, s18Txt{"x"}))); !slices.Equal(ids, []string{"c"}) {
			t.Errorf("Equal x: %v", ids)
		}
	})
}

// TestPagingByATextWhoseZeroIsNotEmptyGivesEveryModelOnce: an ordered
// query whose condition is on another field reads its candidates' order
// values itself (few candidates) or walks the order index (many), group by
// group and call by call. Both must place a model whose text field is
// absent where the index does (under ""), or a paging that changes from one
// to the other between pages skips it. Before, the gather placed it under
// the zero's text ("none"): the first page (a gather) gave b, the second
// (a walk, after 40 models were added) resumed after "none".."b" and never
// gave z, which no write changed.
func TestPagingByATextWhoseZeroIsNotEmptyGivesEveryModelOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := s18Docs(t, b, 1)
		save := func(id string, d s18Doc) {
			if err := m.Save(ctx, id, d); err != nil {
				t.Fatal(err)
			}
		}
		save("b", s18Doc{In: &s18Inner{}, N: 1})
		save("z", s18Doc{N: 1})
		for i := range 30 {
			save("o"+strconv.Itoa(i), s18Doc{In: &s18Inner{X: s18Txt{"y"}}, N: -1})
		}
		q := query.Where(is.AtLeast(s18N, 0)).OrderBy(s18X).Limit(1)
		seen := map[string]int{}
		p, err := m.Page(ctx, q, "")
		for i := 0; err == nil; i++ {
			for _, e := range p.Items {
				seen[e.ID]++
			}
			if i == 0 {
				for j := range 40 {
					save("n"+strconv.Itoa(j), s18Doc{In: &s18Inner{X: s18Txt{"x"}}, N: 1})
				}
			}
			if p.Next == "" {
				break
			}
			p, err = m.Page(ctx, q, p.Next)
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen["b"] != 1 || seen["z"] != 1 || len(seen) != 42 {
			t.Errorf("b %d times, z %d times, %d models; want each once, 42", seen["b"], seen["z"], len(seen))
		}
	})
}
