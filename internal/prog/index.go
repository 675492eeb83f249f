package prog

import "github.com/rapyer-go/rapyer/internal/index"

// The indexes of issue #14: a model of an indexed type (Target.Index) gets
// an ix instruction right after its declaration. The interpreter's check
// phase refuses a value no index may take (too long, NaN) and a duplicate
// of a Unique index before the first write; after the writes, IX.sync
// (internal/lua/index.lua) brings the model's index entries, its place in
// the group's listing and its deadline in step with what is stored.

// Index declares the indexes of the model at root, of id, in the group
// whose listing, back and deadline keys are ids, back and exp; fields are
// six words per index (index.Target.Words): name, kind, use, collection
// kind, the index's zset key and its aux key.
func (b *Builder) Index(root, id, ids, back, exp string, fields ...string) {
	b.emit(opIndex, fields, root, id, ids, back, exp)
}

// declareIndex emits the ix instruction of the model t, owned by no op:
// an error of it (a duplicate) names the model's indexes.
func (b *Builder) declareIndex(t Target) {
	owner, desc := b.owner, b.desc
	b.Owner(nil, "the indexes of "+t.Root)
	x := t.Index
	b.Index(t.Root, x.ID, index.IDs(x.Base), index.Back(x.Base), index.Exp(x.Base), x.Words(func(name string) string {
		if n, ok := t.Model.Lookup(name); ok {
			return t.Key(n)
		}
		return t.Root + ":" + name
	})...)
	b.owner, b.desc = owner, desc
	m := b.models[len(b.models)-1]
	m.firstWord, m.firstInstr = int32(len(b.words)), int32(len(b.instrs))
}
