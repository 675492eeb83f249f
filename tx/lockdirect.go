package tx

import (
	"context"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/ops"
)

// A model Lock save's direct path. A batch that is the save of
// rapyer.Model.Lock (ops.Fenced of a lock, ops.Diff, ops.Unlock of the same
// lock, on one model without collections or indexes, whose diff changes
// fields only) is sent without a program, as a plain Save is (savedirect.go):
// the batch id is chosen first, and the lock's token and the changed fields
// are encoded straight into the words of the call of the batch's compiled
// shape (package shape: the lock's guard, an HDEL of the fields removed, an
// HSET of those set, the lock's release, in straight-line Lua), which the
// direct path finds by the model, the names of the fields removed and set,
// the mode and the record's lifetime. The first save of each such shape
// builds the program once, to find the compiled shape and to check that the
// direct words are those shape.Command lays out from the program. Every
// answer but the shape's 'went through' (a lost lock, a missing model, a
// resend's record, {'AGAIN'}) is read with the program, built then with the
// same id: a resend of a lost reply, direct or by the interpreter, is the
// same batch, answered from its record.

// lockShape is the compiled shape the direct path found for one model, set
// of fields removed and set, mode and record lifetime; shape nil: that save
// goes by a program.
type lockShape struct {
	model *schema.Model
	mode  prog.Mode
	recms int64
	// names are the fields removed (ndel of them), then the fields set
	names  []string
	ndel   int
	shape  *shape.Shape
	instrs int // the program's instructions
}

// same reports whether e is the shape of a direct lock save removing dels
// and setting the fields of pairs (names and values in turn).
func (e *lockShape) same(m *schema.Model, mode prog.Mode, recms int64, dels, pairs []string) bool {
	if e.model != m || e.mode != mode || e.recms != recms || e.ndel != len(dels) || len(e.names) != len(dels)+len(pairs)/2 {
		return false
	}
	for i, n := range dels {
		if e.names[i] != n {
			return false
		}
	}
	for i := 0; i < len(pairs); i += 2 {
		if e.names[e.ndel+i/2] != pairs[i] {
			return false
		}
	}
	return true
}

// lockShapes holds the shapes of the lock save's direct path.
var lockShapes shapeList[*lockShape]

func findLockShape(m *schema.Model, mode prog.Mode, recms int64, dels, pairs []string) *lockShape {
	for _, e := range lockShapes.load() {
		if e.same(m, mode, recms, dels, pairs) {
			return e
		}
	}
	return nil
}

func addLockShape(e *lockShape, dels, pairs []string) {
	lockShapes.add(e, func() bool { return findLockShape(e.model, e.mode, e.recms, dels, pairs) != nil })
}

// lockSave reports whether b is a model Lock's save (ok): its target, the
// values its diff compares, and its lock's key and token.
func lockSave(b Batch) (t prog.Target, before, after unsafe.Pointer, key, token string, ok bool) {
	if shape.Off.Load() || len(b.items) != 3 {
		return
	}
	it := b.items[1]
	if it.op == nil || it.target == nil || !it.target.Valid() || b.items[0].target != it.target || b.items[2].target != it.target {
		return
	}
	t = it.target.t
	d, diffed := it.op.(prog.Diffed)
	g, guard := b.items[0].op.(prog.Locking)
	u, unlock := b.items[2].op.(prog.Locking)
	if !diffed || !guard || !unlock || t.Index != nil || len(t.Model.Collections) > 0 {
		return
	}
	key, token, rel := g.LockOf()
	k2, t2, rel2 := u.LockOf()
	if rel || !rel2 || key == "" || k2 != key || t2 != token {
		return
	}
	before, after, ok = d.DiffValues(t)
	return
}

// waitSuffix names a lock's wait key after its lock key (package lock): a
// batch key of that name changes the compiled shape (shape's lockSteer).
const waitSuffix = ":fence:wait"

// lockDirect runs b by the direct path when it is a model Lock's save
// (done), as batch id (a fresh one for ""), and reports done false, having
// sent nothing, for any other batch.
func lockDirect(ctx context.Context, rdb redis.UniversalClient, b Batch, opts Options, id string) (*Result, bool, error) {
	t, before, after, key, token, ok := lockSave(b)
	if !ok {
		return nil, false, nil
	}
	life, err := opts.record()
	if err != nil || key == t.Root || isWaitKey(t.Root, key) {
		return nil, false, nil
	}
	if _, cluster := rdb.(*redis.ClusterClient); (cluster || opts.StrictSlots) && keys.Slot(key) != keys.Slot(t.Root) {
		return nil, false, nil // the program refuses it
	}
	lc := &lockCall{}
	d := &lc.d
	d.b, d.opts, d.lk = b, opts, lc
	d.id, d.rec = directIDs(t.Root, id, life > 0)
	if d.rec != "" && (d.rec == key || isWaitKey(d.rec, key)) {
		return nil, false, nil
	}
	d.words = append(d.wordRoom[:0], t.Root, key)
	if d.rec != "" {
		d.words = append(d.words, d.rec)
	}
	nk := len(d.words)
	d.words = append(d.words, token)
	var delRoom [8]string
	words, dels, direct, err := codec.AppendDiff(d.words, delRoom[:0], t.Model, before, after)
	if err != nil || !direct {
		return nil, false, nil // the program reports the error
	}
	pairs := words[nk+1:]
	mode := opts.mode()
	e := findLockShape(t.Model, mode, life.Milliseconds(), dels, pairs)
	if len(dels) > 0 {
		words = slices.Insert(words, nk+1, dels...)
		pairs = words[nk+1+len(dels):]
	}
	d.setWords(words, nk)
	if e == nil {
		p, err := d.program(rdb)
		if err != nil {
			return nil, true, err
		}
		e = d.findLock(p, t.Model, mode, life.Milliseconds(), dels, pairs)
		if e.shape == nil {
			r, err := execProgram(ctx, rdb, p, opts)
			return r, true, err
		}
	}
	if e.shape == nil {
		return nil, false, nil
	}
	lc.e = e
	lockDirectSent.Add(1)
	r, err := d.exec(ctx, rdb)
	return r, true, err
}

// lockDirectSent counts the saves sent by the direct path (for tests).
var lockDirectSent atomic.Int64

// isWaitKey reports whether k is the wait key of the lock at lock.
func isWaitKey(k, lock string) bool {
	return len(k) == len(lock)+len(waitSuffix) && k[:len(lock)] == lock && k[len(lock):] == waitSuffix
}

// findLock makes the lockShape of the direct call from its program p, and
// keeps it: a shape whose compiled call is not the direct words (or none)
// keeps the save on its program.
func (d *direct) findLock(p *prog.Program, m *schema.Model, mode prog.Mode, recms int64, dels, pairs []string) *lockShape {
	e := &lockShape{model: m, mode: mode, recms: recms, ndel: len(dels), instrs: len(p.Instrs)}
	e.names = append(e.names, dels...)
	for i := 0; i < len(pairs); i += 2 {
		e.names = append(e.names, pairs[i])
	}
	s := shape.For(p)
	if !p.Lean() && s != nil && p.Decls() == 1 && p.Record() == d.rec && sameWords(s.Command(p)[2:], d.cmd[2:]) && d.ownedByEach(p, len(dels) > 0, len(pairs) > 0) {
		e.shape = s
	}
	addLockShape(e, dels, pairs)
	return e
}

// ownedByEach reports whether p's instructions are the lock's guard (of
// the batch's first op), an HDEL if del and an HSET if set (of its diff),
// and the release (of its last op), as lockResult names their owners.
func (d *direct) ownedByEach(p *prog.Program, del, set bool) bool {
	want := []string{"glock"}
	if del {
		want = append(want, "hdel")
	}
	if set {
		want = append(want, "hset")
	}
	want = append(want, "unlock")
	if len(p.Instrs) != len(want) || len(want) > len(lockCall{}.owners) {
		return false
	}
	for i, in := range p.Instrs {
		owner := d.b.items[1].op
		switch i {
		case 0:
			owner = d.b.items[0].op
		case len(want) - 1:
			owner = d.b.items[2].op
		}
		if in.Op != want[i] || any(in.Owner) != any(owner) {
			return false
		}
	}
	return true
}

// lockCall is a model Lock's save on its way by the direct path: its call
// (d, whose lk points back here), the compiled shape found, and room for
// its Result's owners.
type lockCall struct {
	d      direct
	e      *lockShape
	owners [4]ops.Op
}

// result is the Result of the save that went through, whose results (one
// an instruction) are vals.
func (c *lockCall) result(vals []any) *Result {
	b := c.d.b
	r := &c.d.res
	r.Attempts, r.vals = 1, vals
	r.owners = append(c.owners[:0], b.items[0].op)
	for range c.e.instrs - 2 {
		r.owners = append(r.owners, b.items[1].op)
	}
	r.owners = append(r.owners, b.items[2].op)
	return r
}
