// Package prog builds the programs the batch interpreter (batch.lua) runs, and
// reads its replies. One Lua entry point serves every batch: the program
// travels in its arguments, so the server holds one function (or one cached
// script) whatever batches users write.
package prog

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lock"
)

// Interpreter is the batch interpreter's entry point (package lua).
var Interpreter = lua.Batch

// Script is the interpreter as a script, as servers without functions run
// it.
var Script = Interpreter.Script()

// Mode says what a batch does about a model that does not exist.
type Mode string

// The modes.
const (
	Need   Mode = "need"   // fail with errs.NotFound
	Skip   Mode = "skip"   // do nothing and report it (ignore-if-deleted)
	Create Mode = "create" // no check: the batch creates or replaces the model
	Fresh  Mode = "fresh"  // fail with errs.Exists when the model exists
)

// TTL says what a batch does to the model's lifetime.
type TTL string

// The TTL actions.
const (
	Keep    TTL = "keep"    // keys the batch creates get the model's remaining TTL
	SetTTL  TTL = "set"     // every key of the model gets TTLMillis
	Persist TTL = "persist" // every key of the model loses its TTL
)

// Target is a model an op is bound to.
type Target struct {
	Root  string
	Model *schema.Model
}

// Key is the key of a collection field of the target.
func (t Target) Key(n *schema.Node) string { return keys.Field(t.Root, n.Name) }

// CollectionKeys lists the keys of every collection field of the target.
func (t Target) CollectionKeys() []string {
	out := make([]string, len(t.Model.Collections))
	for i, n := range t.Model.Collections {
		out[i] = t.Key(n)
	}
	return out
}

type model struct {
	root    string
	mode    Mode
	ttl     TTL
	ttlms   int64
	all     bool // list every collection key (delete, replace, TTL changes)
	need    bool // an Exists guard: the model must exist even if the batch creates it
	creates bool // the program replaces the model
	target  Target
}

// Instr is one instruction, for rendering and for tying results to ops.
type Instr struct {
	Op    string
	Args  []string // key arguments already resolved to key names
	Owner any      // the op that emitted it
	Desc  string   // the op, described ("" to ask Owner when needed)
}

// Describe is the op the instruction belongs to, described for messages.
func (in Instr) Describe() string {
	if in.Desc != "" {
		return in.Desc
	}
	if s, ok := in.Owner.(fmt.Stringer); ok && s != nil {
		return s.String()
	}
	return in.Op
}

// Builder accumulates a program. It writes ARGV as it goes: a batch is
// compiled and sent once per call, so the builder is on the hot path and
// keeps its allocations few (flat buffers, boxed constants, no maps for
// the few keys of a typical batch).
type Builder struct {
	keys   []string
	boxed  []any          // keys, boxed once for the command
	index  map[string]int // key -> KEYS index, once there are many keys
	models []*model
	instrs []Instr
	words  []any    // instruction words of ARGV: op, count, args...
	shown  []string // Instr.Args of every instruction, back to back
	// owner and desc of the instructions being emitted
	owner any
	desc  string
	// room for the keys and the model of a typical batch, allocated with
	// the builder
	keyRoom   [6]string
	boxRoom   [6]any
	modelRoom [1]*model
}

// manyKeys is how many keys a builder finds by linear search before it
// builds an index.
const manyKeys = 16

// NewBuilder returns an empty program.
func NewBuilder() *Builder { return NewBuilderFor(0) }

// NewBuilderFor returns an empty program sized for about ops operations.
func NewBuilderFor(ops int) *Builder {
	b := &Builder{}
	b.keys, b.boxed, b.models = b.keyRoom[:0], b.boxRoom[:0], b.modelRoom[:0]
	if ops > 0 {
		b.instrs = make([]Instr, 0, ops)
		b.words = make([]any, 0, 7*ops)
		b.shown = make([]string, 0, 5*ops)
	}
	return b
}

// Keys are the program's keys, in KEYS order.
func (b *Builder) Keys() []string { return b.keys }

// Instrs are the program's instructions (model declarations excluded).
func (b *Builder) Instrs() []Instr { return b.instrs }

// Empty reports whether no instruction was emitted.
func (b *Builder) Empty() bool { return len(b.instrs) == 0 }

// Targets lists the declared models.
func (b *Builder) Targets() []Target {
	out := make([]Target, len(b.models))
	for i, m := range b.models {
		out[i] = m.target
	}
	return out
}

// key returns the KEYS index of k (from 1).
func (b *Builder) key(k string) int {
	if b.index != nil {
		if i, ok := b.index[k]; ok {
			return i
		}
	} else {
		for i, x := range b.keys {
			if x == k {
				return i + 1
			}
		}
	}
	b.keys = append(b.keys, k)
	b.boxed = append(b.boxed, k)
	i := len(b.keys)
	if b.index != nil {
		b.index[k] = i
	} else if i > manyKeys {
		b.index = make(map[string]int, 2*i)
		for j, x := range b.keys {
			b.index[x] = j + 1
		}
	}
	return i
}

func (b *Builder) byRoot(root string) *model {
	for _, m := range b.models {
		if m.root == root {
			return m
		}
	}
	return nil
}

// Declare registers a model the program touches, with what to do when it is
// missing (Need or Skip); the first declaration of a root wins.
func (b *Builder) Declare(t Target, mode Mode) {
	if b.byRoot(t.Root) != nil {
		return
	}
	b.models = append(b.models, &model{root: t.Root, mode: mode, ttl: Keep, target: t})
	b.key(t.Root)
}

// Creates marks that the program creates or replaces the model at root, so
// it need not exist (unless the batch skips missing models or requires it),
// and that every collection key is listed.
func (b *Builder) Creates(root string) {
	if m := b.byRoot(root); m != nil {
		m.creates, m.all = true, true
	}
}

// Require marks that the model at root must exist, whatever else the
// program does to it.
func (b *Builder) Require(root string) {
	if m := b.byRoot(root); m != nil {
		m.need = true
	}
}

// Lifetime sets what the program does to the TTL of the model at root.
func (b *Builder) Lifetime(root string, ttl TTL, ms int64) {
	if m := b.byRoot(root); m != nil {
		m.ttl, m.ttlms, m.all = ttl, ms, true
	}
}

// Owner sets the op and description the next instructions belong to. An
// empty desc leaves describing to the owner, when a message needs it
// (Instr.Describe).
func (b *Builder) Owner(owner any, desc string) { b.owner, b.desc = owner, desc }

// Arg is an instruction argument: a key (K) or plain text (V).
type Arg struct {
	key  bool
	text string
}

// K is a key argument.
func K(k string) Arg { return Arg{key: true, text: k} }

// V is a text argument.
func V(s string) Arg { return Arg{text: s} }

// Emit appends one instruction.
func (b *Builder) Emit(op string, args ...Arg) {
	b.words = append(b.words, word(op), number(len(args)))
	from := len(b.shown)
	for _, a := range args {
		if a.key {
			b.words = append(b.words, number(b.key(a.text)))
		} else {
			b.words = append(b.words, a.text)
		}
		b.shown = append(b.shown, a.text)
	}
	b.instrs = append(b.instrs, Instr{Op: op, Args: b.shown[from:len(b.shown):len(b.shown)], Owner: b.owner, Desc: b.desc})
}

// Program is a built program, ready to run.
type Program struct {
	Keys   []string
	Argv   []any
	Instrs []Instr
	decls  int
	record string
	// cmd is the whole command, laid out for Interpreter.Run: two words it
	// fills in (fcall and the function, or evalsha and the hash), numkeys,
	// keys, Argv.
	cmd []any
}

// Header is what a program carries besides its instructions.
type Header struct {
	// ID is the batch id ("" for none).
	ID string
	// Record is the key of the batch record ("" for none); RecordMS its
	// lifetime in milliseconds.
	Record   string
	RecordMS int64
	// Bytes and Moves are the batch's budget of work (0: none): the bytes of
	// text its ops may make, and the list elements they may move.
	Bytes, Moves int64
}

// Build lays out KEYS and ARGV.
//
// ARGV: args[1] batch id, args[2] index in KEYS of the record key ('0' for
// none), args[3] record lifetime in ms, args[4] byte budget, args[5] move
// budget, then the instructions (see batch.lua).
func (b *Builder) Build(h Header) *Program {
	batch, record, recordMS := h.ID, h.Record, h.RecordMS
	rec := 0
	if record != "" {
		rec = b.key(record)
	}
	// The model declarations may add collection keys: every key must be
	// known before KEYS is laid out.
	nd := 0
	var cols []int // KEYS indexes of the collection keys of models with all
	for _, m := range b.models {
		nd += 6
		if m.all {
			for _, n := range m.target.Model.Collections {
				cols = append(cols, b.key(m.target.Key(n)))
				nd++
			}
		}
	}
	nk := len(b.keys)
	cmd := make([]any, 0, 3+nk+3+nd+len(b.words))
	cmd = append(cmd, nil, nil, number(nk))
	cmd = append(cmd, b.boxed...)
	cmd = append(cmd, batch, number(rec), int64Text(recordMS), int64Text(h.Bytes), int64Text(h.Moves))
	for _, m := range b.models {
		mode := m.mode
		if mode == Need && m.creates && !m.need {
			mode = Create
		}
		at := len(cmd)
		cmd = append(cmd, word("model"), nil, number(b.key(m.root)), word(string(mode)), word(string(m.ttl)), int64Text(m.ttlms))
		if m.all {
			for range m.target.Model.Collections {
				cmd = append(cmd, number(cols[0]))
				cols = cols[1:]
			}
		}
		cmd[at+1] = number(len(cmd) - at - 2)
	}
	cmd = append(cmd, b.words...)
	return &Program{Keys: b.keys, Argv: cmd[3+nk:], Instrs: b.instrs, decls: len(b.models), record: record, cmd: cmd}
}

// Run sends the program as one FCALL, or one EVALSHA on servers without
// functions, loading the library or the script first when the server lacks
// it (Interpreter.Run).
func (p *Program) Run(ctx context.Context, c redis.UniversalClient) (any, error) {
	return Interpreter.Run(ctx, c, p.cmd).Result()
}

// RunTx sends the program as Run does, each send inside MULTI/EXEC, which
// go-redis never resends after writing it (script.Func.RunTx).
func (p *Program) RunTx(ctx context.Context, c redis.UniversalClient) (any, error) {
	r, err := Interpreter.RunTx(ctx, c, p.cmd, emptyProgram)
	if err != nil {
		return nil, err
	}
	return r.Result()
}

// emptyProgram is a call of the interpreter that does nothing (no keys, no
// record, no instruction): how RunTx learns how a server runs it.
func emptyProgram() []any { return []any{nil, nil, "0", "", "0", "0", "0", "0"} }

// Queue queues the program on pipe, a transaction of c. If the reply is an
// error, Interpreter.Recover says whether to queue it again.
func (p *Program) Queue(ctx context.Context, c redis.UniversalClient, pipe redis.Pipeliner) *redis.Cmd {
	return Interpreter.Queue(ctx, c, pipe, p.cmd)
}

// Boxed words of ARGV: converting a string to an interface allocates, and
// ARGV is mostly the same few opcodes and small numbers.
var (
	words   = map[string]any{}
	numbers [1024]any
)

func init() {
	for _, w := range []string{
		"model", "need", "skip", "create", "fresh", "keep", "set", "persist",
		"gver", "gcmp", "glen", "ghas", "gmember", "glock",
		"hset", "hdel", "incr", "incrf", "arith", "sappend", "srepeat", "tadd",
		"rpush", "lpush", "rpop", "lpop", "popat", "lset", "linsert", "ldelrange", "ltrim", "lrem", "lmove", "len", "clear",
		"mset", "mdel", "mpop", "mpopany", "mget", "mhas", "sadd", "srem", "shas", "reset", "drop", "unlock",
	} {
		words[w] = w
	}
	for i := range numbers {
		numbers[i] = strconv.Itoa(i)
	}
}

// word boxes an opcode or a keyword.
func word(w string) any {
	if x, ok := words[w]; ok {
		return x
	}
	return w
}

// number boxes a small count or index as text.
func number(n int) any {
	if n >= 0 && n < len(numbers) {
		return numbers[n]
	}
	return strconv.Itoa(n)
}

func int64Text(n int64) any {
	if n >= 0 && n < int64(len(numbers)) {
		return numbers[n]
	}
	if n == 10000 { // the default record lifetime, in ms (tx)
		return recordDefault
	}
	return strconv.FormatInt(n, 10)
}

var recordDefault any = "10000"

// String renders the instructions, one a line: "incr account:{alice} balance 10 ...".
func (p *Program) String() string { return Render(p.Instrs) }

// Render writes instructions one a line.
func Render(instrs []Instr) string {
	var sb strings.Builder
	for _, in := range instrs {
		sb.WriteString(in.Op)
		for _, a := range in.Args {
			sb.WriteByte(' ')
			sb.WriteString(quote(a))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") || !isPrint(s) {
		return strconv.Quote(s)
	}
	return s
}

func isPrint(s string) bool {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// Outcome is a decoded reply.
type Outcome struct {
	// Skipped: a model was missing and the batch ran in Skip mode.
	Skipped bool
	// Duplicate: the batch id had been applied before; Results are the first run's.
	Duplicate bool
	// NotKept: a duplicate whose first run's results were larger than
	// RecordCap, so its record kept only that it was applied.
	NotKept bool
	// Results holds one raw reply per instruction (nil for none).
	Results []any
}

// Decode reads the interpreter's reply. Failures come back as errors wrapping
// the sentinel of their code and naming the op that failed: every reply
// gives a typed error. A failure after the batch's first write (which the
// interpreter's checks are there to prevent) wraps errs.PartlyApplied; a
// refusal of the server before it, the sentinel of its cause, or
// errs.Refused. A reply of no known shape (another interpreter answered?)
// wraps errs.UnknownOutcome: what ran is not known.
func (p *Program) Decode(reply any) (*Outcome, error) {
	arr, ok := reply.([]any)
	if !ok || len(arr) == 0 {
		return nil, fmt.Errorf("%w: unexpected reply from the batch interpreter: %v", errs.UnknownOutcome, reply)
	}
	status, _ := arr[0].(string)
	switch status {
	case "OK", "DUP":
		res := arr[1:]
		if len(res) > p.decls {
			res = res[p.decls:]
		} else {
			// A record of a batch whose instructions yielded nothing.
			res = nil
		}
		return &Outcome{Duplicate: status == "DUP", Results: res}, nil
	case "DUPX":
		return &Outcome{Duplicate: true, NotKept: true}, nil
	case "SKIP":
		return &Outcome{Skipped: true}, nil
	case "ERR":
		code, _ := at(arr, 1).(string)
		n, _ := strconv.Atoi(fmt.Sprint(at(arr, 2)))
		msg, _ := at(arr, 3).(string)
		return nil, p.failure(code, n, msg)
	}
	return nil, fmt.Errorf("%w: unexpected reply from the batch interpreter: %v", errs.UnknownOutcome, reply)
}

func at(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// codes are the error codes of the interpreter (fail in batch.lua) and
// their sentinels. A code not here maps to errs.Refused.
var codes = map[string]error{
	"NOTFOUND":  errs.NotFound,
	"EXISTS":    errs.Exists,
	"PRECOND":   errs.Precondition,
	"WRONGTYPE": errs.WrongType,
	"CORRUPT":   errs.Corrupt,
	"OVERFLOW":  errs.Overflow,
	"RANGE":     errs.OutOfRange,
	"ARG":       errs.InvalidArgument,
	"PARTIAL":   errs.PartlyApplied,
	"NOPERM":    errs.NoPermission,
	"UNSUP":     errs.Unsupported,
	"LIMIT":     errs.TooLarge,
	"REFUSED":   errs.Refused,
	"LOCKLOST":  fmt.Errorf("%w (%w)", errs.LockLost, lock.ErrNotHeld),
}

func (p *Program) failure(code string, n int, msg string) error {
	sentinel, ok := codes[code]
	if !ok {
		sentinel, msg = errs.Refused, code+": "+msg
	}
	where := "model"
	if i := n - 1 - p.decls; i >= 0 && i < len(p.Instrs) {
		where = p.Instrs[i].Describe()
	} else if n >= 1 && n <= p.decls {
		where = "model check"
	}
	return fmt.Errorf("%w: %s: %s", sentinel, where, msg)
}

// Compile compiles an op (an ops.Op) into b for target t. Package ops sets it,
// so that tx can compile ops without ops exporting how.
var Compile func(op any, b *Builder, t Target) error

// RecordCap is the largest encoding of a batch's results that its record
// keeps (batch.lua RECORD_CAP); a larger one is recorded as "applied, results
// not kept". 1 KiB holds the results of every batch of counters, lengths,
// flags and small values (a typical record is 10-60 bytes), while a batch
// that yields a large text or element (an AppendText on a 10 MB field) no
// longer copies it into a record: the worst record costs about 1.2 KB
// instead of the size of its reply.
const RecordCap = 1024

// DecodeRecord reads a batch record (what batch.lua's recorded() stored)
// back into the shape of the script's reply to a resend: {"DUP", results...}
// or {"DUPX"} when the results were not kept.
func DecodeRecord(s string) (any, error) {
	switch s {
	case "1":
		return []any{"DUP"}, nil
	case "0":
		return []any{"DUPX"}, nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("%w: batch record: %v", errs.Corrupt, err)
	}
	var conv func(any) any
	conv = func(x any) any {
		switch t := x.(type) {
		case bool:
			return nil
		case []any:
			for i := range t {
				t[i] = conv(t[i])
			}
			return t
		case float64:
			return int64(t)
		}
		return x
	}
	res, ok := conv(v).([]any)
	if !ok {
		return nil, fmt.Errorf("%w: batch record is not a list of results", errs.Corrupt)
	}
	return append([]any{"DUP"}, res...), nil
}

// Record is the key of the program's batch record, "" when it has none.
func (p *Program) Record() string { return p.record }
