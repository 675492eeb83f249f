package rapyer

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/transport"
)

// adminAsk asks the server's ACL, in each group of bases, for every
// command (with its key) that the index administration call may send
// there, before the call's first write (index.lua's ixask): what is
// "reindex", "sweep" (each followed by the indexes, ixSpec) or "drop"
// (followed by the index name). A user denied one gets ErrNoPermission
// naming call, and nothing is written, rather than a group marked
// building, a model synced or one key of an index deleted before the
// refusal. One pipelined round trip; on a server whose Lua cannot ask
// (redis.acl_check_cmd, Redis 7; miniredis) it answers OK, and a refusal
// shows when the command is sent.
func (m *Model[T]) adminAsk(ctx context.Context, call string, bases []string, args ...any) error {
	if len(bases) == 0 {
		return nil
	}
	cmds := make([]*redis.Cmd, len(bases))
	for try := 1; ; try++ {
		queue := lua.IxAsk.Queuer(ctx, m.rdb)
		if try == 3 {
			queue = lua.IxAsk.EvalQueuer(ctx)
		}
		_, _ = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, b := range bases {
				cmds[i] = queue(p, script.Command([]string{ix.IDs(b)}, args...))
			}
			return nil
		}) // each call reports its own error
		missed := firstMissing(cmds)
		if missed == nil || try == 3 {
			break
		}
		again, err := lua.IxAsk.Recover(ctx, m.rdb, missed)
		if err != nil {
			return maintErr(call, err)
		}
		if !again {
			break
		}
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			// it writes nothing: a lost reply is a request not sent
			return maintErr(call, reply.Read(err))
		}
	}
	return nil
}

// ixSpec is the words of m's indexes as index.lua's reindex and ixask
// read them: their number, then name, kind, use word and collection of
// each (0 for a type without indexes).
func (m *Model[T]) ixSpec() []any {
	if m.ix == nil {
		return []any{0}
	}
	args := []any{len(m.ix.Fields)}
	for _, f := range m.ix.Fields {
		args = append(args, f.Name, string(f.Kind), f.UseWord(), f.Coll)
	}
	return args
}

// askArgs are ixask's args for what (index.lua): m's indexes (ixSpec),
// then a stand-in record key of a batch ("" with tx.NoRecord), old (the stand-in root of the
// layout without indexes whose move is asked for, or "") and the type's
// collections, their number, then the name and Redis type of each: the
// keys a Delete batch or a move of a model of the type sends to.
func (m *Model[T]) askArgs(what, old string) []any {
	args := append([]any{what}, m.ixSpec()...)
	rec := keys.Tx(m.opts.Prefix+":{@}", "@")
	if m.opts.Exec.Record < 0 {
		rec = "" // tx.NoRecord: the batches keep none
	}
	args = append(args, rec, old, len(m.schema.Collections))
	for _, n := range m.schema.Collections {
		args = append(args, n.Name, n.Kind.RedisType())
	}
	return args
}

// mayClear asks, before the first write of Sweep or DeleteWhere (call),
// for what its requests may send: the commands of the Delete batches that
// clear a model (their record, the model's keys, and, for a type with
// indexes, sync's) and of the rest of the call (adminAsk, what "sweep" or
// "delete"), in every slot group, or in a stand-in group for a type with
// Options.HashTag (its tags are not known), or at a stand-in root for a
// type without indexes; then it sends the interpreter's empty program in
// MULTI/EXEC (transport.MayRunTx), since each of those batches goes either
// to a compiled script, alone, or to the interpreter inside MULTI/EXEC. A
// user denied one of them saw stale keys deleted, or some models cleared,
// then ErrNoPermission.
func (m *Model[T]) mayClear(ctx context.Context, call, what string) error {
	bases := []string{m.opts.Prefix} // ixask's root: <prefix>:{@}
	switch {
	case m.ix != nil && !m.ix.Tagged:
		bases = m.ix.Bases()
	case m.ix != nil:
		bases = []string{ix.Base(m.opts.Prefix, "@")}
	}
	if what == "sweep" && (m.ix == nil || m.ix.Tagged) {
		what = "sweepkeys" // no @back of a group to scan
	}
	if err := m.adminAsk(ctx, call, bases, m.askArgs(what, "")...); err != nil {
		return err
	}
	switch err := transport.MayRunTx(ctx, m.rdb); {
	case err == nil:
		return nil
	case reply.FromServer(err):
		return errs.At(call, reply.Refused(err))
	default:
		return errs.At(call, reply.Read(reply.NotSent(err)))
	}
}
