// Package optcheck holds the checks of the option values of packages tx
// and lock, so that tx.Exec, lock.Acquire and rapyer.New (which takes both
// as a model's defaults, and refuses bad ones when the model is made) refuse
// the same values with the same words. Each check names the field at fault,
// after the name of the struct it was given in (where: "tx.Options",
// "Options.Exec", "Call.Lock", ...).
package optcheck

import (
	"fmt"
	"time"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// Missing is the number of values of tx.Missing: FailIfMissing (0),
// SkipIfMissing (1) and MustBeNew (2).
const Missing = 3

// Exec checks the IfMissing and Record of a tx.Options: IfMissing one of
// the tx.Missing constants, Record negative (none), zero (the default) or
// at least a millisecond.
func Exec(where string, ifMissing int, record time.Duration) error {
	if ifMissing < 0 || ifMissing >= Missing {
		return fmt.Errorf("%w: %s.IfMissing: %d; give tx.FailIfMissing, tx.SkipIfMissing or tx.MustBeNew", errs.Invalid, where, ifMissing)
	}
	if record > 0 && record < time.Millisecond {
		return fmt.Errorf("%w: %s.Record: a batch record lifetime of %v; it must be at least 1ms, or tx.NoRecord", errs.Invalid, where, record)
	}
	return nil
}

// Lock checks the durations of a lock.Options: a TTL that is not negative,
// and, when both are set, a RetryMin no longer than RetryMax (one left zero
// takes its default, and RetryMax is raised to RetryMin when that is the
// longer).
func Lock(where string, ttl, retryMin, retryMax time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w: %s.TTL: a negative TTL %v; give a positive one, or zero for lock.DefaultTTL", errs.Invalid, where, ttl)
	}
	if retryMin > 0 && retryMax > 0 && retryMin > retryMax {
		return fmt.Errorf("%w: %s.RetryMin %v is longer than RetryMax %v", errs.Invalid, where, retryMin, retryMax)
	}
	return nil
}
