package transport

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/reply"
	"github.com/rapyer-go/rapyer/internal/script"
	"github.com/rapyer-go/rapyer/internal/shape"
)

// runShape sends p to its compiled shape (package shape), alone, as a
// command go-redis does not resend once it may have reached the server
// (noRetry: what MULTI/EXEC does for RunTx's interpreter, without the MULTI
// and EXEC the server runs for it), and reports whether that settled the
// call.
// When it did not, nothing ran and the caller sends p to the interpreter:
// p has no compiled shape, the shape left the batch to the interpreter
// (its reply {'AGAIN'}: it wrote nothing), or the server refused the
// script before running it (no EVALSHA or EVAL for this user, or a
// refusal the interpreter meets too and reports as its own). A script the
// server lost is sent again with its text (EVAL), which caches it.
func runShape(ctx context.Context, c redis.UniversalClient, p *prog.Program) (any, bool, error) {
	s := shape.For(p)
	if s == nil {
		return nil, false, nil
	}
	return RunShape(ctx, c, s, s.Command(p))
}

// RunShape is runShape of a call laid out already: cmd is s.Command of a
// program, or the same words made without one (a Save's direct path in
// tx); its first two words are filled in here. Its answers are runShape's.
func RunShape(ctx context.Context, c redis.UniversalClient, s *shape.Shape, cmd []any) (any, bool, error) {
	if !shapesFor(c) {
		return nil, false, nil
	}
	sha := loadedOn(c, s)
	for {
		// the script's hash and text boxed without an allocation: a Shape's
		// Text and Hash never change once it is found
		if sha {
			cmd[0], cmd[1] = wordEvalSha, s.HashWord()
		} else {
			cmd[0], cmd[1] = wordEval, prog.Boxed(&s.Text)
		}
		r := redis.NewCmd(ctx, cmd...)
		r.SetFirstKeyPos(3)
		// one command that go-redis never resends after writing it
		err := c.Process(ctx, noRetry{r})
		if cerr := r.Err(); cerr != nil && reply.FromServer(cerr) {
			err = cerr
		}
		switch {
		case err == nil:
			if !sha {
				markLoaded(c, s)
			}
			if again(r.Val()) {
				shapeAgain.Add(1)
				return nil, false, nil
			}
			shapeRuns.Add(1)
			return s.Reply(r.Val()), true, nil
		case !reply.FromServer(err):
			// the call may have run: the caller's resend, with the same id,
			// is answered from the record
			return nil, true, err
		case sha && script.NoScript(err):
			sha = false
			continue
		case scriptsDenied(err):
			noShapes(c)
		}
		return nil, false, nil
	}
}

// noRetry is a command go-redis does not resend once it may have reached
// the server (its retries after a lost reply, a timeout, a broken
// connection): as a MULTI/EXEC, which it never resends, but one command
// instead of three, with one reply. Every compiled shape goes so, batches
// and saves: its resend is Exec's, with the same batch id, answered from
// the record.
type noRetry struct{ *redis.Cmd }

// NoRetry tells go-redis not to resend the command.
func (noRetry) NoRetry() bool { return true }

// shapeRuns and shapeAgain count the calls a compiled shape settled, and
// those it left to the interpreter.
var shapeRuns, shapeAgain atomic.Int64

// ShapeRuns reports how many calls compiled shapes settled, and how many
// they left to the interpreter, in this process (for tests and benches).
func ShapeRuns() (settled, again int64) { return shapeRuns.Load(), shapeAgain.Load() }

var (
	wordEval    any = "eval"
	wordEvalSha any = "evalsha"
)

// again reports whether v is a compiled shape's {'AGAIN'}.
func again(v any) bool {
	a, ok := v.([]any)
	return ok && len(a) == 1 && a[0] == shape.Again
}

// scriptsDenied reports whether err says the server has no EVAL or EVALSHA,
// or does not let this user send them.
func scriptsDenied(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "unknown command") ||
		(strings.Contains(s, "noperm") && (strings.Contains(s, "'eval") || strings.Contains(s, "'evalsha")))
}

// off holds the clients whose server refuses compiled shapes, up to
// maxOff of them (forgetting one costs it a refused call, not a wrong
// answer).
//
// off and loaded are read on every call and written a few times in a
// process's life: each is a map that is never changed once published,
// read with one atomic load (no lock: a lock's count is written by every
// reader), and replaced by a changed copy under onWrite.
var off atomic.Pointer[map[redis.UniversalClient]bool]

// loaded holds, for up to maxOff clients, the shapes whose script a call
// through the client got to the server, which then caches it: those go by
// EVALSHA, the others by EVAL. Forgetting costs a call its text, and a
// server that lost the script (a flush, a failover, another node of a
// cluster) costs one NOSCRIPT.
var loaded atomic.Pointer[map[redis.UniversalClient]map[*shape.Shape]bool]

// onWrite orders the writers of off and loaded.
var onWrite sync.Mutex

func loadedOn(c redis.UniversalClient, s *shape.Shape) bool {
	if !comparable(c) {
		return s.Loaded()
	}
	if m := loaded.Load(); m != nil {
		return (*m)[c][s]
	}
	return false
}

func markLoaded(c redis.UniversalClient, s *shape.Shape) {
	if !comparable(c) {
		s.MarkLoaded()
		return
	}
	onWrite.Lock()
	defer onWrite.Unlock()
	m := map[redis.UniversalClient]map[*shape.Shape]bool{}
	if old := loaded.Load(); old != nil && len(*old) < maxOff {
		for k, v := range *old {
			m[k] = v
		}
	}
	inner := map[*shape.Shape]bool{s: true}
	for k, v := range m[c] {
		inner[k] = v
	}
	m[c] = inner
	loaded.Store(&m)
}

const maxOff = 256

func shapesFor(c redis.UniversalClient) bool {
	if !comparable(c) {
		return true
	}
	if m := off.Load(); m != nil {
		return !(*m)[c]
	}
	return true
}

func noShapes(c redis.UniversalClient) {
	if !comparable(c) {
		return
	}
	onWrite.Lock()
	defer onWrite.Unlock()
	m := map[redis.UniversalClient]bool{c: true}
	if old := off.Load(); old != nil && len(*old) < maxOff {
		for k, v := range *old {
			m[k] = v
		}
	}
	off.Store(&m)
}

func comparable(c redis.UniversalClient) bool {
	return c != nil && reflect.TypeOf(c).Comparable()
}
