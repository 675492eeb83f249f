package lock

import (
	"context"
	"time"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// Bind returns a context that ends when ctx does, or when the lock is
// released (cause context.Canceled) or known lost (cause wraps
// rapyer.ErrNotHeld, as Context's), whichever comes first, and a function
// that cancels it: call it when the work under the lock is done. It is
// what context.AfterFunc over Context gives, for less: one context and the
// lock's expiry timer, no second context, no callback registration.
// Bind is for work bounded by both a caller's context and the lock (as
// rapyer's Model.Lock runs its function); Context, which ignores ctx's
// cancellation, is for work that outlives it. A nil ctx gives a context
// already ended, whose cause wraps rapyer.ErrInvalid.
func (l *Lock) Bind(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil { // no error to return: a context ended with one
		c, cancel := context.WithCancelCause(context.Background())
		cancel(errs.NilContext(ctx, "Bind"))
		return c, func() { cancel(nil) }
	}
	c, cancel := context.WithCancelCause(ctx)
	if err := l.void(); err != nil {
		cancel(err)
		return c, func() { cancel(nil) }
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now() // one reading of the clock for both
	l.lapse(now)
	switch l.state {
	case held:
		l.bound = append(l.bound, cancel)
		if l.expiry == nil {
			l.expiry = time.AfterFunc(l.validUntil.Sub(now), l.expired)
		}
	case lost:
		cancel(l.cause)
	case released:
		cancel(nil)
	}
	return c, func() { cancel(nil) }
}

// lapse marks a held lock lost if its TTL has passed by the local clock,
// which reads now, cancelling what lose would. Call with mu held.
func (l *Lock) lapse(now time.Time) {
	if l.state != held || now.Before(l.validUntil) {
		return
	}
	l.state, l.cause = lost, l.ttlElapsed()
	if l.expiry != nil {
		l.expiry.Stop()
	}
	if l.cancel != nil {
		l.cancel(l.cause)
	}
	for _, c := range l.bound {
		c(l.cause)
	}
}
