package rapyer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// lockedCtx is the context runLocked gives fn: the caller's context bound
// to the locks taken (lock.Lock.Bind, each lock's wrapping the one before),
// made the first time one of its methods is called, by fn or by anything fn
// hands it to. Binding costs a context, two cancel functions and a timer
// per lock; a function that never looks at its context (most of Model.Lock's:
// change the value, return) now pays none of that, and one that does sees
// the context Bind makes, as before: ended by the caller's context, by a
// lock known lost (cause rapyer.ErrNotHeld) or by its TTL by the local
// clock, and by fn's return. A context first asked for after fn returned is
// made ended (context.Canceled, or the cause of the caller's context if it
// had ended), as the bound one then is.
type lockedCtx struct {
	parent context.Context
	ts     []*taken
	made   atomic.Pointer[context.Context]
	mu     sync.Mutex // guards stops and ended, and the making
	stops  []context.CancelFunc
	ended  bool
}

// ctx is the bound context, made on the first call.
func (c *lockedCtx) ctx() context.Context {
	if p := c.made.Load(); p != nil {
		return *p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.made.Load(); p != nil {
		return *p
	}
	fctx := c.parent
	if c.ended {
		var stop context.CancelFunc
		fctx, stop = context.WithCancel(fctx)
		stop()
	} else {
		for _, t := range c.ts {
			var stop context.CancelFunc
			fctx, stop = t.lock.Bind(fctx)
			c.stops = append(c.stops, stop)
		}
	}
	c.made.Store(&fctx)
	return fctx
}

// end, when fn has returned, ends the context made, if any (the last lock's
// Bind first, as deferred stops ran), and any made later.
func (c *lockedCtx) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	for i := len(c.stops) - 1; i >= 0; i-- {
		c.stops[i]()
	}
}

// Deadline is the bound context's.
func (c *lockedCtx) Deadline() (time.Time, bool) { return c.ctx().Deadline() }

// Done is the bound context's.
func (c *lockedCtx) Done() <-chan struct{} { return c.ctx().Done() }

// Err is the bound context's.
func (c *lockedCtx) Err() error { return c.ctx().Err() }

// Value is the bound context's (context.Cause finds the bound context's
// cause through it).
func (c *lockedCtx) Value(key any) any { return c.ctx().Value(key) }

// String names the context for %v, as the context package's do.
func (c *lockedCtx) String() string { return "rapyer.lockedCtx" }
