package tx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/backoff"
	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/optcheck"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/random"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/ops"
)

// Missing says what a batch does when a model it touches does not exist.
type Missing int

// The choices.
const (
	// FailIfMissing fails the batch with rapyer.ErrNotFound and creates nothing.
	FailIfMissing Missing = iota
	// SkipIfMissing does nothing and reports Result.Skipped (Rapyer's
	// ignore-if-deleted; rapyer.SkipIfMissing() per call). A batch that
	// only deletes its models (ops.Delete, as rapyer's Model.Delete), all
	// of them missing, still deletes, in its step, the collection keys and
	// index entries they left without their roots (evicted, deleted by
	// hand).
	SkipIfMissing
	// MustBeNew is the reverse: the batch fails with rapyer.ErrExists when a model
	// it touches exists already (creating a model under a chosen id).
	// A model it creates starts empty: collection keys found without their
	// root (an evicted root leaves them) are deleted in the same step. A
	// batch with ops.Exists (the model must exist) fails with
	// rapyer.ErrInvalid before anything is sent.
	MustBeNew
)

// Options configure an execution. The zero value works; a field is zero for
// its default, a named negative value turns a thing off (NoRecord,
// NoResends, Unlimited), and a value no execution can take (see IfMissing,
// Record and Retry) is refused with rapyer.ErrInvalid before anything is sent (by
// rapyer.New when it is a model's default). Which model each op runs on is
// not an option: it is the op's binding (On, Batch.On).
type Options struct {
	// IfMissing: fail when a model is missing (FailIfMissing, the
	// default), do nothing (SkipIfMissing), or fail when it exists
	// (MustBeNew). Any other value is refused with rapyer.ErrInvalid
	// before anything is sent.
	IfMissing Missing
	// Record is how long the server remembers that a batch was applied (its
	// record), so that a resend after a lost reply is answered from the
	// record instead of being applied twice. 0 means DefaultRecord (10s);
	// NoRecord (any negative value) keeps no record; a lifetime below a
	// millisecond, or past some 194 years (the longest whose refresh, half
	// as long again, is still a time.Duration), is refused with
	// rapyer.ErrInvalid before anything is sent.
	Record time.Duration
	// Resends is how many times Exec resends a batch whose reply was lost
	// before it gives up with rapyer.ErrUnknownOutcome; resends are safe because of
	// the record, and Exec stops resending once a resend could reach the
	// server after the record expired (see Exec). Zero means
	// DefaultResends (2); NoResends (any negative value) means none;
	// always none with NoRecord.
	Resends int
	// StrictSlots refuses batches whose keys span cluster slots on every
	// client, not only on cluster clients, so that code tested on one server
	// fails the same way it would on a cluster.
	StrictSlots bool
	// Retry bounds the attempts of optimistic updates.
	Retry Retry
	// Budget bounds the work one batch may ask of the server, so that no
	// single request holds it for long; the zero value is the default
	// budget (DefaultBytes, DefaultMoves). A batch over it fails with
	// rapyer.ErrTooLarge before anything is written.
	Budget Budget
}

// Budget is the work one batch may ask of the server beyond handling the
// data it sends. Ops whose server time grows with an argument rather than
// with what the caller sends are counted against it, in the check phase,
// before the first write; a batch over either budget fails with an error
// wrapping rapyer.ErrTooLarge that names the op, its cost and the budget. The costs
// of every op are in the ops package documentation and docs/concepts.md.
//
// Raise a budget for a batch that needs it (Budget{Moves: 1_000_000}), or
// lift it with Unlimited; whatever the budget, no op may make a value above
// 512 MB, Redis's own limit (proto-max-bulk-len).
type Budget struct {
	// Bytes is how many bytes of text the batch's text ops may make on the
	// server, summed over the batch: AppendText makes the new text (the
	// old one and what it appends), Repeat the repeated text. 0 means
	// DefaultBytes; negative (Unlimited) means no budget.
	Bytes int64
	// Moves is how many list elements the batch's list ops may move or
	// scan, summed over the batch: Insert and RemoveRange rewrite the
	// elements on the shorter side of the index, PopAt scans them. Ops at
	// either end of a list (Append, Prepend, PopFirst, PopLast, Insert at 0
	// or at the end), SetAt and Trim move none. 0 means DefaultMoves;
	// negative (Unlimited) means no budget.
	Moves int64
}

// The default budgets, chosen so that the longest batch they allow holds a
// redis-server for some tens of milliseconds (docs/performance.md, the
// stall table of make bench), and Unlimited, which lifts a budget.
const (
	// DefaultBytes is 2 MiB of text made by the batch's text ops.
	DefaultBytes = 2 << 20
	// DefaultMoves is 50,000 list elements moved or scanned.
	DefaultMoves = 50_000
	// Unlimited, as Budget.Bytes or Budget.Moves, lifts that budget.
	Unlimited = -1
)

// header is the budget as the program header carries it: 0 for none.
func (b Budget) header() (bytes, moves int64) {
	return budget(b.Bytes, DefaultBytes), budget(b.Moves, DefaultMoves)
}

func budget(v, def int64) int64 {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

// DefaultRecord is the lifetime of a batch record when Options.Record is 0.
//
// Measured on Redis 7.0.15 (make bench, "record memory"): a record costs
// about 110 bytes (key, value, expiry entry and their share of the two hash
// tables) when no op of the batch yields a value, 144-165 bytes when it
// keeps results (a counter's new value, a length); the key is
// tx{<slot tag>}:<id>, 24 bytes whatever the model (keys.Tx). At 50000
// batches/s sustained, 10s keeps 500000 records: 55-83 MB, within the 100 MB
// the design allows (DESIGN 5.7); 13s would be the most it allows. A lifetime
// of 60s (the old default) would hold 330-500 MB.
//
// The lifetime is long enough for every resend Exec makes: a batch is sent
// inside MULTI/EXEC, which go-redis never resends after writing it, and Exec
// starts a resend only within half the lifetime of the first send (5s), with
// its wait for a connection and its dial bounded by that deadline; the other
// half covers the time a request takes from the start of its write to being
// run by the server.
const DefaultRecord = 10 * time.Second

// NoRecord switches batch records off: the server keeps no record, so a
// batch costs no memory after it ran, no GET and no SET, and nothing in the
// AOF or replication stream beyond its own writes. A batch whose reply is
// lost is then never resent (neither by Exec nor by go-redis, whatever its
// MaxRetries: the batch travels in MULTI/EXEC); the caller gets an error
// for which errors.Is(err, rapyer.ErrUnknownOutcome) holds, and the batch was
// applied once or not at all.
const NoRecord time.Duration = -1

// record is the record lifetime: 0 for none. It refuses, with
// rapyer.ErrInvalid, options no execution can take: an IfMissing that is
// none of the Missing constants, a Record below a millisecond or past some
// 194 years, a negative or inverted Retry.
func (o Options) record() (time.Duration, error) {
	if err := optcheck.Exec("tx.Options", int(o.IfMissing), o.Record); err != nil {
		return 0, err
	}
	if err := optcheck.Retry("tx.Options.Retry", o.Retry.Attempts, o.Retry.Backoff, o.Retry.MaxBackoff); err != nil {
		return 0, err
	}
	switch {
	case o.Record < 0:
		return 0, nil
	case o.Record == 0:
		return DefaultRecord, nil
	}
	return o.Record, nil
}

// DefaultResends is Options.Resends when it is zero.
const DefaultResends = 2

// NoResends, as Options.Resends, makes Exec resend no batch whose reply was
// lost: such a batch fails at once with rapyer.ErrUnknownOutcome (it was
// applied once or not at all). Its record is still kept (see NoRecord).
const NoResends = -1

func (o Options) resends() int {
	switch {
	case o.Resends < 0:
		return 0
	case o.Resends == 0:
		return DefaultResends
	}
	return o.Resends
}

func (o Options) mode() prog.Mode {
	switch o.IfMissing {
	case SkipIfMissing:
		return prog.Skip
	case MustBeNew:
		return prog.Fresh
	}
	return prog.Need
}

// Result is what an executed batch reports.
type Result struct {
	// Skipped: a model was missing and the batch ran with SkipIfMissing, so
	// nothing was done.
	Skipped bool
	// Duplicate: the reply was lost and a resend found the batch applied
	// once already; the results are those of that one application, unless
	// they were too large to keep (ResultsNotKept).
	Duplicate bool
	// ResultsNotKept: a duplicate whose results were larger than a record
	// keeps (1 KiB of encoding). The batch was applied once; the Result
	// methods of its yielding ops return an error wrapping
	// rapyer.ErrResultsNotKept.
	ResultsNotKept bool
	// Attempts is how many times an optimistic update ran its decision (1
	// for atomic batches).
	Attempts int
	// The reply of each instruction and the op it belongs to; a map once
	// there are many, so that reading every result stays linear.
	owners  []ops.Op
	vals    []any
	replies map[ops.Op]any
	// room for the owners of a short batch (a Save has two instructions)
	ownerRoom [2]ops.Op
}

// Reply returns the raw reply of op; the Result methods of yielding ops
// (ops.Yield, ops.Maybe, ops.Pair) read it typed.
func (r *Result) Reply(op ops.Op) (any, bool) {
	if r == nil || op == nil {
		return nil, false
	}
	if r.ResultsNotKept {
		return ops.NotKept, true
	}
	if r.replies != nil {
		v, ok := r.replies[op]
		return v, ok
	}
	// An op with several instructions answers with its last.
	for i := len(r.owners) - 1; i >= 0; i-- {
		if r.owners[i] == op {
			if i < len(r.vals) {
				return r.vals[i], true
			}
			return nil, true
		}
	}
	return nil, false
}

// manyReplies is the size from which a Result indexes its replies.
const manyReplies = 16

func newResult(p *prog.Program, out *transport.Outcome) *Result {
	r := &Result{Skipped: out.Skipped, Duplicate: out.Duplicate, ResultsNotKept: out.NotKept, Attempts: 1}
	if out.Skipped || out.NotKept {
		return r
	}
	if len(p.Instrs) <= manyReplies {
		r.owners = r.ownerRoom[:0]
		if len(p.Instrs) > len(r.ownerRoom) {
			r.owners = make([]ops.Op, 0, len(p.Instrs))
		}
		r.owners = r.owners[:len(p.Instrs)]
		for i, in := range p.Instrs {
			r.owners[i], _ = in.Owner.(ops.Op)
		}
		r.vals = out.Results
		return r
	}
	r.replies = make(map[ops.Op]any, len(p.Instrs))
	for i, in := range p.Instrs {
		op, ok := in.Owner.(ops.Op)
		if !ok {
			continue
		}
		var v any
		if i < len(out.Results) {
			v = out.Results[i]
		}
		r.replies[op] = v
	}
	return r
}

// Exec runs a batch atomically: one round trip (two after the server lost its
// script cache, and for the first batch of a client, which learns with an
// empty program whether the server runs functions), every guard and stored
// type checked before the first write, all or nothing.
//
// The batch travels in MULTI/EXEC, which go-redis never resends blindly. A
// batch whose reply is lost is resent by Exec with the same id, which the
// server recognises from its record (Options.Record): it is applied once, and
// Exec returns its result with Duplicate set. Exec resends only while a
// resend starts within half the record's lifetime of the first send (5s by
// default), so that the record outlives every send that can reach the
// server;
// when no resend settles it, or the batch has no record (NoRecord), Exec
// returns an error wrapping rapyer.ErrUnknownOutcome (and the network error): the
// batch was applied once or not at all. An error that says nothing was sent
// (a closed client, a refused dial, an exhausted pool, a context done before
// sending) does not wrap rapyer.ErrUnknownOutcome: nothing was applied. A refusal
// by the server wraps rapyer.ErrNoPermission (an ACL) or rapyer.ErrRefused.
func Exec(ctx context.Context, rdb redis.UniversalClient, b Batch, opts Options) (*Result, error) {
	if err := errs.NilContext(ctx, "Exec"); err != nil {
		return nil, err
	}
	if errs.NilClient(rdb) {
		return nil, fmt.Errorf("%w: Exec: nil client", errs.Invalid)
	}
	if b.Len() == 0 {
		if _, err := opts.record(); err != nil {
			return nil, err
		}
		return &Result{Attempts: 1}, nil
	}
	if r, done, err := saveDirect(ctx, rdb, b, opts, ""); done {
		return r, err
	}
	if r, done, err := lockDirect(ctx, rdb, b, opts, ""); done {
		return r, err
	}
	pb, err := compile(b, opts.mode())
	if err != nil {
		return nil, err
	}
	p, err := build(pb, rdb, opts)
	if err != nil {
		return nil, err
	}
	return execProgram(ctx, rdb, p, opts)
}

// execProgram runs a built program: Exec's sends, its reply decoded.
func execProgram(ctx context.Context, rdb redis.UniversalClient, p *prog.Program, opts Options) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, reply.NotSent(err)
	}
	reply, err := run(ctx, rdb, call{p: p}, opts)
	if err != nil {
		return nil, err
	}
	var out transport.Outcome
	if err := transport.DecodeInto(&out, p, reply); err != nil {
		return nil, err
	}
	return newResult(p, &out), nil
}

// build lays out a compiled batch with a fresh id and checks its slots and
// its record lifetime.
func build(pb *prog.Builder, rdb redis.UniversalClient, opts Options) (*prog.Program, error) {
	// the fresh id and the record key, which ends with it, made as one
	// string: the id is the key's tail (two allocations fewer a batch
	// than an id of its own and a key made from it)
	var room [64]byte
	k := keys.AppendTxPrefix(room[:0], pb.FirstRoot())
	at := len(k)
	rec := string(random.AppendShort(k, batchIDBytes))
	return buildRec(pb, rdb, opts, rec[at:], rec)
}

// batchIDBytes is the random bytes of a batch id: 96 bits in 16
// characters, so that the record key stays short.
const batchIDBytes = 12

// buildAs is build with the batch id id.
func buildAs(pb *prog.Builder, rdb redis.UniversalClient, opts Options, id string) (*prog.Program, error) {
	return buildRec(pb, rdb, opts, id, "")
}

// buildRec is buildAs with the record key rec of id made already ("":
// made here when the batch keeps a record).
func buildRec(pb *prog.Builder, rdb redis.UniversalClient, opts Options, id, rec string) (*prog.Program, error) {
	life, err := opts.record()
	if err != nil {
		return nil, err
	}
	h := prog.Header{ID: id}
	h.Bytes, h.Moves = opts.Budget.header()
	if life > 0 {
		if rec == "" {
			rec = keys.Tx(pb.FirstRoot(), id)
		}
		h.Record, h.RecordMS = rec, life.Milliseconds()
	}
	p := pb.Build(h)
	if _, cluster := rdb.(*redis.ClusterClient); cluster || opts.StrictSlots {
		if err := sameSlot(p.Keys); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func sameSlot(ks []string) error {
	if len(ks) == 0 {
		return nil
	}
	s := keys.Slot(ks[0])
	for _, k := range ks[1:] {
		if keys.Slot(k) != s {
			return fmt.Errorf("%w: %s is in slot %d, %s in slot %d; give the models one hash tag", errs.CrossSlot, ks[0], s, k, keys.Slot(k))
		}
	}
	return nil
}

// run sends the program in MULTI/EXEC and resends it, with the same id,
// while its replies are lost and a resend is safe.
//
// Why MULTI/EXEC: go-redis resends a plain command whose reply it lost
// (MaxRetries, 3 by default), which would apply a batch without a record
// twice, and could resend one with a record after the record expired. It
// never resends a transaction it wrote (only one whose write failed, which
// the server never runs). So every resend is Exec's own, and Exec times
// them: a resend is made only when the program has a record, and only while
// it starts within half the record's lifetime of the first send (resendBy).
// The other half covers the time a request can take from the start of its
// write to being run by the server.
//
// Errors: a reply of the server (the command did not run) is typed:
// rapyer.ErrNoPermission for NOPERM, rapyer.ErrRefused otherwise. An error that says the
// request never left the client (a closed client, no connection from the
// pool, a failed dial, a context done before sending) is returned wrapped, as
// is: nothing was applied. Any other error means the request may have
// reached the server: when no resend settles it, the error wraps
// rapyer.ErrUnknownOutcome.
func run(ctx context.Context, rdb redis.UniversalClient, p call, opts Options) (any, error) {
	life, _ := opts.record()
	start := time.Now()
	var last error // the error of a send that may have reached the server
	moving, resends := 0, 0
	sctx := ctx
	for {
		res, err := send(sctx, rdb, p)
		if err == nil {
			return res, nil
		}
		switch {
		case reply.FromServer(err) && movingOn(rdb, err) && moving < maxMoving:
			moving++
			if err := waitForSlot(ctx, rdb, p, moving, last, start, life); err != nil {
				return nil, err
			}
			continue
		case reply.FromServer(err):
			if last != nil {
				return nil, fmt.Errorf("%w: the reply was lost, and a resend was refused (%w): %w", errs.UnknownOutcome, reply.Refused(err), last)
			}
			return nil, reply.Refused(err)
		case notSent(err):
			if last == nil {
				return nil, fmt.Errorf("%w: %w", errs.NotSent, err)
			}
		default:
			last = err
		}
		if ctx.Err() != nil || p.Record() == "" || resends >= opts.resends() {
			break
		}
		resends++
		wait := time.Duration(resends) * 20 * time.Millisecond
		by, ok := resendBy(rdb, start, life)
		if !ok || time.Now().Add(wait).After(by) {
			break
		}
		if err := backoff.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%w: %w (after: %w)", errs.UnknownOutcome, err, last)
		}
		if sctx != ctx {
			continue
		}
		var cancel context.CancelFunc
		sctx, cancel = context.WithDeadline(ctx, by)
		defer cancel()
	}
	if p.Record() == "" {
		return nil, fmt.Errorf("%w: the reply was lost, and a batch without a record is never resent: %w", errs.UnknownOutcome, last)
	}
	return nil, fmt.Errorf("%w: the reply was lost and no resend got through: %w", errs.UnknownOutcome, last)
}

// waitForSlot waits before the n-th send of p again (the same id) after
// the server said the slot is being migrated or failed over: the server did
// not run the batch. The send goes past the redirections go-redis already
// followed. last is the error of an earlier send that may have reached the
// server: then the wait must leave time for a resend the record can settle.
func waitForSlot(ctx context.Context, rdb redis.UniversalClient, p call, n int, last error, start time.Time, life time.Duration) error {
	if err := backoff.Sleep(ctx, movingWait(n)); err != nil {
		return unsent(last, err)
	}
	if c, ok := rdb.(*redis.ClusterClient); ok {
		c.ReloadState(ctx)
	}
	if last != nil && !resendable(rdb, p, start, life) {
		return fmt.Errorf("%w: the reply was lost and the record could expire before a resend: %w", errs.UnknownOutcome, last)
	}
	return nil
}

// unsent is the error of a wait that ended before a send.
func unsent(last, err error) error {
	if last != nil {
		return fmt.Errorf("%w: %w (after: %w)", errs.UnknownOutcome, err, last)
	}
	return err
}

// resendable reports whether a resend may still be sent now.
func resendable(rdb redis.UniversalClient, p call, start time.Time, life time.Duration) bool {
	if p.Record() == "" {
		return false
	}
	by, ok := resendBy(rdb, start, life)
	return ok && time.Now().Before(by)
}

// resendBy is the latest time a resend may start: half the record's
// lifetime after the first send started. The resend's wait for a pooled
// connection and its dial are bounded by a context deadline at that time
// (its write too when the client has ContextTimeoutEnabled); the other half
// of the lifetime covers the time a request whose write started can take to
// be run by the server (a write blocked on a full socket, a busy server).
func resendBy(_ redis.UniversalClient, start time.Time, life time.Duration) (time.Time, bool) {
	if life <= 0 {
		return time.Time{}, false
	}
	return start.Add(life / 2), true
}

// send sends the program once in MULTI/EXEC (twice or three times when the
// server lacked the function or the script: those replies mean it did not
// run).
func send(ctx context.Context, rdb redis.UniversalClient, p call) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, reply.NotSent(err)
	}
	if p.d != nil {
		return p.d.send(ctx, rdb)
	}
	return transport.RunTx(ctx, rdb, p.p)
}

// call is what run sends: a program, or a Save's direct call (d, which
// sends its program once it has one).
type call struct {
	p *prog.Program
	d *direct
}

// Record is the key of the call's batch record ("" for none).
func (c call) Record() string {
	if c.d != nil {
		return c.d.rec
	}
	return c.p.Record()
}

// notSent reports whether err says that the request never left the client:
// the client is closed, the pool gave no connection, the dial failed, or the
// context ended while waiting for one of these. Inside MULTI/EXEC these are
// also the only errors after which go-redis resent a transaction (a write
// that failed), so nothing of the batch ran.
func notSent(err error) bool {
	return errors.Is(err, script.ErrNotRun) || reply.Unsent(err)
}

// maxMoving bounds the resends of a batch refused while its slot moves
// (about ten seconds of waiting in all).
const maxMoving = 60

func movingWait(n int) time.Duration { return time.Duration(min(n, 20)) * 10 * time.Millisecond }

// movingOn is isMoving for a refusal that reached client rdb: a
// redirection (MOVED, ASK) that reached a client of one node is not a
// moving slot but a client pointed at a cluster node, which never follows
// it (reply.Refused types it ErrCrossSlot, with a hint).
func movingOn(rdb redis.UniversalClient, err error) bool {
	if _, cluster := rdb.(*redis.ClusterClient); !cluster && reply.Redirected(err) {
		return false
	}
	return isMoving(err)
}

// isMoving reports whether err is a refusal of a cluster whose slot is
// moving (a migration, a failover, a restarting node): the command did not
// run and may be sent again.
func isMoving(err error) bool {
	s := err.Error()
	for _, p := range []string{"TRYAGAIN", "ASK ", "MOVED ", "CLUSTERDOWN", "LOADING", "MASTERDOWN", "READONLY"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
