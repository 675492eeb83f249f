package lock

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/lockread"
	"github.com/rapyer-go/rapyer/internal/lua"
)

// An acquisition that reads a hash in its own call (lock.lua's acqread):
// rapyer's Model.Lock, through internal/lockread. One command where Load's
// acquire call and HGETALL are two: the server parses, runs and answers one
// request, and the client writes and reads one.

func init() { lockread.Acquire = acquireRead }

// acquireRead is lockread.Acquire.
func acquireRead(ctx context.Context, rdb redis.UniversalClient, key, hash string, opts any) (any, []byte, error) {
	o, ok := opts.(Options)
	if !ok || hash == "" || o.Load != nil || !o.NoFence {
		return nil, nil, fmt.Errorf("%w: lockread.Acquire(%q): a lock.Options without Load or a fence, and a hash", errs.Invalid, key)
	}
	if rdb == nil {
		return nil, nil, fmt.Errorf("%w: Acquire(%q): nil client", errs.Invalid, key)
	}
	if err := checkKey(key); err != nil {
		return nil, nil, err
	}
	r, err := o.resolve()
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: Acquire(%q): %w", errs.NotSent, key, err)
	}
	r.hash = hash
	a := newAcquirer(rdb, key, r)
	l, err := a.run(ctx)
	if err != nil && a.unsure {
		a.giveUp(ctx) // as Acquire
	}
	if err != nil {
		return nil, nil, err
	}
	if a.readRefused {
		l.Forget() // the call let the lock go
		return nil, a.raw, nil
	}
	return l, a.raw, nil
}

// sendRead sends the acqread call of a (its cmd laid out with the lock key
// and the hash) and returns acquire's reply: the hash's reply, or the read's
// refusal, is kept in a.raw for an attempt that took the lock (0: no
// fence).
func (a *acquirer) sendRead(ctx context.Context) (int64, error) {
	// One command; go-redis retries it on network errors, which is safe
	// because the entry is idempotent for its token (the read is a read).
	raw, err := lua.AcquireRead.RunRaw(ctx, a.rdb, a.cmd).Result()
	if err != nil {
		return 0, err
	}
	switch {
	case len(raw) > 4 && raw[0] == ':':
		return strconv.ParseInt(string(raw[1:len(raw)-2]), 10, 64)
	case len(raw) > 4 && string(raw[:4]) == "*1\r\n":
		// the read refused, and the lock let go: its error reply
		a.raw, a.readRefused = raw[4:], true
		return 0, nil
	}
	a.raw, a.readRefused = raw, false
	return 0, nil
}
