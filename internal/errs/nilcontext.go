package errs

import (
	"context"
	"fmt"
)

// NilContext is the error of a public call given a nil context.Context,
// or nil when ctx is not nil. Every public entry point that takes a ctx
// (the methods of rapyer.Model, rapyer.LockAll, tx.Exec, tx.Optimistic,
// lock.Acquire, Lock.Extend, Lock.Release, rapyertest.DeletePrefix) asks it
// first and returns its error, wrapping Invalid, before anything is sent:
// go-redis would otherwise panic on the nil context (a nil pointer
// dereference deep in its pool), or, worse, after part of a call went out.
// call names the call in the message ("Model.Save").
func NilContext(ctx context.Context, call string) error {
	if ctx != nil {
		return nil
	}
	return fmt.Errorf("%w: %s: a nil context.Context (pass context.Background() or context.TODO())", Invalid, call)
}
