package rapyer

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	ix "github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/script"
)

// qreq is one call of the query script: a group, where to resume, how
// many results at most.
type qreq struct {
	base, after string
	limit       int
}

// qreply is what one call found.
type qreply struct {
	done bool   // the group has no more results
	upto string // the last sort key the call looked at
	n    int    // results (for count: matches)
	hits []qhit
}

// qhit is one result: its sort key, its id and, for models, the parts of
// the model in raw from at on (MessagePack, as the script packed them): the
// values of its version and of its root fields (absent ones as nil, in the
// order of qrun.rootNames), then each collection. raw is the result's own
// copy of its piece of the reply, and key and id substrings of it: a
// model kept holds its own bytes, not the whole reply.
type qhit struct {
	key, id string
	raw     string
	at      int
}

// args lays out the script's arguments for one call (query.lua says what
// each one is).
func (r *qrun[T]) args(what string, q qreq) []any {
	p := r.plan
	head := []any{q.base, what, string(p.Mode), flag(r.spec.Desc), q.limit, q.after, flag(p.Exact), flag(r.spec.Scan)}
	if r.tail == nil || r.tailOf != what {
		r.tail, r.tailOf = r.argsTail(what), what
	}
	return append(head, r.tail...)
}

// argsTail are the arguments after the eighth: the same in every call of
// a query (and plan) for what, so made once.
func (r *qrun[T]) argsTail(what string) []any {
	p := r.plan
	oname, okind, ozero := "", "", ""
	if p.Order != nil {
		oname, okind = p.Order.Field, string(p.Order.Kind)
		// the text an absent order field is indexed under (index.lua,
		// IX.ZERO): a gather must key a model as the index's walk does,
		// also a text whose zero does not marshal to "" (indexed as "")
		if n, ok := r.m.schema.Lookup(oname); ok && p.Order.Kind != ix.KindString {
			ozero, _ = n.Value.EncodeAny(reflect.Zero(n.Value.Type).Interface())
		}
	}
	a := []any{oname, okind, ozero, len(r.m.schema.Collections)}
	for _, c := range r.m.schema.Collections {
		a = append(a, c.Name, c.Kind.RedisType())
	}
	a = append(a, len(p.Ranges))
	for _, g := range p.Ranges {
		a = append(a, g.Index, string(g.Kind), g.Op, g.Arg)
	}
	a = append(a, len(p.Uses))
	for _, u := range p.Uses {
		a = append(a, u)
	}
	a = append(a, len(r.words))
	for _, w := range r.words {
		a = append(a, w)
	}
	a = append(a, len(r.m.ix.Fields))
	for _, f := range r.m.ix.Fields {
		a = append(a, f.Name, string(f.Kind), f.UseWord(), f.Coll)
	}
	a = append(a, flag(p.Sure))
	if what != "models" {
		return append(a, 0)
	}
	names := r.rootNames()
	a = append(a, len(names))
	for _, n := range names {
		a = append(a, n)
	}
	return a
}

// rootNames are the root-hash fields a model is decoded from (every scalar
// and every pointer-to-struct marker), in the order the script reads them
// (after the version).
func (r *qrun[T]) rootNames() []string {
	if r.names == nil {
		s := r.m.schema
		r.names = make([]string, 0, len(s.Scalars)+len(s.Markers))
		for _, n := range s.Scalars {
			r.names = append(r.names, n.Name)
		}
		for _, n := range s.Markers {
			r.names = append(r.names, n.Name)
		}
	}
	return r.names
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// call runs the requests, one call per group, in one pipeline: the client
// sends each master its calls in one round trip, the masters in parallel.
// On a server that is not a cluster it is one call for every group
// (single).
// A reply saying the library or the script was missing is recovered as
// readAcrossSlots does.
func (r *qrun[T]) call(ctx context.Context, what string, reqs []qreq) ([]qreply, error) {
	out, err := r.calls(ctx, what, reqs)
	// A query only reads: one not sent, or whose reply was lost, applied
	// nothing (its purge of expired models is idempotent).
	return out, reply.Read(err)
}

// calls is call: it sends the requests again while their slots move.
func (r *qrun[T]) calls(ctx context.Context, what string, reqs []qreq) ([]qreply, error) {
	for n := 1; ; n++ {
		cmds, err := r.send(ctx, what, reqs)
		if err != nil {
			return nil, err
		}
		if n < maxMoving && slices.ContainsFunc(cmds, moving) {
			// A group's slot is on the move (a migration, a failover): the
			// script met a key already on the other node and stopped. A
			// query only reads (its purge of expired models is idempotent),
			// so every call is sent again once the slot has settled.
			if err := sleepCtx(ctx, movingWait(n)); err != nil {
				return nil, err
			}
			continue
		}
		if len(cmds) == 1 && len(reqs) > 1 {
			return r.decodeMulti(what, cmds[0], len(reqs))
		}
		out := make([]qreply, len(reqs))
		for i, c := range cmds {
			var err error
			if out[i], err = r.decode(what, c); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
}

// single reports whether the groups of the model are all on one server
// that is not a cluster (a *redis.Client, without Options.Exec.StrictSlots):
// then one call of the script runs them all (query.lua's Q.multi), not one
// call a group.
func (r *qrun[T]) single() bool {
	_, plain := r.m.rdb.(*redis.Client)
	return plain && !r.m.opts.Exec.StrictSlots
}

// command is the call of the script for the requests: one call a request,
// or with single one call for them all ('*', the count, each group's base,
// limit and after, then the arguments of one call from what on without
// limit and after), whose keys are every group's @ids.
func (r *qrun[T]) commands(what string, reqs []qreq) [][]any {
	if len(reqs) == 1 || !r.single() {
		out := make([][]any, len(reqs))
		for i, q := range reqs {
			out[i] = script.Command([]string{ix.IDs(q.base)}, r.args(what, q)...)
		}
		return out
	}
	ks := make([]string, len(reqs))
	a := make([]any, 0, 2+3*len(reqs)+8+len(r.tail))
	a = append(a, "*", len(reqs))
	for i, q := range reqs {
		ks[i] = ix.IDs(q.base)
		a = append(a, q.base, q.limit, q.after)
	}
	one := r.args(what, reqs[0])
	a = append(a, one[1:4]...)
	a = append(a, one[6:]...)
	return [][]any{script.Command(ks, a...)}
}

// maxMoving bounds the resends of a query whose slot moves (about ten
// seconds of waiting in all); movingWait is the wait before the nth.
const maxMoving = 60

func movingWait(n int) time.Duration { return time.Duration(min(n, 20)) * 10 * time.Millisecond }

// moving reports whether c failed because its slot was moving: a key of it
// had gone to another node mid-script, or the cluster refused the call.
func moving(c *redis.Cmd) bool {
	var s string
	if err := c.Err(); err != nil {
		s = err.Error()
	} else if raw, _ := c.Slice(); len(raw) > 1 && raw[0] == "ERR" {
		// the script caught the refusal and answered it (answer in batch.lua)
		s, _ = raw[len(raw)-1].(string)
	} else {
		return false
	}
	if strings.Contains(s, "non local key") {
		return true
	}
	for _, p := range []string{"TRYAGAIN", "ASK ", "MOVED ", "CLUSTERDOWN", "MASTERDOWN"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// send sends the requests once, recovering a missing library or script.
func (r *qrun[T]) send(ctx context.Context, what string, reqs []qreq) ([]*redis.Cmd, error) {
	calls := r.commands(what, reqs)
	cmds := make([]*redis.Cmd, len(calls))
	for try := 1; ; try++ {
		queue := lua.Query.Queuer(ctx, r.m.rdb)
		if try == 3 {
			queue = lua.Query.EvalQueuer(ctx)
		}
		_, _ = r.m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range calls {
				cmds[i] = queue(p, c)
			}
			return nil
		})
		missed := firstMissing(cmds)
		if missed == nil || try == 3 {
			break
		}
		again, err := lua.Query.Recover(ctx, r.m.rdb, missed)
		if err != nil {
			return nil, err
		}
		if !again {
			break
		}
	}
	return cmds, nil
}

// queryErr types the failure of a query call as a read's: a refusal of
// the server (an ACL, out of memory) as ErrRefused or ErrNoPermission, a
// request lost on the way as ErrNotSent (a query writes nothing); it was
// returned bare.
func queryErr(err error) error {
	switch {
	case errs.Typed(err):
		return err
	case reply.FromServer(err):
		return reply.Refused(err)
	}
	return reply.Read(err)
}

// decodeMulti reads the reply of one call for k groups: {'MULTI', the
// reply of each group}, or the call's failure.
func (r *qrun[T]) decodeMulti(what string, c *redis.Cmd, k int) ([]qreply, error) {
	raw, err := c.Slice()
	if err != nil {
		return nil, errs.At(r.spec.Shown, queryErr(err))
	}
	if len(raw) > 0 && raw[0] == "ERR" {
		return nil, r.failure(raw)
	}
	if len(raw) != k+1 || raw[0] != "MULTI" {
		return nil, r.corrupt()
	}
	out := make([]qreply, k)
	for i := range out {
		one, ok := raw[i+1].([]any)
		if !ok {
			return nil, r.corrupt()
		}
		if out[i], err = r.decodeRaw(what, one); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decode reads one reply of the script.
func (r *qrun[T]) decode(what string, c *redis.Cmd) (qreply, error) {
	raw, err := c.Slice()
	if err != nil {
		return qreply{}, errs.At(r.spec.Shown, queryErr(err))
	}
	return r.decodeRaw(what, raw)
}

// decodeRaw reads the reply of one group.
func (r *qrun[T]) decodeRaw(what string, raw []any) (qreply, error) {
	if len(raw) > 0 && raw[0] == "ERR" {
		return qreply{}, r.failure(raw)
	}
	if len(raw) < 4 || raw[0] != "OK" {
		return qreply{}, r.corrupt()
	}
	done, _ := raw[1].(string)
	upto, _ := raw[2].(string)
	n, _ := raw[3].(int64)
	q := qreply{done: done == "1", upto: upto, n: int(n)}
	if what == "count" || len(raw) < 5 {
		return q, nil
	}
	blob, _ := raw[4].(string)
	var err error
	if q.hits, err = r.unpack(what, blob); err != nil {
		return qreply{}, err
	}
	return q, nil
}

// unpack reads the results of one reply from its MessagePack array: key,
// id and, for models, the model's parts, for each result.
func (r *qrun[T]) unpack(what, blob string) ([]qhit, error) {
	kind, _, total, at, ok := lua.MsgNext(blob, 0)
	step := 2
	if what == "models" {
		step += 1 + len(r.rootNames()) + len(r.m.schema.Collections)
	}
	if !ok || kind != lua.MsgArray || total%step != 0 || total > len(blob) {
		return nil, r.corrupt()
	}
	hits := make([]qhit, total/step)
	for i := range hits {
		from := at
		for range step {
			if at, ok = lua.MsgSkip(blob, at); !ok {
				return nil, r.corrupt()
			}
		}
		h := &hits[i]
		h.raw = strings.Clone(blob[from:at])
		var k1, k2 int
		k1, h.key, _, h.at, ok = lua.MsgNext(h.raw, 0)
		if ok {
			k2, h.id, _, h.at, ok = lua.MsgNext(h.raw, h.at)
		}
		if !ok || k1 != lua.MsgText || k2 != lua.MsgText {
			return nil, r.corrupt()
		}
	}
	return hits, nil
}

// queryCodes are the error codes of the query script and their sentinels.
var queryCodes = map[string]error{
	"BUILDING":  errs.NotIndexed,
	"WRONGTYPE": errs.WrongType,
	"CORRUPT":   errs.Corrupt,
	"ARG":       errs.Invalid,
	"NOPERM":    errs.NoPermission,
	"LIMIT":     errs.TooLarge,
}

func (r *qrun[T]) failure(raw []any) error {
	code, _ := raw[1].(string)
	msg, _ := raw[len(raw)-1].(string)
	s, ok := queryCodes[code]
	if !ok {
		s, msg = errs.Refused, code+": "+msg
	}
	if code == "BUILDING" {
		msg += " (Model.Reindex builds it); query.Scan reads the models meanwhile"
	}
	return fmt.Errorf("%w: %s: %s", s, r.spec.Shown, msg)
}
