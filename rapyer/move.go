package rapyer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/backoff"
	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/random"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/tx"
)

// The move of a type to its slot groups (docs/queries.md, "A type's first
// index"). A type stored without indexes keeps model id at <prefix>:{id};
// once it declares an index, at <prefix>:{<prefix>#<g>}:{id}. Reindex
// moves every model of the old layout, and until it is done the indexed
// Model moves a model it misses on demand, so that no call sees a model
// missing that is only not moved yet.
//
// The state of the move is the field @move of each group's @meta:
// "moving" from the first step of a Reindex that found models of the old
// layout (it also marks every index "building", so no query answers from
// an index that lacks the models not moved yet), "done" once no model of
// the old layout is left.

// metaMove is the field of a group's @meta that holds the state of the
// move of the type's old layout.
const metaMove = "@move"

// mover is the move state of an indexed Model (nil for one that cannot
// have an old layout: no indexes, or HashTag, whose keys do not change).
type mover struct {
	old   keys.Layout   // the layout of the type without indexes
	done  atomic.Bool   // this process saw the move done: misses need no check
	found atomic.Bool   // the check found models to move (or a move running): misses are checked
	check chan struct{} // held by the one check of this process at a time (moveNeeded)

	groupsOK atomic.Bool   // the stored number of slot groups is the Model's (groups.go)
	gate     chan struct{} // held by the one check of the groups at a time
	refused  error         // the check's refusal, kept (read and written holding gate)
}

func newMover(set *ix.Set, prefix string) *mover {
	if set == nil || set.Tagged {
		return nil
	}
	return &mover{old: keys.Layout{Prefix: prefix}, check: make(chan struct{}, 1), gate: make(chan struct{}, 1)}
}

// moveCheckFail, when it fails, makes the check of moveNeeded fail before
// its SCAN (tests of a failed check).
var moveCheckFail = func() error { return nil }

// moveNeeded reports whether calls on the type must still look for models
// of the old layout: until this process knows the move done. The first
// call that asks runs the check, once per process (concurrent callers wait
// for it, and learn its answer): it reads @move of every group (one round
// trip); "done" answers no, "moving" yes; with no state it counts the
// models of the old layout with SCAN on every master, as Reindex's first
// step does, and when there are none records "done" in every group that
// has no state yet (HSETNX, so that a Reindex that found models meanwhile
// keeps its "moving"). So a type that never had models of the old layout
// pays once per process, and a process that starts once the move is done
// pays one read. A failed check is returned typed (ErrNotSent,
// ErrNoPermission, ErrRefused), caches nothing, and the next call checks
// again.
func (m *Model[T]) moveNeeded(ctx context.Context) (bool, error) {
	mv := m.mv
	if mv == nil || mv.done.Load() {
		return false, nil
	}
	if mv.found.Load() {
		return true, nil
	}
	select {
	case mv.check <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("%w: waiting for the check of the layout without indexes: %w", errs.NotSent, ctx.Err())
	}
	defer func() { <-mv.check }()
	if mv.done.Load() {
		return false, nil
	}
	if mv.found.Load() {
		return true, nil
	}
	need, err := m.moveCheck(ctx)
	if err != nil {
		return false, moveCheckErr(err)
	}
	if need {
		mv.found.Store(true)
	} else {
		mv.done.Store(true)
	}
	return need, nil
}

// moveCheck is moveNeeded's check, without the cache.
func (m *Model[T]) moveCheck(ctx context.Context) (bool, error) {
	done, moving, err := m.moveState(ctx)
	switch {
	case err != nil:
		return false, err
	case done:
		return false, nil
	case moving:
		return true, nil
	}
	if err := moveCheckFail(); err != nil {
		return false, err
	}
	for _, err := range m.oldModel().IDs(ctx) {
		if err != nil {
			return false, err
		}
		return true, nil // one is enough
	}
	_, err = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range m.ix.Bases() {
			p.HSetNX(ctx, ix.Meta(b), metaMove, "done")
		}
		m.recordGroups(ctx, p)
		return nil
	})
	return false, err
}

// moveCheckErr types an error of moveCheck: the server's refusal as
// ErrNoPermission or ErrRefused, anything else as ErrNotSent (the call
// that asked sent nothing of its own).
func moveCheckErr(err error) error { return checkErr("checking the layout without indexes", err) }

// moveErr types an error of a step of a model's move: a key of the wrong
// type (corrupt bookkeeping) as ErrWrongType, the server's other refusals
// as ErrNoPermission or ErrRefused, anything else as ErrNotSent. Each step
// writes nothing when it fails, and the steps before it leave a state the
// next move of the model finishes (docs/queries.md).
func moveErr(err error) error { return checkErr("move", err) }

// checkErr types an error of a check of the type's state (op names it).
func checkErr(op string, err error) error {
	for _, s := range []error{errs.NotSent, errs.NoPermission, errs.Refused, errs.WrongType, errs.Corrupt} {
		if errors.Is(err, s) {
			return errs.At(op, err)
		}
	}
	switch {
	case reply.IsWrongType(err):
		err = reply.WrongType("", err)
	case reply.FromServer(err):
		err = reply.Refused(err)
	default:
		err = fmt.Errorf("%w: %w", errs.NotSent, err)
	}
	return errs.At(op, err)
}

// moveAgain is called after a call on model id found no model (missed):
// when the type's move is not known to be done and the model is still in
// the old layout, it moves the model and reports that the call should run
// again. Once moveNeeded knows the move done it costs nothing; before,
// one round trip per miss.
func (m *Model[T]) moveAgain(ctx context.Context, id string, missed bool) (bool, error) {
	if !missed || m.mv == nil {
		return false, nil
	}
	if need, err := m.moveNeeded(ctx); err != nil || !need {
		return false, err
	}
	base := ix.Base(m.opts.Prefix, m.ix.Tag(id))
	var st *redis.StringCmd
	var ex *redis.IntCmd
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		st = p.HGet(ctx, ix.Meta(base), metaMove)
		ex = p.Exists(ctx, m.mv.old.Root(id))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	if st.Val() == "done" {
		m.mv.done.Store(true)
	}
	if ex.Val() == 0 {
		// Another mover may have moved it since the call missed it: run
		// the call again, until this process sees the move done.
		return !m.mv.done.Load(), nil
	}
	// Every command the move and the sync of its entries may send, asked
	// in the model's group before the move's first write (index.lua's
	// IX.masks, IX.sasks): a user denied one saw the model's claim, or its
	// copy, written before the refusal.
	if err := m.adminAsk(ctx, "move", []string{base}, m.askArgs("move", m.mv.old.Root("@"))...); err != nil {
		return false, err
	}
	// Run the call again even when another mover got there first.
	if err := m.moveOne(ctx, id, true); err != nil {
		return false, err
	}
	return true, nil
}

// moveKeys are the keys of model id in layout l: its root, then its
// collections.
func (m *Model[T]) moveKeys(l keys.Layout, id string) []string {
	root := l.Root(id)
	out := []string{root}
	for _, n := range m.schema.Collections {
		out = append(out, keys.Field(root, n.Name))
	}
	return out
}

// moveTries bounds the rounds of one model's move: a round fails only when
// a writer of the old layout changed the model between its read and its
// drop.
const moveTries = 8

// moveClaim is how long one mover of a model keeps others of the same
// model waiting: the longest a move may take between its read and its
// drop. A mover that stops for longer (a crash) lets the next one go on.
var moveClaim = 10 * time.Second

// moveCrash, when it fails, stops a move after a step (tests of a crash).
var moveCrash = func(id, step string) error { return nil }

// moveOne moves model id from the old layout to its group: read the old
// keys and claim the model (one slot), copy them under the new root unless
// a model is there already (the group's slot), delete the old keys and the
// claim unless the model changed since the read (the old slot, guarded by
// the version). Nothing is lost at any point: a crash leaves both copies,
// and the next move of the model drops the old one. A model another mover
// holds is waited for, as long as a claim lives, then taken over. With
// index set it also syncs the model's index entries (Reindex's bulk move
// leaves that to its rebuild).
func (m *Model[T]) moveOne(ctx context.Context, id string, index bool) error {
	from, to := m.moveKeys(m.mv.old, id), m.moveKeys(m.layout, id)
	from = append(from, keys.Field(from[0], "@moving"))
	base := ix.Base(m.opts.Prefix, m.ix.Tag(id))
	token, guard := random.Hex(8), ""
	var waited time.Time // when this mover first found the model claimed
	for try, wait := 0, 0; try < moveTries; {
		steal := ""
		if wait > 0 && time.Since(waited) > moveClaim {
			steal = "steal" // the holder stopped (or its claim does not expire)
		}
		snap, err := lua.MoveRead.Run(ctx, m.rdb, script.Command(from, token, moveClaim.Milliseconds(), steal)).Slice()
		if err != nil {
			return moveErr(err)
		}
		switch code, _ := snap[0].(int64); code {
		case -2:
			return nil // gone: moved (by this call or another) or deleted
		case -3:
			if wait == 0 {
				waited = time.Now()
			}
			wait++
			if err := backoff.Sleep(ctx, backoff.Delay(time.Millisecond, 50*time.Millisecond, wait)); err != nil {
				return err
			}
			continue
		}
		try++
		if err := moveCrash(id, "read"); err != nil {
			return err
		}
		args, ver := moveArgs(id, guard, snap)
		copyKeys := append([]string{to[0], ix.IDs(base), ix.Exp(base), ix.Back(base)}, to[1:]...)
		copied, err := lua.MoveCopy.Run(ctx, m.rdb, script.Command(copyKeys, args...)).Int()
		if err != nil {
			return m.moveFree(ctx, from[len(from)-1], token, moveErr(err))
		}
		if copied == 1 && index {
			if err := m.reindexIDs(ctx, base, []string{id}, false); err != nil {
				return moveErr(err)
			}
		}
		if err := moveCrash(id, "copied"); err != nil {
			return err
		}
		dropped, err := lua.MoveDrop.Run(ctx, m.rdb, script.Command(from, versionField, ver, token)).Int()
		if err != nil {
			return moveErr(err)
		}
		if dropped == 1 {
			return nil
		}
		if copied == 1 {
			guard = ver // the copy is ours: the next round may replace it
		}
	}
	return fmt.Errorf("%w: moving %s to its slot group: a writer of the layout without indexes keeps changing it", errs.Conflict, from[0])
}

// moveFree deletes the claim a mover holds with token after its copy was
// refused (err), so that the next mover of the model goes on at once
// rather than after the claim's life, and returns err. Its own failure
// (the claim then expires with its life) is not the caller's error.
func (m *Model[T]) moveFree(ctx context.Context, claim, token string, err error) error {
	_ = lua.MoveFree.Run(ctx, m.rdb, script.Command([]string{claim}, token)).Err()
	return err
}

// moveArgs lays out mvcopy's args from mvread's reply snap, and returns
// the version snap holds ("" for none).
func moveArgs(id, guard string, snap []any) (args []any, ver string) {
	ttl, _ := snap[0].(int64)
	root := strs(snap[1])
	for i := 0; i+1 < len(root); i += 2 {
		if root[i] == versionField {
			ver = root[i+1]
		}
	}
	args = []any{versionField, id, guard, ttl, len(root)}
	for _, w := range root {
		args = append(args, w)
	}
	for i := 2; i+1 < len(snap); i += 2 {
		t, _ := snap[i].(string)
		vals := strs(snap[i+1])
		args = append(args, t, len(vals))
		for _, w := range vals {
			args = append(args, w)
		}
	}
	return args, ver
}

// moveState reads the @move state of every group.
func (m *Model[T]) moveState(ctx context.Context) (done, moving bool, err error) {
	bases := m.ix.Bases()
	cmds := make([]*redis.StringCmd, len(bases))
	_, err = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, b := range bases {
			cmds[i] = p.HGet(ctx, ix.Meta(b), metaMove)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, false, err
	}
	done = true
	for _, c := range cmds {
		done = done && c.Val() == "done"
		moving = moving || c.Val() == "moving"
	}
	return done, moving, nil
}

// oldModel is a view of the type's models in the layout without indexes,
// for listing them with SCAN (IDs).
func (m *Model[T]) oldModel() *Model[T] {
	o := m.opts
	o.Indexes, o.Groups = nil, 0
	return &Model[T]{rdb: m.rdb, schema: m.schema, layout: m.mv.old, opts: o, root: m.root}
}

// setMove sets the @move state of every group, and with building marks
// every declared index "building" in the same HSET.
func (m *Model[T]) setMove(ctx context.Context, state string, building bool) error {
	fields := []any{metaMove, state}
	if building {
		for _, f := range m.ix.Fields {
			fields = append(fields, f.Name, "building")
		}
	}
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range m.ix.Bases() {
			p.HSet(ctx, ix.Meta(b), fields...)
		}
		m.recordGroups(ctx, p)
		return nil
	})
	return err
}

// moveAll is Reindex's first part: it moves every model of the old layout
// into its group. It returns how many it moved, and the progress total of
// the whole Reindex (0 when nothing was to move). A type whose groups all
// say the move is done costs one round trip; otherwise one SCAN of the
// keyspace (every master) counts the old models, and a second moves them.
func (m *Model[T]) moveAll(ctx context.Context, progress func(done, total int)) (moved, total int, err error) {
	done, moving, err := m.moveState(ctx)
	if err != nil || done {
		return 0, 0, err
	}
	old := m.oldModel()
	n := 0
	for _, err := range old.IDs(ctx) {
		if err != nil {
			return 0, 0, err
		}
		n++
	}
	if n == 0 && !moving {
		m.mv.done.Store(true)
		return 0, 0, m.setMove(ctx, "done", false)
	}
	// Every command a move of a model of the type may send (its
	// collections known from the schema: index.lua's IX.masks) asked
	// before the first write: a user denied one saw the groups marked
	// moving and building, and a claim written, before a copy was refused.
	if err := m.adminAsk(ctx, "Reindex", m.ix.Bases(), m.askArgs("move", m.mv.old.Root("@"))...); err != nil {
		return 0, 0, err
	}
	// From here until the rebuild ends no query answers from the indexes:
	// they lack the models not moved yet.
	if err := m.setMove(ctx, "moving", true); err != nil {
		return 0, 0, err
	}
	held := 0
	for _, b := range m.ix.Bases() {
		c, err := m.rdb.ZCard(ctx, ix.IDs(b)).Result()
		if err != nil {
			return 0, 0, err
		}
		held += int(c)
	}
	total = n + held + n // each old model is moved, then indexed
	for id, err := range old.IDs(ctx) {
		if err != nil {
			return moved, total, err
		}
		if err := m.moveOne(ctx, id, false); err != nil {
			return moved, total, err
		}
		moved++
		if progress != nil {
			progress(moved, max(total, moved))
		}
	}
	if err := m.setMove(ctx, "done", false); err != nil {
		return moved, total, err
	}
	m.mv.done.Store(true)
	return moved, total, nil
}

// missed says whether a batch found no model: ErrNotFound, or a Result
// Skipped by SkipIfMissing.
func missed(res *tx.Result, err error) bool {
	return errors.Is(err, errs.NotFound) || (err == nil && res != nil && res.Skipped)
}

// moveAnyAgain is moveAgain over several models: it reports whether it
// moved any of them.
func (m *Model[T]) moveAnyAgain(ctx context.Context, ids []string, missed bool) (bool, error) {
	moved := false
	for _, id := range ids {
		again, err := m.moveAgain(ctx, id, missed)
		if err != nil {
			return false, err
		}
		moved = moved || again
	}
	return moved, nil
}

// getMoved is get of model id at root, moving it first when it is still in
// the layout without indexes.
func (m *Model[T]) getMoved(ctx context.Context, id, root string) (T, string, error) {
	v, ver, err := m.get(ctx, root)
	if again, merr := m.moveAgain(ctx, id, errors.Is(err, errs.NotFound)); merr != nil {
		return v, ver, merr
	} else if again {
		return m.get(ctx, root)
	}
	return v, ver, err
}

// moverOf is Held.move for model id: nil when the type cannot have models
// of the old layout.
func (m *Model[T]) moverOf(id string) func(ctx context.Context) (bool, error) {
	if m.mv == nil {
		return nil
	}
	return func(ctx context.Context) (bool, error) { return m.moveAgain(ctx, id, true) }
}

// moveFirst moves model id before a write that replaces it (Save,
// SaveMany, Create) while the type's move is not known to be done: the
// write must not leave an older model of the old layout behind, which the
// move would bring back after a Delete, and Create must see it.
func (m *Model[T]) moveFirst(ctx context.Context, id string) error {
	_, err := m.moveAgain(ctx, id, true)
	return err
}
