// Package ixcheck is the oracle of the index tests: it holds the index
// keys of a model type to what a scan of its stored models gives.
package ixcheck

import (
	"context"
	"fmt"
	"iter"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// zero is the stored text of the zero value of each kind of index.
var zero = map[byte]string{'i': "0", 'f': "0", 's': "", 'b': "false", 't': "0001-01-01T00:00:00Z"}

// Oracle holds the index keys of every group of a model type to what
// the stored models give: for each model that exists, its entries (the
// server's enc of each stored value, then the id), its id in @ids and
// @back, and in @exp when it has a TTL; for none other, nothing. A model
// that expired (Redis ran no script) may linger until a purge: its
// entries must then be exactly those @back holds for it.
type Oracle struct {
	Client redis.UniversalClient
	prefix string
	groups int
	specs  []ix.Field
	unique string // the stored name of a Unique index, if any
	ids    func(context.Context) iter.Seq2[string, error]
}

// New is the Oracle of the model type S stored under prefix in groups slot
// groups (the model's Options.Groups after New: 16 by default, 1 with a
// Unique index) with the indexes specs; ids lists the type's ids
// (rapyer.Model.IDs).
func New[S any](c redis.UniversalClient, prefix string, groups int, specs []index.Spec, ids func(context.Context) iter.Seq2[string, error]) (Oracle, error) {
	sm, err := schema.For[S]()
	if err != nil {
		return Oracle{}, err
	}
	decls := make([]ix.Decl, len(specs))
	for i, s := range specs {
		decls[i], _ = ix.Unwrap(s)
	}
	fields, err := ix.Resolve(sm, decls)
	if err != nil {
		return Oracle{}, err
	}
	return Of(c, prefix, groups, fields, ids), nil
}

// Of is the Oracle of the indexes fields (as the library resolves them:
// the stored name, the kind, the use, the collection), for a test that
// names them itself; the rest as New.
func Of(c redis.UniversalClient, prefix string, groups int, fields []ix.Field, ids func(context.Context) iter.Seq2[string, error]) Oracle {
	o := Oracle{Client: c, prefix: prefix, groups: groups, specs: fields, ids: ids}
	for _, f := range fields {
		if f.Use == ix.UseUnique {
			o.unique = f.Name
		}
	}
	return o
}

// Base is the base of the keys of group g.
func (o Oracle) Base(g int) string { return fmt.Sprintf("%s:{%s#%d}", o.prefix, o.prefix, g) }

// Actual is what one group's index keys hold: key -> sorted members (zsets)
// or "field=value" (hashes).
func (o Oracle) Actual(t T, g int) map[string][]string {
	ctx := context.Background()
	c := o.Client
	base := o.Base(g)
	out := map[string][]string{}
	z := func(k string) {
		v, err := c.ZRange(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatalf("ixcheck: %s: %v", k, err)
		}
		if len(v) > 0 {
			out[k] = v
		}
	}
	h := func(k string) {
		m, err := c.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatalf("ixcheck: %s: %v", k, err)
		}
		var v []string
		for f := range m {
			v = append(v, f+"="+m[f])
		}
		if len(v) > 0 {
			sort.Strings(v)
			out[k] = v
		}
	}
	z(base + ":@ids")
	z(base + ":@exp")
	h(base + ":@back")
	for _, s := range o.specs {
		z(base + ":@i:" + s.Name)
	}
	if o.unique != "" {
		h(base + ":@u:" + o.unique)
	}
	return out
}

// values are the stored values index s holds for a model: its field
// of the root hash h (an absent field is indexed as its kind's zero,
// index.lua IX.ZERO, as predicates read it; with a pointer on its path,
// ix.Field.Null, it claims nothing of a Unique index), or its collection.
func values(s ix.Field, h map[string]string, colls map[string][]string) []string {
	if s.Coll != "" {
		return colls[s.Name]
	}
	if v, ok := h[s.Name]; ok {
		return []string{v}
	}
	return []string{zero[s.Kind]}
}

// MustNew is New that ends t on an error.
func MustNew[S any](t T, c redis.UniversalClient, prefix string, groups int, specs []index.Spec, ids func(context.Context) iter.Seq2[string, error]) Oracle {
	t.Helper()
	o, err := New[S](c, prefix, groups, specs, ids)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// T is what the oracle needs of a test: testing.TB and rapid.T have it.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}
