package lock

import (
	"context"
	"sync/atomic"
	"time"
)

// releaseTimeout bounds Release (and the clean-up after a failed Acquire),
// which run on a context that ignores the caller's cancellation: it ends
// between releaseTimeout and releaseTimeout+deadlineStep after the call
// starts.
const releaseTimeout = 5 * time.Second

// deadlineStep is how far apart the deadlines of the release contexts
// are: the releases begun within one step share one deadline and its
// timer.
const deadlineStep = 100 * time.Millisecond

// deadline is a deadline shared by the release contexts begun within one
// deadlineStep: its done channel closes when it passes. Making a context
// with a timeout of its own for each release (context.WithTimeout of
// context.WithoutCancel) cost six allocations and a timer per release, a
// sixth of an uncontended cycle's work on the client.
type deadline struct {
	at   time.Time
	done chan struct{}
}

// lastDeadline is the deadline the latest releases share.
var lastDeadline atomic.Pointer[deadline]

// releaseDeadline returns a deadline between releaseTimeout and
// releaseTimeout+deadlineStep from now.
func releaseDeadline() *deadline {
	now := time.Now()
	if d := lastDeadline.Load(); d != nil {
		if left := d.at.Sub(now); left >= releaseTimeout && left <= releaseTimeout+deadlineStep {
			return d
		}
	}
	d := &deadline{at: now.Add(releaseTimeout + deadlineStep), done: make(chan struct{})}
	time.AfterFunc(releaseTimeout+deadlineStep, func() { close(d.done) })
	lastDeadline.Store(d)
	return d
}

// releaseCtx is the context of a release: the values of the caller's
// context, none of its cancellation, and a shared deadline of its own.
type releaseCtx struct {
	values context.Context
	d      *deadline
}

// withReleaseTimeout is context.WithTimeout(context.WithoutCancel(ctx),
// about releaseTimeout), without a timer of its own: one allocation (the
// context.WithoutCancel, which keeps context.Cause from finding ctx's
// cancellation through Value) where that took six. The releaseCtx is a
// value, for a field of the Lock; pass its address.
func withReleaseTimeout(ctx context.Context) releaseCtx {
	return releaseCtx{values: context.WithoutCancel(ctx), d: releaseDeadline()}
}

func (c *releaseCtx) Deadline() (time.Time, bool) { return c.d.at, true }
func (c *releaseCtx) Done() <-chan struct{}       { return c.d.done }
func (c *releaseCtx) Value(key any) any           { return c.values.Value(key) }

func (c *releaseCtx) Err() error {
	select {
	case <-c.d.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
