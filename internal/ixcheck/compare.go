package ixcheck

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/script"
)

// Diff is what Compare found: Entries, how many entries the stored models
// give (the index keys' members; those of lingering models left out),
// and Stale, the ones the keys hold that no model gives, and Missing,
// the ones a model gives that the keys lack, each "key member", sorted.
type Diff struct {
	Entries        int
	Stale, Missing []string
}

// OK reports whether the keys hold what the models give.
func (d Diff) OK() bool { return len(d.Stale)+len(d.Missing) == 0 }

func (d Diff) String() string {
	q := func(v []string) string {
		var out []string
		for _, s := range v {
			out = append(out, fmt.Sprintf("%q", s))
		}
		return strings.Join(out, ", ")
	}
	return fmt.Sprintf("%d entries; stale: [%s]; missing: [%s]", d.Entries, q(d.Stale), q(d.Missing))
}

// Check compares every group with the stored models and ends t on a
// difference or a failed read.
func (o Oracle) Check(t T, step string) {
	t.Helper()
	d, err := o.Compare(context.Background())
	if err != nil {
		t.Fatalf("%s: ixcheck: %v", step, err)
	}
	if !d.OK() {
		t.Fatalf("%s: the index keys disagree with the stored models: %s", step, d)
	}
}

// set is key -> members (zsets), or "field=value" (hashes).
type set = map[string]map[string]bool

func add(s set, k, m string) {
	if s[k] == nil {
		s[k] = map[string]bool{}
	}
	s[k][m] = true
}

// Compare reads every group's index keys and every model (in pipelines,
// each model by one script: at one instant) and encodes the stored values
// by the server's own IX.enc (one ixenc call per kind), and returns what
// differs. The models are those @back names and those ids lists.
func (o Oracle) Compare(ctx context.Context) (Diff, error) {
	got, backs, err := o.actualAll(ctx)
	if err != nil {
		return Diff{}, err
	}
	// models that exist but that @back lacks are missing entries: find
	// them by listing the type's roots
	ids := make([][]string, o.groups)
	for g := range o.groups {
		ids[g] = slices.Sorted(maps.Keys(backs[g]))
	}
	for id, err := range o.ids(ctx) {
		if err != nil {
			return Diff{}, err
		}
		g := ix.Group(id, o.groups)
		if _, ok := backs[g][id]; !ok {
			ids[g] = append(ids[g], id)
		}
	}
	want, lingering, err := o.expected(ctx, ids, backs)
	if err != nil {
		return Diff{}, err
	}
	for g, ids := range lingering {
		dropLingering(got, o.Base(g)+":", ids)
		dropLingering(want, o.Base(g)+":", ids)
	}
	var d Diff
	for _, k := range slices.Sorted(maps.Keys(want)) {
		d.Entries += len(want[k])
		for m := range want[k] {
			if !got[k][m] {
				d.Missing = append(d.Missing, k+" "+m)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		for m := range got[k] {
			if !want[k][m] {
				d.Stale = append(d.Stale, k+" "+m)
			}
		}
	}
	slices.Sort(d.Stale)
	slices.Sort(d.Missing)
	return d, nil
}

// actualAll is what every group's keys hold, and each group's @back.
func (o Oracle) actualAll(ctx context.Context) (set, []map[string]string, error) {
	var cmds []redis.Cmder
	backs := make([]*redis.MapStringStringCmd, o.groups)
	_, err := o.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for g := range o.groups {
			base := o.Base(g)
			backs[g] = p.HGetAll(ctx, base+":@back")
			cmds = append(cmds, p.ZRange(ctx, base+":@ids", 0, -1), p.ZRange(ctx, base+":@exp", 0, -1), backs[g])
			for _, s := range o.specs {
				cmds = append(cmds, p.ZRange(ctx, base+":@i:"+s.Name, 0, -1))
			}
			if o.unique != "" {
				cmds = append(cmds, p.HGetAll(ctx, base+":@u:"+o.unique))
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	out := set{}
	for _, c := range cmds {
		k := c.Args()[1].(string)
		switch c := c.(type) {
		case *redis.StringSliceCmd:
			for _, m := range c.Val() {
				add(out, k, m)
			}
		case *redis.MapStringStringCmd:
			for f, v := range c.Val() {
				add(out, k, f+"="+v)
			}
		}
	}
	bs := make([]map[string]string, o.groups)
	for g, c := range backs {
		bs[g] = c.Val()
	}
	return out, bs, nil
}

// model is one stored model, read at one instant.
type model struct {
	g       int
	id      string
	h       map[string]string
	ttl     time.Duration
	colls   map[string][]string
	snapped *redis.Cmd
}

// expected is what the models ids (by group) give, and by group the
// models that expired but linger (@back flags their TTL, 'T'): their
// entries are set aside.
func (o Oracle) expected(ctx context.Context, ids [][]string, backs []map[string]string) (set, map[int][]string, error) {
	ms, err := o.snapshots(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	type use struct{ key, id, ukey string }
	texts := map[byte][]string{}
	uses := map[byte][]use{}
	want := set{}
	lingering := map[int][]string{}
	for _, m := range ms {
		base, back := o.Base(m.g), backs[m.g][m.id]
		if m.h["__v"] == "" {
			if strings.HasPrefix(back, "T") {
				lingering[m.g] = append(lingering[m.g], m.id)
			}
			continue
		}
		add(want, base+":@ids", m.id)
		// A model with a TTL must have its deadline in @exp (else its
		// entries would outlive it). A model without one may keep a
		// stale deadline that @back flags ('T'): the next purge of its
		// group finds it alive and drops the deadline (IX.purge); the
		// tests met it once in a few hundred runs and it changes no
		// query answer.
		if m.ttl > 0 || strings.HasPrefix(back, "T") {
			add(want, base+":@exp", m.id)
		}
		for _, s := range o.specs {
			u := use{key: base + ":@i:" + s.Name, id: m.id}
			if present(s, m.h) && s.Name == o.unique {
				u.ukey = base + ":@u:" + s.Name
			}
			for _, v := range values(s, m.h, m.colls) {
				texts[s.Kind] = append(texts[s.Kind], v)
				uses[s.Kind] = append(uses[s.Kind], u)
			}
		}
		add(want, base+":@back", m.id+"="+back)
	}
	for kind, vs := range texts {
		encs, err := o.enc(ctx, string(kind), vs)
		if err != nil {
			return nil, nil, err
		}
		for i, e := range encs {
			if e == "" {
				return nil, nil, fmt.Errorf("%q of kind %c has no encoding", vs[i], kind)
			}
			u := uses[kind][i]
			add(want, u.key, e+u.id)
			if u.ukey != "" {
				add(want, u.ukey, e+"="+u.id)
			}
		}
	}
	return want, lingering, nil
}

// snapshots reads the models ids (by group), each by snapshotScript: its
// root hash, its TTL and its indexed collections at one instant (in
// MULTI/EXEC, before Redis 7, a key may expire between two commands). A
// read that fails (a loaded machine's timeout) is tried again.
func (o Oracle) snapshots(ctx context.Context, ids [][]string) ([]*model, error) {
	var err error
	for range 5 {
		var ms []*model
		_, err = o.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for g := range ids {
				for _, id := range ids[g] {
					root := o.Base(g) + ":{" + id + "}"
					ks, types := []string{root}, []any{}
					for _, s := range o.specs {
						if s.Coll != "" {
							ks, types = append(ks, root+":"+s.Name), append(types, s.Coll)
						}
					}
					ms = append(ms, &model{g: g, id: id, snapped: p.Eval(ctx, snapshotSrc, ks, types...)})
				}
			}
			return nil
		})
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for _, m := range ms {
			raw, err := m.snapped.Slice()
			if err != nil {
				return nil, err
			}
			m.h = map[string]string{}
			pairs, _ := raw[0].([]any)
			for i := 0; i+1 < len(pairs); i += 2 {
				m.h[pairs[i].(string)] = pairs[i+1].(string)
			}
			ttl, _ := raw[1].(int64)
			m.ttl = time.Duration(ttl) * time.Millisecond
			m.colls = map[string][]string{}
			i := 2
			for _, s := range o.specs {
				if s.Coll != "" {
					for _, v := range raw[i].([]any) {
						m.colls[s.Name] = append(m.colls[s.Name], v.(string))
					}
					i++
				}
			}
		}
		return ms, nil
	}
	return nil, fmt.Errorf("reading the models: %w", err)
}

// snapshotSrc reads a model in one script, where no key expires: its root
// hash, its PTTL, then each collection (KEYS[2..], of the types ARGV).
const snapshotSrc = `
local out = {redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1])}
for i = 2, #KEYS do
  if ARGV[i - 1] == 'set' then out[i + 1] = redis.call('SMEMBERS', KEYS[i])
  else out[i + 1] = redis.call('LRANGE', KEYS[i], 0, -1) end
end
return out`

// dropLingering takes the entries of the models ids, which expired, out
// of the keys of s under base.
func dropLingering(s set, base string, ids []string) {
	for k, ms := range s {
		if !strings.HasPrefix(k, base) {
			continue
		}
		for v := range ms {
			for _, id := range ids {
				if strings.HasSuffix(v, id) || strings.HasPrefix(v, id+"=") || strings.HasSuffix(v, "="+id) {
					delete(ms, v)
				}
			}
		}
		if len(ms) == 0 {
			delete(s, k)
		}
	}
}

// enc is the server's encoding of texts of kind (the ixenc entry).
func (o Oracle) enc(ctx context.Context, kind string, texts []string) ([]string, error) {
	args := []any{kind}
	for _, s := range texts {
		args = append(args, s)
	}
	raw, err := lua.IxEnc.Run(ctx, o.Client, script.Command([]string{o.prefix}, args...)).Slice()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(raw))
	for i, x := range raw {
		out[i], _ = x.(string)
	}
	return out, nil
}

// present reports whether the field of index s is present in the root
// hash h: an absent one (not stored, a pointer on its path, not under a
// *struct whose marker is set) claims nothing of a Unique index.
func present(s ix.Field, h map[string]string) bool {
	_, stored := h[s.Name]
	_, marked := h[s.Marker]
	return stored || !s.Null || (s.Marker != "" && marked)
}
