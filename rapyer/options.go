package rapyer

import (
	"fmt"
	"time"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/optcheck"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/tx"
)

// Call is what one call may change: the knobs of its batches and of its
// locks. The rest of Options (prefix, TTL, hash tag, ids) belongs to the
// model and cannot change per call, by construction.
type Call struct {
	// Exec are the batch knobs of the call (records, resends, retries,
	// budget, SkipIfMissing); see tx.Options.
	Exec tx.Options
	// Lock are the lock knobs of the call (TTL, wait, backoff,
	// auto-extend); see lock.Options.
	Lock lock.Options
}

// Option changes one call. A call starts from the model's Exec and Lock
// options (zero ones for LockAll), applies its Option values in order, and
// runs with the result, so per-call options merge with the model's and never
// replace them: WithLockTTL keeps the model's wait, backoff and auto-extend.
// A nil Option is skipped. Options that leave a value no call can use (a
// negative lock TTL, a negative Retry field, an IfMissing out of its
// range, a Lock.Load, which
// belongs to the model) fail the call with ErrInvalid naming the field,
// before anything is sent. Any edit not covered by a helper is a func
// literal:
//
//	accounts.Exec(ctx, "alice", b, func(c *rapyer.Call) { c.Exec.Resends = tx.NoResends })
type Option func(*Call)

// WithRetry bounds the attempts of an optimistic update (Update,
// UpdateMany): Call.Exec.Retry.
func WithRetry(r tx.Retry) Option { return func(c *Call) { c.Exec.Retry = r } }

// WithBudget sets the work one execution may ask of the server
// (Call.Exec.Budget; see tx.Budget): WithBudget(tx.Budget{Moves:
// 1_000_000}) for an Insert into the middle of a long list,
// WithBudget(tx.Budget{Bytes: tx.Unlimited}) to lift the byte budget. A
// batch over its budget fails with ErrTooLarge and writes nothing.
func WithBudget(b tx.Budget) Option { return func(c *Call) { c.Exec.Budget = b } }

// WithRecord sets how long the server remembers that the batch was applied
// (Call.Exec.Record; see tx.Options.Record): tx.NoRecord for none.
func WithRecord(d time.Duration) Option { return func(c *Call) { c.Exec.Record = d } }

// SkipIfMissing makes a call on a missing model do nothing and report
// Result.Skipped, instead of failing with ErrNotFound
// (Call.Exec.IfMissing = tx.SkipIfMissing). A Lock or LockAll on a
// missing model then takes no lock and does not call its function.
func SkipIfMissing() Option { return func(c *Call) { c.Exec.IfMissing = tx.SkipIfMissing } }

// WithLockTTL sets how long a lock lives without extension
// (Call.Lock.TTL).
func WithLockTTL(d time.Duration) Option { return func(c *Call) { c.Lock.TTL = d } }

// WithWait sets how long a lock waits for another holder (Call.Lock.Wait;
// lock.NoWait tries once).
func WithWait(d time.Duration) Option { return func(c *Call) { c.Lock.Wait = d } }

// WithAutoExtend extends a lock while its function runs
// (Call.Lock.AutoExtend): the watchdog extends it every third of its TTL
// and cancels the function's context if it finds the lock lost.
func WithAutoExtend() Option { return func(c *Call) { c.Lock.AutoExtend = true } }

// call applies the per-call options opt to the model's Exec and Lock
// options, which New checked, and checks the result (see Call.check).
func (o Options) call(opt []Option) (Call, error) {
	if len(opt) == 0 {
		// no option to apply: c below is on the heap (an Option may keep
		// its pointer), 128 bytes a call that has none
		return Call{Exec: o.Exec, Lock: o.Lock}, nil
	}
	return o.callWith(opt)
}

// execCall is the Exec options of call.
func (o Options) execCall(opt []Option) (tx.Options, error) {
	c, err := o.call(opt)
	return c.Exec, err
}

// callWith is call with at least one option.
func (o Options) callWith(opt []Option) (Call, error) {
	c := Call{Exec: o.Exec, Lock: o.Lock}
	for _, f := range opt {
		if f != nil {
			f(&c)
		}
	}
	return c, c.check("Call")
}

// check refuses, with ErrInvalid naming the field (after where: "Options"
// for a model's defaults, "Call" for one call's), what no batch or lock can
// take: the values tx.Exec and lock.Acquire refuse, and a Lock.Load, which
// belongs to the model (its locks load the model with it).
func (c Call) check(where string) error {
	if err := optcheck.Exec(where+".Exec", int(c.Exec.IfMissing), c.Exec.Record); err != nil {
		return err
	}
	if err := optcheck.Retry(where+".Exec.Retry", c.Exec.Retry.Attempts, c.Exec.Retry.Backoff, c.Exec.Retry.MaxBackoff); err != nil {
		return err
	}
	if err := optcheck.Lock(where+".Lock", c.Lock.TTL, c.Lock.RetryMin, c.Lock.RetryMax); err != nil {
		return err
	}
	if c.Lock.Load != nil {
		return fmt.Errorf("%w: %s.Lock.Load: the model's locks load the model themselves; leave it nil", errs.Invalid, where)
	}
	return nil
}
