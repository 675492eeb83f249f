package reliability_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/script"
)

// ixField is one index of a model type as the oracle reads it: the stored
// name of its field, the kind IX.enc takes, the collection ("", "set",
// "list") and whether it is Unique.
type ixField struct {
	name   string
	kind   string
	coll   string
	unique bool
}

// ixOracle compares the index keys of every slot group of a model type
// with what the stored models give (internal/index describes the layout):
// for every model that exists, its id in @ids and @back, in @exp when its
// root has a TTL, and per index the server's encoding of each stored value
// followed by the id (and value -> id in @u for a Unique index); for a
// model that does not exist, nothing. The stored models are read raw (the
// root hash and the collections), the values encoded by the server's own
// IX.enc (the ixenc entry), so the oracle does not trust the library's
// reads. ids is every id the run may have written.
type ixOracle struct {
	c      redis.UniversalClient
	prefix string
	groups int
	fields []ixField
	ids    []string
}

// ixDefaultGroups is the number of slot groups of a type whose
// Options.Groups is 0.
const ixDefaultGroups = index.DefaultGroups

func (o ixOracle) base(g int) string { return index.Base(o.prefix, index.GroupTag(o.prefix, g)) }

// ixDiff is what one comparison found: entries that should be there, and
// stale and missing ones.
type ixDiff struct {
	entries        int
	stale, missing []string
}

func (d ixDiff) String() string {
	q := func(v []string) string {
		var out []string
		for _, s := range v {
			out = append(out, fmt.Sprintf("%q", s))
		}
		return strings.Join(out, ", ")
	}
	return fmt.Sprintf("%d entries; stale: [%s]; missing: [%s]", d.entries, q(d.stale), q(d.missing))
}

// check compares every group, counts the comparison in the figures and
// fails t on any stale or missing entry.
func (o ixOracle) check(t fataler, step string) ixDiff {
	t.Helper()
	d, err := o.compare(context.Background())
	if err != nil {
		t.Fatalf("%s: reading the index keys: %v", step, err)
	}
	figures.ixChecks.Add(1)
	figures.ixEntries.Add(int64(d.entries))
	figures.ixStale.Add(int64(len(d.stale)))
	figures.ixMissing.Add(int64(len(d.missing)))
	if len(d.stale)+len(d.missing) > 0 {
		t.Fatalf("%s: the index keys disagree with the stored models: %s", step, d)
	}
	return d
}

// compare reads every group's index keys and every model, in two
// pipelines and one ixenc call per kind.
func (o ixOracle) compare(ctx context.Context) (ixDiff, error) {
	got, err := o.actual(ctx)
	if err != nil {
		return ixDiff{}, err
	}
	want, err := o.expected(ctx)
	if err != nil {
		return ixDiff{}, err
	}
	var d ixDiff
	for _, k := range slices.Sorted(maps.Keys(want)) {
		d.entries += len(want[k])
		for m := range want[k] {
			if !got[k][m] {
				d.missing = append(d.missing, k+" "+m)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		for m := range got[k] {
			if !want[k][m] {
				d.stale = append(d.stale, k+" "+m)
			}
		}
	}
	slices.Sort(d.stale)
	slices.Sort(d.missing)
	return d, nil
}

// fataler is what check needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

type ixSet = map[string]map[string]bool

func ixAdd(s ixSet, k, m string) {
	if s[k] == nil {
		s[k] = map[string]bool{}
	}
	s[k][m] = true
}

// actual is what the groups' keys hold: key -> members (zsets), fields
// (@back) or "field=value" (@u).
func (o ixOracle) actual(ctx context.Context) (ixSet, error) {
	var cmds []redis.Cmder
	_, err := o.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for g := range o.groups {
			b := o.base(g)
			cmds = append(cmds, p.ZRange(ctx, index.IDs(b), 0, -1), p.ZRange(ctx, index.Exp(b), 0, -1), p.HKeys(ctx, index.Back(b)))
			for _, f := range o.fields {
				cmds = append(cmds, p.ZRange(ctx, index.Index(b, f.name), 0, -1))
				if f.unique {
					cmds = append(cmds, p.HGetAll(ctx, index.Unique(b, f.name)))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := ixSet{}
	for _, c := range cmds {
		k := c.Args()[1].(string)
		switch c := c.(type) {
		case *redis.StringSliceCmd:
			for _, m := range c.Val() {
				ixAdd(out, k, m)
			}
		case *redis.MapStringStringCmd:
			for f, v := range c.Val() {
				ixAdd(out, k, f+"="+v)
			}
		}
	}
	return out, nil
}

// ixZero is the stored text of the zero value of each kind (index.lua's
// IX.ZERO): an absent scalar field is indexed as it.
var ixZero = map[string]string{"i": "0", "f": "0", "s": "", "b": "false", "t": "0001-01-01T00:00:00Z"}

// ixModel is one stored model, read raw.
type ixModel struct {
	base, id string
	root     *redis.MapStringStringCmd
	ttl      *redis.DurationCmd
	colls    map[string]*redis.StringSliceCmd
}

// expected is what the stored models give.
func (o ixOracle) expected(ctx context.Context) (ixSet, error) {
	var ms []*ixModel
	_, err := o.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range o.ids {
			b := o.base(index.Group(id, o.groups))
			root := index.Root(b, id)
			m := &ixModel{base: b, id: id, root: p.HGetAll(ctx, root), ttl: p.PTTL(ctx, root), colls: map[string]*redis.StringSliceCmd{}}
			for _, f := range o.fields {
				switch f.coll {
				case "set":
					m.colls[f.name] = p.SMembers(ctx, root+":"+f.name)
				case "list":
					m.colls[f.name] = p.LRange(ctx, root+":"+f.name, 0, -1)
				}
			}
			ms = append(ms, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// every value to encode, by kind, and where its entries go
	type use struct{ key, id, ukey string }
	texts := map[string][]string{}
	uses := map[string][]use{}
	out := ixSet{}
	for _, m := range ms {
		h := m.root.Val()
		if h["__v"] == "" {
			continue
		}
		ixAdd(out, index.IDs(m.base), m.id)
		ixAdd(out, index.Back(m.base), m.id)
		if m.ttl.Val() > 0 {
			ixAdd(out, index.Exp(m.base), m.id)
		}
		for _, f := range o.fields {
			var vals []string
			if f.coll == "" {
				// an absent scalar counts as its zero, as predicates read it
				v, ok := h[f.name]
				if !ok {
					v = ixZero[f.kind]
				}
				vals = []string{v}
			} else {
				vals = m.colls[f.name].Val()
			}
			u := use{key: index.Index(m.base, f.name), id: m.id}
			if f.unique {
				u.ukey = index.Unique(m.base, f.name)
			}
			for _, v := range vals {
				texts[f.kind] = append(texts[f.kind], v)
				uses[f.kind] = append(uses[f.kind], u)
			}
		}
	}
	for kind, vs := range texts {
		encs, err := o.enc(ctx, kind, vs)
		if err != nil {
			return nil, err
		}
		for i, e := range encs {
			if e == "" {
				return nil, fmt.Errorf("%q of kind %s has no encoding", vs[i], kind)
			}
			u := uses[kind][i]
			ixAdd(out, u.key, e+u.id)
			if u.ukey != "" {
				ixAdd(out, u.ukey, e+"="+u.id)
			}
		}
	}
	return out, nil
}

// enc is the server's encoding of texts of kind (the ixenc entry).
func (o ixOracle) enc(ctx context.Context, kind string, texts []string) ([]string, error) {
	args := []any{kind}
	for _, s := range texts {
		args = append(args, s)
	}
	raw, err := lua.IxEnc.Run(ctx, o.c, script.Command([]string{o.prefix}, args...)).Slice()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(raw))
	for i, x := range raw {
		out[i], _ = x.(string)
	}
	return out, nil
}
