package rapyer

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/script"
)

// reindexChunk is how many models one call of the rebuild syncs.
var reindexChunk = 200

// metaAt is the field of a group's @meta that holds where a rebuild got to
// (the last id it synced), and metaOf the names of the indexes that
// rebuild builds (joined by NUL): the place holds for those only. A
// rebuild of other indexes (one declared since, or one dropped and
// declared again) starts over.
const (
	metaAt = "@reindex"
	metaOf = "@reindex:of"
)

// Reindex builds the model type's indexes for the models stored before
// they were declared, online: writes go on meanwhile (they keep every
// declared index already). In each slot group whose indexes are not all
// ready it marks them "building", syncs the group's models a chunk at a
// time (one call each), then marks them "ready". While an index is
// building no query uses it (a query that needs it fails with
// ErrNotIndexed, or reads every model with query.Scan), so no query misses a
// model during the rebuild. It keeps its place in the group's @meta: run it
// again after a failure and it goes on from there. progress, if not nil,
// is called after every chunk with the models done and the total. Two
// models stored before a Unique index that hold one value of it fail the
// rebuild with ErrDuplicate, naming both, and the index stays unready:
// give one another value and run Reindex again. With a Unique index, the
// groups whose indexes are all ready it goes over too, leaving their state alone: it adds the
// entries a process still on the old declaration left out of a model it
// wrote there, and fails with ErrDuplicate on two models that hold one
// value of a Unique index.
//
// A type's first index moves its keys (docs/queries.md, "A type's first
// index: the move"): Reindex first moves every model stored before into
// its slot group (a SCAN of every master counts them, a second moves
// them), while no query answers, then builds every group's indexes;
// progress counts each moved model twice (moved, indexed). Once every
// group says the move is done, that step costs one round trip.
//
// Before its first write it asks the server's ACL (Redis 7) for every
// command it may send in the groups it will write (two reads and one
// round trip more), and, when it has models to move, for every command a
// move of a model of the type may send (one round trip more): a user
// denied one gets ErrNoPermission and nothing is written, no group marked
// moving, no index marked building.
//
// Run it after every process that writes the type runs with the new
// declaration: a writer without it would drop the new entries of the
// models it writes, or write the old layout.
func (m *Model[T]) Reindex(ctx context.Context, progress func(done, total int)) error {
	if err := m.ready(ctx, "Model.Reindex"); err != nil {
		return err
	}
	// The request that failed for a cause of the client (a closed client,
	// a failed dial, an ended context) was not sent: ErrNotSent; a
	// refusal of the server and a lost reply are typed too.
	if err := m.usable(); err != nil {
		return err
	}
	return maintErr("Reindex", m.reindex(ctx, progress))
}

// maintErr types the error of a request of a maintenance call (Reindex,
// DropIndex) that was not typed where it failed: a refusal of the server
// (ErrNoPermission, ErrRefused, naming the call), a request not sent
// (ErrNotSent), a lost reply (ErrUnknownOutcome: the request may have been
// applied; calling again finishes the work). Reads type their lost replies
// as ErrNotSent where they fail.
func maintErr(call string, err error) error {
	switch {
	case err == nil || errs.Typed(err):
		return err
	case reply.FromServer(err):
		return errs.At(call, reply.Refused(err))
	case reply.Unsent(err) || !reply.Lost(err):
		return errs.At(call, reply.NotSent(err))
	}
	return fmt.Errorf("%w: %s: the reply was lost: %w", errs.UnknownOutcome, call, err)
}

// reindex is Reindex.
func (m *Model[T]) reindex(ctx context.Context, progress func(done, total int)) error {
	if m.ix == nil || m.ix.Tagged {
		return fmt.Errorf("%w: Reindex: the model has no slot groups (Options.Indexes without HashTag)", errs.Invalid)
	}
	if err := m.groupsOK(ctx); err != nil {
		return err
	}
	if err := m.reindexAsk(ctx); err != nil {
		return err
	}
	moved, total, err := m.moveAll(ctx, progress)
	if err != nil {
		return err
	}
	todo, left, err := m.reindexTodo(ctx)
	if err != nil {
		return err
	}
	if total == 0 {
		total = left
	}
	done := moved
	for _, g := range todo {
		if err := m.reindexGroup(ctx, g, &done, total, progress); err != nil {
			return err
		}
	}
	if progress != nil && moved > 0 && done != total {
		progress(done, done) // writes during the move changed the count
	}
	return nil
}

// reindexAsk asks the ACL, before Reindex's first write, for what it
// sends in the groups it will write (adminAsk): every group while the
// move of the models stored before the first index is not done (it marks
// them all building), else the groups reindexTodo lists. The move's
// commands are asked once the move knows it has models to move (moveAll).
func (m *Model[T]) reindexAsk(ctx context.Context) error {
	done, _, err := m.moveState(ctx)
	if err != nil {
		return reply.Read(err)
	}
	bases := m.ix.Bases()
	if done {
		todo, _, err := m.reindexTodo(ctx)
		if err != nil {
			return err
		}
		bases = bases[:0:0]
		for _, g := range todo {
			bases = append(bases, g.base)
		}
	}
	return m.adminAsk(ctx, "Reindex", bases, m.askArgs("reindex", "")...)
}

// rebuild is one group to rebuild: its base and its indexes not ready;
// none for a group whose indexes are all ready, which Reindex goes over
// too when the type has a Unique index: a group is marked ready when a write of a process that
// declares its indexes stores its first model, and a process still on
// the old declaration may write models there afterwards, without their
// entries and unchecked by a Unique index
// (TestS23uReindexChecksAReadyGroupAWriterWithoutTheIndexWrote).
type rebuild struct {
	base  string
	names []string
}

// reindexTodo lists the groups with an index that is not ready, every
// group of a type with a Unique index, and how many models they hold.
func (m *Model[T]) reindexTodo(ctx context.Context) ([]rebuild, int, error) {
	bases := m.ix.Bases()
	states := make([]*redis.SliceCmd, len(bases))
	cards := make([]*redis.IntCmd, len(bases))
	names := make([]string, len(m.ix.Fields))
	for i, f := range m.ix.Fields {
		names[i] = f.Name
	}
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, b := range bases {
			states[i] = p.HMGet(ctx, ix.Meta(b), names...)
			cards[i] = p.ZCard(ctx, ix.IDs(b))
		}
		return nil
	})
	if err != nil {
		return nil, 0, reply.Read(err)
	}
	var todo []rebuild
	total := 0
	for i, b := range bases {
		g := rebuild{base: b}
		for j, s := range states[i].Val() {
			if s != "ready" {
				g.names = append(g.names, names[j])
			}
		}
		if len(g.names) > 0 || m.hasUnique() {
			todo = append(todo, g)
			total += int(cards[i].Val())
		}
	}
	return todo, total, nil
}

// reindexGroup rebuilds one group from where its last rebuild stopped.
// A group whose indexes are all ready it goes over whole, in chunks, and
// leaves its state alone (queries go on using it): the script's check of
// duplicates fails it with ErrDuplicate, and its full sync adds the
// entries a writer without the declaration left out.
func (m *Model[T]) reindexGroup(ctx context.Context, g rebuild, done *int, total int, progress func(int, int)) error {
	base, meta := g.base, ix.Meta(g.base)
	if len(g.names) == 0 {
		_, err := m.reindexChunks(ctx, base, "", false, done, total, progress)
		return err
	}
	building, ready := []any{}, []any{}
	for _, name := range g.names {
		building = append(building, name, "building")
		ready = append(ready, name, "ready")
	}
	of := strings.Join(g.names, "\x00")
	was, err := m.rdb.HMGet(ctx, meta, metaAt, metaOf).Result()
	if err != nil {
		return reply.Read(err)
	}
	at := ""
	if s, ok := was[0].(string); ok && was[1] == of {
		at = s
	}
	if err := m.rdb.HSet(ctx, meta, append(building, metaOf, of)...).Err(); err != nil {
		return err
	}
	if _, err := m.reindexChunks(ctx, base, at, true, done, total, progress); err != nil {
		return err
	}
	if err := m.rdb.HSet(ctx, meta, ready...).Err(); err != nil {
		return err
	}
	return m.rdb.HDel(ctx, meta, metaAt, metaOf).Err()
}

// reindexChunks syncs the models of the group at base after the id at
// ("" from the first), a chunk a call (reindexIDs, mark), counting them
// in done; it returns the last id synced.
func (m *Model[T]) reindexChunks(ctx context.Context, base, at string, mark bool, done *int, total int, progress func(int, int)) (string, error) {
	for {
		min := "-"
		if at != "" {
			min = "(" + at
		}
		ids, err := m.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: ix.IDs(base), Start: min, Stop: "+", ByLex: true, Count: int64(reindexChunk)}).Result()
		if err != nil {
			return at, reply.Read(err)
		}
		if len(ids) > 0 {
			if err := m.reindexIDs(ctx, base, ids, mark); err != nil {
				return at, err
			}
			at = ids[len(ids)-1]
			*done += len(ids)
			if progress != nil {
				progress(*done, max(total, *done))
			}
		}
		if len(ids) < reindexChunk {
			return at, nil
		}
	}
}

// reindexIDs syncs the models ids of the group at base (index.lua's
// reindex), and with mark notes where the rebuild got to.
func (m *Model[T]) reindexIDs(ctx context.Context, base string, ids []string, mark bool) error {
	args := m.ixSpec()
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := lua.Reindex.Run(ctx, m.rdb, script.Command([]string{ix.IDs(base), ix.Back(base), ix.Exp(base)}, args...)).Result()
	if err != nil {
		return errs.At("Reindex", err)
	}
	if raw, ok := res.([]any); ok && len(raw) == 4 && raw[0] == "ERR" {
		// two models stored before a Unique index hold one value of it
		msg, _ := raw[3].(string)
		return fmt.Errorf("%w: Reindex: %s", errs.Duplicate, msg)
	}
	if !mark {
		return nil
	}
	return m.rdb.HSet(ctx, ix.Meta(base), metaAt, ids[len(ids)-1]).Err()
}

// DropIndex removes the keys of the index named name (the stored path of
// its field, "price") in every slot group: for an index the model no longer
// declares (it refuses one it declares, with ErrInvalid). The entries the
// models' @back still list for it go with their next write. An empty name,
// and one starting with @ (the library's fields of a group's @meta, such as
// @groups, which no index is named), are refused with ErrInvalid. A name of which no slot group holds a key (a
// misspelt name, or an index dropped already, by an earlier call too whose
// outcome was unknown) fails with ErrNotFound naming it, and writes
// nothing: one round trip looks before the one that deletes. A second asks
// the server's ACL (Redis 7) for the DEL and HDEL in every group: a user
// denied one gets ErrNoPermission and nothing is deleted.
func (m *Model[T]) DropIndex(ctx context.Context, name string) error {
	if err := m.ready(ctx, "Model.DropIndex"); err != nil {
		return err
	}
	if m.ix == nil || m.ix.Tagged {
		return fmt.Errorf("%w: DropIndex: the model has no slot groups", errs.Invalid)
	}
	if name == "" {
		return fmt.Errorf("%w: DropIndex: an empty index name", errs.Invalid)
	}
	if strings.HasPrefix(name, "@") {
		// @meta keeps the library's own fields (@groups, @move, @reindex)
		// beside the indexes' states: no index has such a name
		return fmt.Errorf("%w: DropIndex(%s): no index is named with a leading @", errs.Invalid, name)
	}
	if _, ok := m.ix.Field(name); ok {
		return fmt.Errorf("%w: DropIndex(%s): the model declares it; drop it from Options.Indexes first", errs.Invalid, name)
	}
	if err := m.groupsOK(ctx); err != nil {
		return err
	}
	if err := m.indexStored(ctx, name); err != nil {
		return err
	}
	// DEL and HDEL asked in every group first: a user denied one deletes
	// nothing, rather than the keys without their state or the reverse
	if err := m.adminAsk(ctx, "DropIndex", m.ix.Bases(), "drop", name); err != nil {
		return err
	}
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range m.ix.Bases() {
			p.Del(ctx, ix.Index(b, name), ix.Unique(b, name))
			p.HDel(ctx, ix.Meta(b), name, metaAt, metaOf)
		}
		return nil
	})
	return maintErr("DropIndex", err)
}

// indexStored is nil when a slot group of m holds a key of the index name
// (its entries, its unique values, or its state in @meta), else an error
// wrapping ErrNotFound; it reads only (a lost reply is ErrNotSent).
func (m *Model[T]) indexStored(ctx context.Context, name string) error {
	var found []*redis.IntCmd
	var marked []*redis.BoolCmd
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range m.ix.Bases() {
			found = append(found, p.Exists(ctx, ix.Index(b, name), ix.Unique(b, name)))
			marked = append(marked, p.HExists(ctx, ix.Meta(b), name))
		}
		return nil
	})
	switch {
	case err != nil && reply.FromServer(err):
		return errs.At("DropIndex", reply.Refused(err))
	case err != nil:
		return errs.At("DropIndex", reply.NotSent(err))
	}
	for i := range found {
		if found[i].Val() > 0 || marked[i].Val() {
			return nil
		}
	}
	return fmt.Errorf("%w: DropIndex(%s): no slot group holds an index of that name; nothing dropped", errs.NotFound, name)
}

// hasUnique reports whether the type declares a Unique index.
func (m *Model[T]) hasUnique() bool {
	for _, f := range m.ix.Fields {
		if f.Use == ix.UseUnique {
			return true
		}
	}
	return false
}
