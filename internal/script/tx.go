package script

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/reply"
)

// RunTx is Run with each send of cmd inside MULTI/EXEC, for calls that must
// never be applied twice: go-redis resends a plain command whose reply it
// lost (MaxRetries), but never a transaction it wrote (only one whose write
// failed, which the server never ran). The transaction holds cmd alone, and
// one send is still one round trip.
//
// Like Run it sends FCALL first and recovers what the server lacks (the
// library, the script, FCALL itself), at most three sends; the replies that
// say so mean nothing ran. A failure to load the library is returned as an
// error for which errors.Is(err, ErrNotRun) holds: cmd did not run.
//
// A command the server does not know must not reach a transaction
// (miniredis then leaves the connection waiting). So the first time RunTx
// meets c it learns how c's server runs f with probe's command, which must
// be harmless to run twice (it is sent as Run sends it): it needs no
// permission beyond the call of f itself, unlike a FUNCTION LOAD.
func (f *Func) RunTx(ctx context.Context, c redis.UniversalClient, cmd []any, probe func() []any) (*redis.Cmd, error) {
	w := wayOf(c)
	if w == unknown && probe != nil {
		if err := f.Run(ctx, c, probe()).Err(); err != nil {
			if !reply.FromServer(err) {
				return redis.NewCmd(ctx), &notRunError{err}
			}
		}
		w = wayOf(c)
	}
	for {
		f.fill(cmd, w)
		r := redis.NewCmd(ctx, cmd...)
		r.SetFirstKeyPos(3)
		_, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error { return pipe.Process(ctx, r) })
		if err == nil {
			if w == unknown || w == loaded {
				remember(c, functions)
			}
			return r, nil
		}
		if reply.MultiRefused(err) {
			// what followed MULTI ran on its own, unread: no Recover
			return r, reply.RanOutsideMulti(err)
		}
		if cerr := r.Err(); cerr != nil && reply.FromServer(cerr) {
			// Why EXEC was refused (EXECABORT), or the call's own error.
			err = cerr
		}
		next, lerr := f.recover(ctx, c, w, err)
		if lerr != nil {
			return r, &notRunError{lerr}
		}
		if next == w {
			return r, err
		}
		w = next
	}
}

// ErrNotRun marks an error after which the call is known not to have run.
var ErrNotRun = errors.New("the call did not run")

type notRunError struct{ err error }

func (e *notRunError) Error() string   { return e.err.Error() }
func (e *notRunError) Unwrap() []error { return []error{e.err, ErrNotRun} }
