package script

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/reply"
)

// Library is a Lua text whose entry points run as Redis Functions or, where
// the server has none, as scripts.
type Library struct {
	name  string // the library's name on the server: base_hash
	body  string
	code  string // the text FUNCTION LOAD gets
	funcs map[string]*Func
}

// Func is one entry point of a library.
type Func struct {
	lib    *Library
	entry  string
	fcall  any // the function's name on the server, boxed once
	script *redis.Script
	eval   string // the script's text
}

// Part is one Lua text of a library and the entry points it defines.
type Part struct {
	// Source defines each entry as a local function of (keys, args) and
	// returns nothing.
	Source string
	// Entries are the names of its entry points.
	Entries []string
	// Flags are the function flags of some entries (for example
	// "allow-oom" for an entry that only frees memory), as FUNCTION LOAD
	// takes them; scripts take no flags.
	Flags map[string][]string
}

// New makes a library named base (letters, digits and underscores) of one
// Lua text, body, that defines each entry as a local function of (keys,
// args) and returns nothing. It is NewParts with one part.
func New(base, body string, entries ...string) *Library {
	return NewParts(base, Part{Source: body, Entries: entries})
}

// NewParts makes a library named base of several parts. As a function
// library the parts are loaded together, one after the other; as scripts
// each entry point carries only its own part, so that a small entry does
// not run a large part's top level on every call. The server's names of the
// library and its functions carry a hash of the whole text, so that
// programs of two versions never call each other's code.
func NewParts(base string, parts ...Part) *Library {
	var body, flags strings.Builder
	for _, p := range parts {
		body.WriteString(p.Source)
		body.WriteString("\n")
		for _, e := range p.Entries {
			fmt.Fprintf(&flags, "%s=%s\n", e, strings.Join(p.Flags[e], ","))
		}
	}
	// The name's hash covers the flags too: a server that has the library
	// with other flags (an older version) loads this one beside it.
	sum := sha1.Sum([]byte(body.String() + flags.String()))
	hash := hex.EncodeToString(sum[:6])
	l := &Library{name: base + "_" + hash, body: body.String(), funcs: map[string]*Func{}}
	var code strings.Builder
	fmt.Fprintf(&code, "#!lua name=%s\n%s\n", l.name, l.body)
	for _, p := range parts {
		for _, e := range p.Entries {
			name := base + "_" + e + "_" + hash
			if fl := p.Flags[e]; len(fl) > 0 {
				fmt.Fprintf(&code, "redis.register_function{function_name='%s', callback=%s, flags={'%s'}}\n", name, e, strings.Join(fl, "', '"))
			} else {
				fmt.Fprintf(&code, "redis.register_function('%s', %s)\n", name, e)
			}
			eval := p.Source + "\nreturn " + e + "(KEYS, ARGV)\n"
			l.funcs[e] = &Func{lib: l, entry: e, fcall: name, script: redis.NewScript(eval), eval: eval}
		}
	}
	l.code = code.String()
	return l
}

// Name is the library's name on the server.
func (l *Library) Name() string { return l.name }

// Code is the text FUNCTION LOAD gets.
func (l *Library) Code() string { return l.code }

// Func returns the entry point entry; it panics if New was not told of it,
// which is a mistake in this module, found by any test.
func (l *Library) Func(entry string) *Func {
	f, ok := l.funcs[entry]
	if !ok {
		panic("script: library " + l.name + " has no entry point " + entry)
	}
	return f
}

// Load loads the library on every server c sends commands to (every master
// of a cluster), replacing a library of the same name: a text with the same
// hash.
func (l *Library) Load(ctx context.Context, c redis.UniversalClient) error {
	load := func(ctx context.Context, n *redis.Client) error {
		return n.FunctionLoadReplace(ctx, l.code).Err()
	}
	switch x := c.(type) {
	case *redis.ClusterClient:
		return x.ForEachMaster(ctx, load)
	case *redis.Ring:
		return x.ForEachShard(ctx, load)
	}
	return c.FunctionLoadReplace(ctx, l.code).Err()
}

// Name is the function's name on the server.
func (f *Func) Name() string { return f.fcall.(string) }

// Script is the entry point as a script, for servers without functions.
func (f *Func) Script() *redis.Script { return f.script }

// Command lays out a call of f with keys and args for Run and Queue: two
// words they fill in (the command and the function or script), the number
// of keys, the keys, the args. Callers that build the slice themselves
// leave its first two words for Run and Queue the same way.
func Command(keys []string, args ...any) []any {
	cmd := make([]any, 0, 3+len(keys)+len(args))
	cmd = append(cmd, nil, nil, len(keys))
	for _, k := range keys {
		cmd = append(cmd, k)
	}
	return append(cmd, args...)
}

// Run sends cmd (laid out as Command does) to c and returns its reply.
// When the server has no functions, or lost the library or the script, it
// does what is needed and sends cmd again: the replies that say so mean
// that nothing ran. It sends cmd at most three times: FCALL, FCALL again
// after loading the library (or EVALSHA where functions are refused), and
// last EVAL with the text, which cannot miss.
func (f *Func) Run(ctx context.Context, c redis.UniversalClient, cmd []any) *redis.Cmd {
	w := wayOf(c)
	for {
		r := f.send(ctx, c, cmd, w)
		err := r.Err()
		if err == nil {
			if w == unknown || w == loaded {
				remember(c, functions)
			}
			return r
		}
		next, lerr := f.recover(ctx, c, w, err)
		if lerr != nil {
			r.SetErr(lerr)
			return r
		}
		if next == w {
			return r
		}
		w = next
	}
}

func (f *Func) send(ctx context.Context, c redis.UniversalClient, cmd []any, w way) *redis.Cmd {
	f.fill(cmd, w)
	r := redis.NewCmd(ctx, cmd...)
	r.SetFirstKeyPos(3)
	_ = c.Process(ctx, r)
	return r
}

func (f *Func) fill(cmd []any, w way) {
	switch w {
	case scripts:
		cmd[0], cmd[1] = wordEvalSha, f.script.Hash()
	case eval, evalThenScripts, evalThenFunctions:
		cmd[0], cmd[1] = wordEval, f.eval
	default:
		cmd[0], cmd[1] = wordFCall, f.fcall
	}
}

// recover reads err, the reply to a call sent the way w, and returns the
// way to send it again: w itself when err does not say that the function,
// the script or FCALL was missing.
func (f *Func) recover(ctx context.Context, c redis.UniversalClient, w way, err error) (way, error) {
	switch {
	case w == eval:
		return w, nil
	case w == loaded && FunctionMissing(err):
		// Lost again since the load (a flush, a failover): the text itself
		// this time, which cannot miss. The next call loads it again.
		return eval, nil
	case (unknownCommand(err) || fcallDenied(err)) && w != scripts:
		// No FCALL, or not for this user: scripts. A NOPERM about a key or
		// a channel is the call's own error: it says nothing of FCALL.
		remember(c, scripts)
		return scripts, nil
	case FunctionMissing(err):
		switch lerr := f.load(ctx, c); {
		case errors.Is(lerr, errRefused):
			return scripts, nil
		case lerr != nil:
			return w, lerr
		}
		return loaded, nil
	case NoScript(err):
		return eval, nil
	case w == scripts && scriptsDenied(err):
		// Scripts refused too: a user allowed FCALL alone, whose library
		// went missing (a flush) and who may not load it. The next call
		// tries FCALL again, which works once the library is back.
		remember(c, unknown)
	}
	return w, nil
}

// errRefused: the server refused FUNCTION LOAD.
var errRefused = errors.New("FUNCTION LOAD refused")

// load loads the library for c, and remembers the way c goes: functions
// once it is loaded, scripts if the server refuses to load it (an ACL, a
// proxy, a server that knows FCALL but keeps no libraries).
func (f *Func) load(ctx context.Context, c redis.UniversalClient) error {
	err := f.lib.Load(ctx, c)
	switch {
	case err == nil:
		remember(c, functions)
		return nil
	case reply.FromServer(err):
		remember(c, scripts)
		return errRefused
	}
	return fmt.Errorf("loading the Lua library %s: %w", f.lib.name, err)
}

// Queue queues cmd (laid out as Command does) on pipe, a pipeline or a
// transaction of c. If its reply is an error, Recover tells whether the
// call can be queued again.
//
// The first time it meets c, Queue finds out first, with a command of its
// own, whether c's server has functions, by loading the library: an FCALL
// the server does not know must not reach a transaction, since miniredis
// then runs the rest of it without a word (Redis refuses all of it).
func (f *Func) Queue(ctx context.Context, c redis.UniversalClient, pipe redis.Pipeliner, cmd []any) *redis.Cmd {
	return f.queueAs(ctx, f.queueWay(ctx, c), pipe, cmd) // no function value: one allocation fewer than Queuer's
}

// Queuer is Queue for several calls of f in one pipeline of c: it decides
// once how they go (FCALL, EVALSHA or EVAL, with the first use's probe of
// Queue) and returns the function that queues each call that way, so that
// after Recover every call of the pipeline is sent the way that succeeds.
func (f *Func) Queuer(ctx context.Context, c redis.UniversalClient) func(pipe redis.Pipeliner, cmd []any) *redis.Cmd {
	return f.queuer(ctx, f.queueWay(ctx, c))
}

// queueWay is the way the calls of f queued on a pipeline of c go, found
// out as Queue says the first time.
func (f *Func) queueWay(ctx context.Context, c redis.UniversalClient) way {
	w := wayOf(c)
	switch w {
	case unknown:
		switch err := f.lib.Load(ctx, c); {
		case err == nil:
			remember(c, functions)
			w = functions
		case redis.HasErrorPrefix(err, "NOPERM"):
			// The user may not load libraries; an administrator may have
			// loaded this one. FCALL: a missing library shows as such, and
			// Recover then turns c to scripts.
			remember(c, functions)
			w = functions
		default:
			if reply.FromServer(err) {
				// a server without functions: this first call goes with
				// the text (EVAL caches it), the next ones by EVALSHA
				remember(c, scripts)
				w = eval
			} // unreachable: FCALL, the way is still unknown
		}
	case evalThenFunctions:
		remember(c, functions)
	case evalThenScripts:
		remember(c, scripts)
	}
	return w
}

// EvalQueuer returns the function that queues calls of f with their text
// (EVAL), which cannot miss: the last try of a pipeline whose calls went
// missing, when other calls of the same client may have turned its way in
// between.
func (f *Func) EvalQueuer(ctx context.Context) func(pipe redis.Pipeliner, cmd []any) *redis.Cmd {
	return f.queuer(ctx, eval)
}

// queuer returns the function that queues calls of f on a pipeline, sent
// the way w says.
func (f *Func) queuer(ctx context.Context, w way) func(pipe redis.Pipeliner, cmd []any) *redis.Cmd {
	return func(pipe redis.Pipeliner, cmd []any) *redis.Cmd { return f.queueAs(ctx, w, pipe, cmd) }
}

// queueAs queues a call of f on pipe, sent the way w says.
func (f *Func) queueAs(ctx context.Context, w way, pipe redis.Pipeliner, cmd []any) *redis.Cmd {
	f.fill(cmd, w)
	r := redis.NewCmd(ctx, cmd...)
	r.SetFirstKeyPos(3)
	_ = pipe.Process(ctx, r)
	return r
}

// Recover reads err, the error of a call Queue queued for c. It reports
// whether err says that the call did not run because the server lacked the
// function, the script or FCALL, after doing what makes the next Queue
// succeed: loading the library, turning c to scripts, or sending the next
// call with its text (EVAL), which cannot miss, when the library went
// missing again since it was loaded or the script cache is empty.
// Otherwise it reports false. A failed load is returned.
func (f *Func) Recover(ctx context.Context, c redis.UniversalClient, err error) (bool, error) {
	switch {
	case unknownCommand(err) || (fcallDenied(err) && wayOf(c) != scripts):
		remember(c, scripts)
		return true, nil
	case FunctionMissing(err):
		again := wayOf(c) == loaded
		switch lerr := f.load(ctx, c); {
		case errors.Is(lerr, errRefused):
			return true, nil
		case lerr != nil:
			return false, lerr
		}
		if again {
			remember(c, evalThenFunctions)
		} else {
			remember(c, loaded)
		}
		return true, nil
	case NoScript(err):
		remember(c, evalThenScripts)
		return true, nil
	case scriptsDenied(err) && wayOf(c) == scripts:
		remember(c, unknown) // as recover does
	}
	return false, nil
}

// way is how a client's calls reach the server.
type way int32

const (
	unknown           way = iota // not yet known: try a function
	functions                    // FCALL
	scripts                      // EVALSHA
	loaded                       // FCALL, just after loading the library
	eval                         // EVAL: the text, which cannot miss (Run)
	evalThenScripts              // EVAL once, then EVALSHA (Queue)
	evalThenFunctions            // EVAL once, then FCALL (Queue)
)

var (
	wordFCall   any = "fcall"
	wordEvalSha any = "evalsha"
	wordEval    any = "eval"
)

// ways remembers the way of each client, up to maxClients of them; when
// more are seen it starts again (forgetting costs a client one extra round
// trip, not a wrong answer), so clients made and dropped in a loop do not
// grow it without bound. Every script call reads it, and a client's way
// changes a few times in its life: the map is never changed once published
// (a call reads it by one atomic load, no lock), and a change stores a
// changed copy, made under mu.
var ways struct {
	m  atomic.Pointer[map[redis.UniversalClient]way]
	mu sync.Mutex
}

const maxClients = 256

func wayOf(c redis.UniversalClient) way {
	if !cacheable(c) {
		return unknown
	}
	if m := ways.m.Load(); m != nil {
		return (*m)[c]
	}
	return unknown
}

func remember(c redis.UniversalClient, w way) {
	if !cacheable(c) {
		return
	}
	ways.mu.Lock()
	defer ways.mu.Unlock()
	old := ways.m.Load()
	if old == nil || len(*old) >= maxClients {
		old = &map[redis.UniversalClient]way{}
	}
	m := maps.Clone(*old)
	m[c] = w
	ways.m.Store(&m)
}

// cacheable reports whether c can be a map key: the clients of go-redis
// are pointers; a user's own wrapper type may not be comparable.
func cacheable(c redis.UniversalClient) bool {
	switch c.(type) {
	case *redis.Client, *redis.ClusterClient, *redis.Ring:
		return true
	case nil:
		return false
	}
	return reflect.TypeOf(c).Comparable()
}

// Forget drops what is remembered of c, for tests that change a server's
// abilities under a client.
func Forget(c redis.UniversalClient) {
	if !cacheable(c) {
		return
	}
	ways.mu.Lock()
	defer ways.mu.Unlock()
	if old := ways.m.Load(); old != nil {
		m := maps.Clone(*old)
		delete(m, c)
		ways.m.Store(&m)
	}
}

// FunctionMissing reports whether err is the server's reply to an FCALL of
// a function it does not have.
func FunctionMissing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Function not found")
}

// NoScript reports whether err is the server's reply to an EVALSHA of a
// script it does not have.
func NoScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}

// Missing reports whether err says a call did not run because the server
// lacked the function, the script or the FCALL command, or the user may
// not run FCALL. A refusal of a key or a channel to the user is not one:
// sent again, the call would be refused again.
func Missing(err error) bool {
	return FunctionMissing(err) || NoScript(err) || unknownCommand(err) || fcallDenied(err)
}

// fcallDenied reports whether err is the server's refusal of the FCALL
// command itself to the user ("NOPERM this user has no permissions to run
// the 'fcall' command" on Redis 7.0, "NOPERM User u has no permissions to
// run the 'fcall' command" later), and not of a key or a channel ("NOPERM
// this user has no permissions to access one of the keys used as
// arguments", "NOPERM No permissions to access a key").
func fcallDenied(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOPERM") &&
		strings.Contains(strings.ToLower(err.Error()), "'fcall' command")
}

// scriptsDenied reports whether err is the server's refusal of EVALSHA or
// EVAL itself to the user, as fcallDenied tells it for FCALL.
func scriptsDenied(err error) bool {
	if err == nil || !redis.HasErrorPrefix(err, "NOPERM") {
		return false
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "'evalsha' command") || strings.Contains(s, "'eval' command")
}

func unknownCommand(err error) bool {
	// HasErrorPrefix drops the "ERR " of "ERR unknown command `fcall`".
	return err != nil && redis.HasErrorPrefix(err, "unknown command")
}
