package rapyer

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/tx"
)

// Option changes the Options of one call. A call copies its Options (the
// model's, or zero Options for LockAll), applies its Option values to the
// copy in order, and runs with the result, so per-call options merge with
// the model's and never replace them: WithLockTTL keeps the model's wait,
// backoff and auto-extend. Any edit not covered by a helper is a func
// literal:
//
//	accounts.Exec(ctx, "alice", b, func(o *rapyer.Options) { o.Exec.Resends = -1 })
//
// Only the Exec and Lock fields change per call: an Option that changes
// Prefix, TTL, RefreshTTL, HashTag or NewID is refused with ErrInvalid
// naming the field, and nothing is sent.
type Option func(*Options)

// WithRetry bounds the attempts of an optimistic update (Update,
// UpdateMany): Options.Exec.Retry.
func WithRetry(r tx.Retry) Option { return func(o *Options) { o.Exec.Retry = r } }

// WithBudget sets the work one execution may ask of the server
// (Options.Exec.Budget; see tx.Budget): WithBudget(tx.Budget{Moves:
// 1_000_000}) for an Insert into the middle of a long list,
// WithBudget(tx.Budget{Bytes: tx.Unlimited}) to lift the byte budget. A
// batch over its budget fails with ErrTooLarge and writes nothing.
func WithBudget(b tx.Budget) Option { return func(o *Options) { o.Exec.Budget = b } }

// WithRecord sets how long the server remembers that the batch was applied
// (Options.Exec.Record; see tx.Options.Record): tx.NoRecord for none.
func WithRecord(d time.Duration) Option { return func(o *Options) { o.Exec.Record = d } }

// SkipIfMissing makes a call on a missing model do nothing and report
// Result.Skipped, instead of failing with ErrNotFound
// (Options.Exec.IfMissing = tx.SkipIfMissing). A Lock or LockAll on a
// missing model then takes no lock and does not call its function.
func SkipIfMissing() Option { return func(o *Options) { o.Exec.IfMissing = tx.SkipIfMissing } }

// WithLockTTL sets how long a lock lives without extension
// (Options.Lock.TTL).
func WithLockTTL(d time.Duration) Option { return func(o *Options) { o.Lock.TTL = d } }

// WithWait sets how long a lock waits for another holder (Options.Lock.Wait;
// lock.NoWait tries once).
func WithWait(d time.Duration) Option { return func(o *Options) { o.Lock.Wait = d } }

// WithAutoExtend extends a lock while its function runs
// (Options.Lock.AutoExtend): the watchdog extends it every third of its TTL
// and cancels the function's context if it finds the lock lost.
func WithAutoExtend() Option { return func(o *Options) { o.Lock.AutoExtend = true } }

// merge applies the per-call options opt to a copy of base, and refuses an
// option that changed a field belonging to the model.
func merge(base Options, opt []Option) (Options, error) {
	o := base
	for _, f := range opt {
		if f != nil {
			f(&o)
		}
	}
	var field string
	switch {
	case o.Prefix != base.Prefix:
		field = "Prefix"
	case o.TTL != base.TTL:
		field = "TTL"
	case o.RefreshTTL != base.RefreshTTL:
		field = "RefreshTTL"
	case funcID(o.HashTag) != funcID(base.HashTag):
		field = "HashTag"
	case funcID(o.NewID) != funcID(base.NewID):
		field = "NewID"
	default:
		return o, nil
	}
	return base, fmt.Errorf("%w: Options.%s belongs to the model and cannot change per call", errs.InvalidArgument, field)
}

// funcID identifies a func value: the address of its closure, the same for
// copies of one value and different for another value (two closures of one
// function literal differ). nil is 0.
func funcID[F any](f F) uintptr { return *(*uintptr)(unsafe.Pointer(&f)) }
