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
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/transport"
)

// Retry bounds the attempts of an optimistic update. The zero value works:
// DefaultAttempts (16) attempts, backoff from DefaultBackoff (1ms) doubling
// to DefaultMaxBackoff (100ms), each wait drawn at random between half and
// all of its bound (jitter), so that contenders spread out. A field is zero
// for its default; a negative field, or a Backoff longer than the
// MaxBackoff given, is refused with rapyer.ErrInvalid naming the field,
// before anything is sent (by tx.Exec and Optimistic, by rapyer.New for a
// model's defaults and by the call for rapyer.WithRetry), as lock.Options
// refuses a negative TTL or RetryMin.
type Retry struct {
	// Attempts is the most attempts in all, the first included; zero means
	// DefaultAttempts; negative is refused with rapyer.ErrInvalid.
	Attempts int
	// Backoff bounds the wait after the first conflict; it doubles after
	// each further one. Zero means DefaultBackoff; negative is refused
	// with rapyer.ErrInvalid. A Backoff longer than DefaultMaxBackoff,
	// with MaxBackoff zero, raises the cap to Backoff.
	Backoff time.Duration
	// MaxBackoff caps the doubling bound; zero means DefaultMaxBackoff;
	// negative, or shorter than the Backoff given, is refused with
	// rapyer.ErrInvalid.
	MaxBackoff time.Duration
}

// The defaults of a zero Retry.
const (
	// DefaultAttempts is Retry.Attempts when it is zero.
	DefaultAttempts = 16
	// DefaultBackoff is Retry.Backoff when it is zero.
	DefaultBackoff = time.Millisecond
	// DefaultMaxBackoff is Retry.MaxBackoff when it is zero.
	DefaultMaxBackoff = 100 * time.Millisecond
)

func (r Retry) attempts() int {
	if r.Attempts <= 0 {
		return DefaultAttempts
	}
	return r.Attempts
}

func (r Retry) wait(attempt int) time.Duration {
	base, top := r.Backoff, r.MaxBackoff
	if base <= 0 {
		base = DefaultBackoff
	}
	if top <= 0 {
		top = max(DefaultMaxBackoff, base)
	}
	return backoff.Delay(base, top, attempt)
}

// Read queues the reads of one attempt of an optimistic update on p, and
// returns the function that decides the batch once they have run. Decide sees
// the replies of the queued commands; it may run more than once and must
// have no side effects beyond its result. Its error ends the update (no
// retry) and is returned as is.
type Read func(p redis.Pipeliner) (decide func() (Batch, error))

// Optimistic runs a read-decide-write update under WATCH: it watches keys
// and runs read's commands in one round trip, lets decide choose a batch from
// what they returned, and runs that batch in MULTI/EXEC (the second round
// trip). When another client wrote a watched key meanwhile, EXEC does nothing
// and the update starts again after a jittered backoff, up to the attempts of
// opts.Retry; then it fails with rapyer.ErrConflict. The context is honoured between
// and during attempts.
//
// Decide can see a snapshot torn by a concurrent write (the reads of one
// attempt are not one transaction); the batch it then returns is never
// applied, because the write also touched a watched key.
//
// All keys must be in one cluster slot. Result.Attempts says how many attempts
// ran.
func Optimistic(ctx context.Context, rdb redis.UniversalClient, watch []string, read Read, opts Options) (*Result, error) {
	if err := errs.NilContext(ctx, "Optimistic"); err != nil {
		return nil, err
	}
	if errs.NilClient(rdb) {
		return nil, fmt.Errorf("%w: Optimistic: nil client", errs.Invalid)
	}
	if len(watch) == 0 || read == nil {
		return nil, fmt.Errorf("%w: Optimistic: no keys to watch, or no read", errs.Invalid)
	}
	if _, err := opts.record(); err != nil {
		return nil, err
	}
	if err := sameSlot(watch); err != nil {
		if _, cluster := rdb.(*redis.ClusterClient); cluster || opts.StrictSlots {
			return nil, err
		}
	}
	var last error
	for attempt := 1; attempt <= opts.Retry.attempts(); attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, reply.NotSent(err)
		}
		res, err := attemptOnce(ctx, rdb, watch, read, opts)
		switch {
		case err == nil:
			res.Attempts = attempt
			return res, nil
		case errors.Is(err, errRetry):
			last = err
			// no wait after the last attempt: no attempt follows it
			if attempt == opts.Retry.attempts() {
				break
			}
			if err := backoff.Sleep(ctx, opts.Retry.wait(attempt-1)); err != nil {
				return nil, reply.NotSent(err)
			}
		default:
			// An error that says the request never left the client (WATCH
			// or EXEC refused a closed client, say) sent nothing.
			return nil, reply.NotSent(err)
		}
	}
	return nil, fmt.Errorf("%w: %d attempts met concurrent writes (%v)", errs.Conflict, opts.Retry.attempts(), last)
}

// errRetry marks an attempt that should run again: a WATCH conflict, a lost
// script, a moved slot.
var errRetry = errors.New("retry")

// attempt is one attempt of an optimistic update: its reads under WATCH,
// the decision, and the batch in MULTI/EXEC.
type attempt struct {
	ctx    context.Context
	rdb    redis.UniversalClient
	watch  []string
	read   Read
	opts   Options
	result *Result
}

func attemptOnce(ctx context.Context, rdb redis.UniversalClient, watch []string, read Read, opts Options) (*Result, error) {
	a := &attempt{ctx: ctx, rdb: rdb, watch: watch, read: read, opts: opts}
	var err error
	switch c := rdb.(type) {
	case *redis.Client:
		err = c.Watch(ctx, a.txFunc(true))
	case *redis.ClusterClient:
		node, nerr := c.MasterForKey(ctx, watch[0])
		if nerr != nil {
			return nil, nerr
		}
		err = node.Watch(ctx, a.txFunc(true))
		if err != nil && isMoving(err) {
			c.ReloadState(ctx)
			return nil, fmt.Errorf("%w: %v", errRetry, err)
		}
		if errors.Is(err, errRetry) {
			c.ReloadState(ctx)
		}
	default:
		err = rdb.Watch(ctx, a.txFunc(false), watch...)
	}
	if err != nil {
		return nil, typedBeforeExec(err)
	}
	return a.result, nil
}

// txFunc is the attempt as go-redis's Watch runs it. With pipelineWatch
// the WATCH itself is sent in the read pipeline (one round trip fewer).
func (a *attempt) txFunc(pipelineWatch bool) func(t *redis.Tx) error {
	return func(t *redis.Tx) error {
		// The WATCH travels in the read pipeline, so go-redis does not
		// know of it and would put the connection back in its pool still
		// watching when the attempt ends before EXEC (decide failed or
		// chose nothing, a read failed): the next transaction on that
		// connection would then abort for nothing. UNWATCH it.
		execSent := false
		defer func() {
			if pipelineWatch && !execSent {
				_ = t.Unwatch(context.WithoutCancel(a.ctx)).Err()
			}
		}()
		p, err := a.decide(t, pipelineWatch)
		if err != nil || p == nil {
			return err
		}
		execSent = true
		return a.exec(t, p)
	}
}

// decide runs the reads (and the WATCH, with pipelineWatch) in one round
// trip and builds the program of the batch decide chose: nil when it chose
// nothing (the attempt's result is then empty).
func (a *attempt) decide(t *redis.Tx, pipelineWatch bool) (*prog.Program, error) {
	var decide func() (Batch, error)
	_, err := t.Pipelined(a.ctx, func(p redis.Pipeliner) error {
		if pipelineWatch {
			args := make([]any, 0, len(a.watch)+1)
			args = append(args, "watch")
			for _, k := range a.watch {
				args = append(args, k)
			}
			p.Do(a.ctx, args...)
		}
		decide = a.read(p)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, a.readError(err)
	}
	b, err := decide()
	if err != nil {
		return nil, err
	}
	if b.Len() == 0 {
		a.result = &Result{}
		return nil, nil
	}
	pb, err := compile(b, a.opts.mode())
	if err != nil {
		return nil, err
	}
	return build(pb, a.rdb, a.opts)
}

// exec sends the program in MULTI/EXEC and reads what came of it.
func (a *attempt) exec(t *redis.Tx, p *prog.Program) error {
	var cmd *redis.Cmd
	_, err := t.TxPipelined(a.ctx, func(pipe redis.Pipeliner) error {
		cmd = transport.Queue(a.ctx, a.rdb, pipe, p)
		return nil
	})
	if reply.MultiRefused(err) {
		// the batch ran outside the transaction, WATCH unheeded, unread
		return reply.RanOutsideMulti(err)
	}
	if err != nil && cmd != nil && script.Missing(cmd.Err()) {
		// The server lacked the function or the script (a restart,
		// FUNCTION FLUSH, SCRIPT FLUSH, a server without functions):
		// nothing ran. Load what is missing and start again.
		again, lerr := transport.Interpreter.Recover(a.ctx, a.rdb, cmd.Err())
		if lerr != nil {
			return lerr
		}
		if again {
			return fmt.Errorf("%w: Lua loaded", errRetry)
		}
	}
	if err != nil && reply.FromServer(err) && cmd != nil && reply.FromServer(cmd.Err()) {
		// The reason EXEC was refused (EXECABORT) or the call failed.
		err = cmd.Err()
	}
	if err != nil {
		return a.execFailed(p, err)
	}
	out, err := transport.Decode(p, cmd.Val())
	if err != nil {
		return err
	}
	a.result = newResult(p, out)
	return nil
}

// execFailed reads the error of a MULTI/EXEC: a conflict or a moved slot to
// try again, a refusal, a batch never sent, or a lost reply that the
// batch's record may settle.
func (a *attempt) execFailed(p *prog.Program, err error) error {
	switch {
	case errors.Is(err, redis.TxFailedErr):
		return fmt.Errorf("%w: watched keys changed", errRetry)
	case reply.FromServer(err) && (movingOn(a.rdb, err) || strings.HasPrefix(err.Error(), "EXECABORT")):
		// EXEC discarded the transaction (its EVALSHA met a moving
		// slot): nothing ran; start again with a fresh view.
		return fmt.Errorf("%w: %v", errRetry, err)
	case reply.FromServer(err):
		return reply.Refused(err)
	case notSent(err):
		return fmt.Errorf("%w: %w", errs.NotSent, err)
	case p.Record() == "":
		return fmt.Errorf("%w: the reply to EXEC was lost, and the batch keeps no record: %w", errs.UnknownOutcome, err)
	}
	out, perr := probe(context.WithoutCancel(a.ctx), a.rdb, p)
	if perr != nil {
		return fmt.Errorf("%w: the reply to EXEC was lost: %w", errs.UnknownOutcome, err)
	}
	a.result = newResult(p, out)
	return nil
}

func (a *attempt) readError(err error) error {
	if movingOn(a.rdb, err) {
		return fmt.Errorf("%w: %v", errRetry, err)
	}
	if reply.IsWrongType(err) {
		return reply.WrongType("", err)
	}
	if reply.FromServer(err) {
		// Nothing was written: the reads come before the batch.
		return reply.Refused(err)
	}
	if reply.Lost(err) {
		// A network error in the reads: the batch was not sent.
		return fmt.Errorf("%w: the reads before the batch failed: %w", errs.NotSent, err)
	}
	return err
}

// probe asks the server whether the batch of p was applied, from its record.
func probe(ctx context.Context, rdb redis.UniversalClient, p *prog.Program) (*transport.Outcome, error) {
	var last error
	for i := 0; i < 3; i++ {
		s, err := rdb.Get(ctx, p.Record()).Result()
		if err == nil {
			reply, err := transport.DecodeRecord(s)
			if err != nil {
				return nil, err
			}
			return transport.Decode(p, reply)
		}
		if errors.Is(err, redis.Nil) {
			return nil, errors.New("no record: the batch was not applied, or not yet")
		}
		last = err
		time.Sleep(time.Duration(i+1) * 20 * time.Millisecond)
	}
	return nil, last
}

// typedBeforeExec types a network error of an attempt that the attempt
// did not meet itself: go-redis's, from before the attempt's EXEC (a
// connection that went bad in the reads, a WATCH that failed), so the batch
// was not sent: reply.Read's rule. Errors of the EXEC are typed where they
// are met, and other errors (decide's own) are returned as they are.
func typedBeforeExec(err error) error {
	if reply.FromServer(err) && !errs.Typed(err) {
		// a refusal of the WATCH (nothing was sent after it)
		return reply.Refused(err)
	}
	return reply.Read(err)
}
