// Package optcheck holds the checks of the option values of packages tx
// and lock, so that tx.Exec, lock.Acquire and rapyer.New (which takes both
// as a model's defaults, and refuses bad ones when the model is made) refuse
// the same values with the same words. Each check names the field at fault,
// after the name of the struct it was given in (where: "tx.Options",
// "Options.Exec", "Call.Lock", ...).
package optcheck

import (
	"fmt"
	"math"
	"time"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// Missing is the number of values of tx.Missing: FailIfMissing (0),
// SkipIfMissing (1) and MustBeNew (2).
const Missing = 3

// MaxRecord is the longest batch record lifetime (some 194 years): a
// compiled Save refreshes its pooled record key for half as long again as
// the lifetime (shape.RefreshMS), and its client counts that, and the
// lifetime and a tenth of it (tx's keepLeft), as a time.Duration, which
// must not wrap around. A longer Record is refused, never cut short.
const MaxRecord = time.Duration(math.MaxInt64/3*2/int64(time.Millisecond)) * time.Millisecond

// Exec checks the IfMissing and Record of a tx.Options: IfMissing one of
// the tx.Missing constants, Record negative (none), zero (the default) or
// from a millisecond to MaxRecord.
func Exec(where string, ifMissing int, record time.Duration) error {
	if ifMissing < 0 || ifMissing >= Missing {
		return fmt.Errorf("%w: %s.IfMissing: %d; give tx.FailIfMissing, tx.SkipIfMissing or tx.MustBeNew", errs.Invalid, where, ifMissing)
	}
	if record > 0 && record < time.Millisecond {
		return fmt.Errorf("%w: %s.Record: a batch record lifetime of %v; it must be at least 1ms, or tx.NoRecord", errs.Invalid, where, record)
	}
	if record > MaxRecord {
		return fmt.Errorf("%w: %s.Record: a batch record lifetime of %v is longer than a record can live (%v)", errs.Invalid, where, record, MaxRecord)
	}
	return nil
}

// Retry checks a tx.Retry: no negative field (a negative count of attempts
// or a negative wait means nothing; zero is the default), and, when both
// are set, a Backoff no longer than MaxBackoff.
func Retry(where string, attempts int, backoff, maxBackoff time.Duration) error {
	if attempts < 0 {
		return fmt.Errorf("%w: %s.Attempts: a negative count %d; give a positive one, or zero for tx.DefaultAttempts", errs.Invalid, where, attempts)
	}
	return backoffs(where, "Backoff", "MaxBackoff", backoff, maxBackoff)
}

// MaxLockTTL is the longest TTL a lock takes (some 292 years): a lock's
// fence key and the marker of a given-up acquisition live its TTL, rounded
// up to whole milliseconds, plus a minute, which must still be a
// time.Duration.
const MaxLockTTL = time.Duration(math.MaxInt64/int64(time.Millisecond))*time.Millisecond - 2*time.Minute

// Lock checks the durations of a lock.Options: a TTL, RetryMin and RetryMax
// that are not negative, a TTL no longer than MaxLockTTL, and, when both
// are set, a RetryMin no longer than RetryMax (one left zero takes its
// default, and RetryMax is raised to RetryMin when that is the longer).
func Lock(where string, ttl, retryMin, retryMax time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w: %s.TTL: a negative TTL %v; give a positive one, or zero for lock.DefaultTTL", errs.Invalid, where, ttl)
	}
	if ttl > MaxLockTTL {
		return fmt.Errorf("%w: %s.TTL: a TTL of %v is longer than a lock can live (%v)", errs.Invalid, where, ttl, MaxLockTTL)
	}
	return backoffs(where, "RetryMin", "RetryMax", retryMin, retryMax)
}

// backoffs checks the bounds of a backoff, named lo and hi after where:
// neither negative, and lo no longer than hi when both are set.
func backoffs(where, lo, hi string, min, max time.Duration) error {
	for _, b := range [2]struct {
		name string
		d    time.Duration
	}{{lo, min}, {hi, max}} {
		if b.d < 0 {
			return fmt.Errorf("%w: %s.%s: a negative wait %v; give a positive one, or zero for the default", errs.Invalid, where, b.name, b.d)
		}
	}
	if min > 0 && max > 0 && min > max {
		return fmt.Errorf("%w: %s.%s %v is longer than %s %v", errs.Invalid, where, lo, min, hi, max)
	}
	return nil
}
