package tx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/ops"
)

// The errors of package tx; errors.Is matches them whichever package's name a
// caller uses (rapyer.ErrNotFound is tx.ErrNotFound).
var (
	ErrNotFound       = errs.NotFound
	ErrExists         = errs.Exists
	ErrPrecondition   = errs.Precondition
	ErrConflict       = errs.Conflict
	ErrCrossSlot      = errs.CrossSlot
	ErrUnknownOutcome = errs.UnknownOutcome
	ErrWrongType      = errs.WrongType
	ErrCorrupt        = errs.Corrupt
	ErrOverflow       = errs.Overflow
	ErrOutOfRange     = errs.OutOfRange
	ErrInvalid        = errs.InvalidArgument
	ErrLockLost       = errs.LockLost
	ErrPartlyApplied  = errs.PartlyApplied
	ErrNoPermission   = errs.NoPermission
	ErrTooLarge       = errs.TooLarge
	ErrRefused        = errs.Refused
	ErrUnsupported    = errs.Unsupported
)

// Missing says what a batch does when a model it touches does not exist.
type Missing int

// The choices.
const (
	// FailIfMissing fails the batch with ErrNotFound and creates nothing.
	FailIfMissing Missing = iota
	// SkipIfMissing does nothing and reports Result.Skipped (Rapyer's
	// ignore-if-deleted).
	SkipIfMissing
	// MustBeNew is the reverse: the batch fails with ErrExists when a model
	// it touches exists already (creating a model under a chosen id).
	MustBeNew
)

// Options configure an execution. The zero value works.
type Options struct {
	// Target is the model unbound ops run on.
	Target Target
	// IfMissing: fail (the default) or skip when a model is missing.
	IfMissing Missing
	// Record is how long the server remembers that a batch was applied, so
	// that a resend after a lost reply (go-redis's own retries included) is
	// answered from the record instead of being applied twice. Default 60s.
	Record time.Duration
	// Resends is how many times Exec resends a batch whose reply was lost
	// before it gives up with ErrUnknownOutcome; resends are safe because of
	// the record. Default 2; negative for none.
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
	// ErrTooLarge before anything is written.
	Budget Budget
}

// Budget is the work one batch may ask of the server beyond handling the
// data it sends. Ops whose server time grows with an argument rather than
// with what the caller sends are counted against it, in the check phase,
// before the first write; a batch over either budget fails with an error
// wrapping ErrTooLarge that names the op, its cost and the budget. The costs
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

func (o Options) record() time.Duration {
	if o.Record <= 0 {
		return time.Minute
	}
	return o.Record
}

func (o Options) resends() int {
	switch {
	case o.Resends < 0:
		return 0
	case o.Resends == 0:
		return 2
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
	// once already; the results are those of that one application.
	Duplicate bool
	// Attempts is how many times an optimistic update ran its decision (1
	// for atomic batches).
	Attempts int
	// The reply of each instruction and the op it belongs to; a map once
	// there are many, so that reading every result stays linear.
	owners  []ops.Op
	vals    []any
	replies map[ops.Op]any
}

// Reply returns the raw reply of op; the Result methods of yielding ops
// (ops.Yield, ops.Maybe, ops.Pair) read it typed.
func (r *Result) Reply(op ops.Op) (any, bool) {
	if r == nil || op == nil {
		return nil, false
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

func newResult(p *prog.Program, out *prog.Outcome) *Result {
	r := &Result{Skipped: out.Skipped, Duplicate: out.Duplicate, Attempts: 1}
	if out.Skipped {
		return r
	}
	if len(p.Instrs) <= manyReplies {
		r.owners = make([]ops.Op, len(p.Instrs))
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
// script cache), every guard and stored type checked before the first write,
// all or nothing.
//
// A batch whose reply is lost is resent with the same id, which the server
// recognises: it is applied once, and Exec returns its result with Duplicate
// set. When no resend gets through, Exec returns an error wrapping
// ErrUnknownOutcome (and the network error): the batch may or may not have
// been applied.
func Exec(ctx context.Context, rdb redis.UniversalClient, b Batch, opts Options) (*Result, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: nil client", errs.InvalidArgument)
	}
	if b.Len() == 0 {
		return &Result{Attempts: 1}, nil
	}
	pb, err := compile(b, opts.Target, opts.mode())
	if err != nil {
		return nil, err
	}
	p, err := build(pb, rdb, opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	reply, err := run(ctx, rdb, p, opts)
	if err != nil {
		return nil, err
	}
	out, err := p.Decode(reply)
	if err != nil {
		return nil, err
	}
	return newResult(p, out), nil
}

// build lays out a compiled batch with a fresh id and checks its slots.
func build(pb *prog.Builder, rdb redis.UniversalClient, opts Options) (*prog.Program, error) {
	targets := pb.Targets()
	id := newID()
	bytes, moves := opts.Budget.header()
	p := pb.Build(prog.Header{ID: id, Record: keys.Tx(targets[0].Root, id), RecordMS: opts.record().Milliseconds(), Bytes: bytes, Moves: moves})
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

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// run sends the program, resending it with the same id while replies are lost.
func run(ctx context.Context, rdb redis.UniversalClient, p *prog.Program, opts Options) (any, error) {
	var last error
	moving := 0
	for attempt := 0; attempt <= opts.resends(); attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, time.Duration(attempt)*20*time.Millisecond); err != nil {
				return nil, fmt.Errorf("%w: %w (after: %v)", errs.UnknownOutcome, err, last)
			}
		}
		reply, err := p.Run(ctx, rdb)
		if err == nil {
			return reply, nil
		}
		if isServerError(err) && isMoving(err) && moving < maxMoving {
			// The slot is being migrated or failed over: the server did not
			// run the batch. Wait and send it again (the same id), past the
			// redirections go-redis already followed.
			moving++
			attempt--
			if err := sleep(ctx, movingWait(moving)); err != nil {
				return nil, fmt.Errorf("%w: %w (after: %v)", errs.UnknownOutcome, err, last)
			}
			if c, ok := rdb.(*redis.ClusterClient); ok {
				c.ReloadState(ctx)
			}
			continue
		}
		if isServerError(err) {
			return nil, fmt.Errorf("rapyer: the server refused the batch: %w", err)
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: the reply was lost and no resend got through: %w", errs.UnknownOutcome, last)
}

// maxMoving bounds the resends of a batch refused while its slot moves
// (about ten seconds of waiting in all).
const maxMoving = 60

func movingWait(n int) time.Duration { return time.Duration(min(n, 20)) * 10 * time.Millisecond }

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

// isServerError reports whether err is a reply from the server, so that the
// command is known not to have run (the script itself never fails: it turns
// every failure into a reply).
func isServerError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.ErrClosed)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
