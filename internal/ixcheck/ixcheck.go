// Package ixcheck is the oracle of the index tests: it holds the index
// keys of a model type to what a scan of its stored models gives.
package ixcheck

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/script"
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
	o := Oracle{Client: c, prefix: prefix, groups: groups, specs: fields, ids: ids}
	for _, f := range fields {
		if f.Use == ix.UseUnique {
			o.unique = f.Name
		}
	}
	return o, nil
}

// Base is the base of the keys of group g.
func (o Oracle) Base(g int) string { return fmt.Sprintf("%s:{%s#%d}", o.prefix, o.prefix, g) }

// enc is the server's encoding of texts of kind.
func (o Oracle) enc(t T, kind string, texts []string) []string {
	t.Helper()
	if len(texts) == 0 {
		return nil
	}
	args := []any{kind}
	for _, s := range texts {
		args = append(args, s)
	}
	raw, err := lua.IxEnc.Run(context.Background(), o.Client, script.Command([]string{o.prefix}, args...)).Slice()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(raw))
	for i, x := range raw {
		out[i], _ = x.(string)
	}
	return out
}

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

// Check compares every group with the stored models.
func (o Oracle) Check(t T, step string) {
	t.Helper()
	ctx := context.Background()
	c := o.Client
	for g := range o.groups {
		base := o.Base(g)
		got := o.Actual(t, g)
		want := map[string][]string{}
		backs, err := c.HGetAll(ctx, base+":@back").Result()
		if err != nil {
			t.Fatalf("ixcheck: %s: %v", base, err)
		}
		ids := slices.Sorted(maps.Keys(backs))
		// models that exist but that @back lacks are missing entries:
		// find them by listing the type's roots
		for id, err := range o.ids(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := backs[id]; !ok && ix.Group(id, o.groups) == g {
				ids = append(ids, id)
			}
		}
		lingering := map[string]bool{}
		for _, id := range ids {
			if !o.expect(t, step, base, id, backs[id], want) && strings.HasPrefix(backs[id], "T") {
				lingering[id] = true // expired: its entries are set aside
			}
		}
		o.dropLingering(got, lingering)
		o.dropLingering(want, lingering)
		for k := range want {
			want[k] = dedupSorted(want[k])
		}
		for k := range got {
			got[k] = dedupSorted(got[k])
		}
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("%s: group %d: the index keys disagree with the stored models:\n got %q\nwant %q", step, g, got, want)
		}
	}
}

// expect adds to want what the model id of the group at base gives, and
// reports whether it exists.
func (o Oracle) expect(t T, step, base, id, back string, want map[string][]string) bool {
	t.Helper()
	root := base + ":{" + id + "}"
	h, ttl, colls := o.snapshot(t, context.Background(), root)
	if h["__v"] == "" {
		return false
	}
	add := func(k, v string) { want[k] = append(want[k], v) }
	add(base+":@ids", id)
	// A model with a TTL must have its deadline in @exp (else its entries
	// would outlive it). A model without one may keep a stale deadline that
	// @back flags ('T'): the next purge of its group finds it alive and
	// drops the deadline (IX.purge); the tests met it once in a few hundred
	// runs and it changes no query answer.
	if ttl > 0 || strings.HasPrefix(back, "T") {
		add(base+":@exp", id)
	}
	for _, s := range o.specs {
		vals := values(s, h, colls)
		for i, e := range o.enc(t, string(s.Kind), vals) {
			if e == "" {
				t.Fatalf("%s: %s holds %q, which has no encoding", step, s.Name, vals[i])
			}
			add(base+":@i:"+s.Name, e+id)
			if s.Name == o.unique {
				add(base+":@u:"+s.Name, e+"="+id)
			}
		}
	}
	add(base+":@back", id+"="+back)
	return true
}

// values are the stored values index s holds for a model: its field
// of the root hash h (an absent field is indexed as its kind's zero,
// index.lua IX.ZERO, as predicates read it), or its collection.
func values(s ix.Field, h map[string]string, colls map[string][]string) []string {
	if s.Coll != "" {
		return colls[s.Name]
	}
	if v, ok := h[s.Name]; ok {
		return []string{v}
	}
	return []string{zero[s.Kind]}
}

// dropLingering takes the entries of models that expired out of got,
// (from want and got alike).
func (o Oracle) dropLingering(got map[string][]string, lingering map[string]bool) {
	for k, vs := range got {
		got[k] = slices.DeleteFunc(vs, func(v string) bool {
			for id := range lingering {
				if strings.HasSuffix(v, id) || strings.HasPrefix(v, id+"=") || strings.HasSuffix(v, "="+id) {
					return true
				}
			}
			return false
		})
		if len(got[k]) == 0 {
			delete(got, k)
		}
	}
}

func dedupSorted(v []string) []string {
	v = slices.Clone(v)
	sort.Strings(v)
	return slices.Compact(v)
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

// snapshotScript reads a model in one script, where no key expires (in
// MULTI/EXEC, before Redis 7, one may between two commands): its root
// hash, its PTTL, then each collection (KEYS[2..], of the types ARGV).
var snapshotScript = redis.NewScript(`
local out = {redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1])}
for i = 2, #KEYS do
  if ARGV[i - 1] == 'set' then out[i + 1] = redis.call('SMEMBERS', KEYS[i])
  else out[i + 1] = redis.call('LRANGE', KEYS[i], 0, -1) end
end
return out`)

// snapshot reads the model at root at one instant: its root hash, its
// TTL, and its indexed collections. A read that fails (a loaded machine's
// timeout) is tried again, then ends t.
func (o Oracle) snapshot(t T, ctx context.Context, root string) (map[string]string, time.Duration, map[string][]string) {
	t.Helper()
	ks, types, names := []string{root}, []any{}, []string{}
	for _, s := range o.specs {
		if s.Coll != "" {
			ks, types, names = append(ks, root+":"+s.Name), append(types, s.Coll), append(names, s.Name)
		}
	}
	var err error
	for range 5 {
		var raw []any
		raw, err = snapshotScript.Run(ctx, o.Client, ks, types...).Slice()
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		h := map[string]string{}
		pairs, _ := raw[0].([]any)
		for i := 0; i+1 < len(pairs); i += 2 {
			h[pairs[i].(string)] = pairs[i+1].(string)
		}
		ttl, _ := raw[1].(int64)
		out := map[string][]string{}
		for i, n := range names {
			for _, v := range raw[i+2].([]any) {
				out[n] = append(out[n], v.(string))
			}
		}
		return h, time.Duration(ttl) * time.Millisecond, out
	}
	t.Fatalf("ixcheck: reading %s: %v", root, err)
	return nil, 0, nil
}

// T is what the oracle needs of a test: testing.TB and rapid.T have it.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}
