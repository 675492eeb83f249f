// Package prog is the one owner of the instruction set of the batch
// interpreter (internal/lua/batch.lua): it builds the programs the
// interpreter runs, with one typed method per instruction (instr.go), and
// lays out their KEYS and ARGV. One Lua entry point serves every batch: the
// program travels in its arguments, so the server holds one function (or
// one cached script) whatever batches users write.
//
// prog is pure: it imports no Redis client and runs nothing. Package
// transport sends programs and reads their replies; its tests and the
// golden programs of testdata/ hold the layout to what batch.lua reads.
package prog

import (
	"strconv"
	"strings"
	"time"

	"github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// Mode says what a batch does about a model that does not exist.
type Mode string

// The modes.
const (
	Need   Mode = "need"   // fail with errs.NotFound
	Skip   Mode = "skip"   // do nothing and report it (ignore-if-deleted)
	Create Mode = "create" // no check: the batch creates or replaces the model
	Fresh  Mode = "fresh"  // fail with errs.Exists when the model exists
	// Purge is Skip for a program that only deletes its models
	// (Model.Delete, Model.DeleteMany): when every model is missing, their
	// leftovers (collection keys and index entries whose root is gone) are
	// deleted all the same, and the batch reports them missing; when some
	// exist and some not, it is a skip. Build chooses it; no caller does.
	Purge Mode = "purge"
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
	// TTL is the lifetime a batch gives the model when it creates it with
	// ops.CreateIfMissing (0: none).
	TTL time.Duration
	// Index is the model's place in its type's indexes, nil for a type
	// without indexes: the program then keeps them (index.go).
	Index *index.Target
}

// listsAll reports whether the model's declaration lists every collection
// key: for a delete, a replace or a TTL change, which touch them all, and
// for a model that must be new, which batch.lua makes start empty (a
// collection key found without its root, as an evicted root leaves it, is
// not the new model's and is deleted before the first write).
func (m *model) listsAll() bool { return m.all || m.mode == Fresh }

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
	// first is where the model's first instruction goes: its index in
	// words and in instrs (Ensure puts its instruction there, after the
	// ensures before it: ensureWords and ensures of them)
	firstWord, firstInstr int32
	ensureWords, ensures  int32
}

// Instr is one instruction, for rendering and for tying results to ops.
type Instr struct {
	Op    string   // the opcode's word
	Args  []string // key arguments already resolved to key names
	Owner Op       // the op that emitted it (nil for none)
	Desc  string   // the op, described ("" to ask Owner when needed)
	Item  int      // the owner's index among the ops of its batch, from 0
}

// Describe is the op the instruction belongs to, described for messages.
func (in Instr) Describe() string {
	if in.Desc != "" {
		return in.Desc
	}
	if in.Owner != nil {
		return in.Owner.String()
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
	owner Op
	desc  string
	// room for the keys and the model of a typical batch, allocated with
	// the builder
	keyRoom   [6]string
	boxRoom   [6]any
	modelRoom [1]*model
	// and for the words, instructions and model of a batch of up to three
	// small ops: a Save of up to 8 fields (with the slack Grow keeps: 24
	// words and 20 shown grew on every Save of 8 fields, two allocations
	// and 0.4 KB; one of more fields grows them once, by Grow), a guard and
	// an Incr (15 words and 10 shown, in three allocations of their own and
	// two more as they grew), a model Lock's save (the lock's guard, the
	// diff, the release; three allocations and 0.8 KB a save)
	wordRoom  [32]any
	shownRoom [24]string
	instrRoom [3]Instr
	modelVal  model
	// the program Build makes, the first time (it shares the builder's
	// keys and instructions: it lives as long anyway). The builder and
	// its malloc header fit the 1,792-byte size class: a word more and
	// it takes 2,048.
	progVal Program
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
	if ops >= 1 && ops <= len(b.instrRoom) {
		b.words, b.shown, b.instrs = b.wordRoom[:0], b.shownRoom[:0], b.instrRoom[:0]
	}
	if ops > len(b.instrRoom) {
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

// FirstRoot is the root of the first declared model ("" for none).
func (b *Builder) FirstRoot() string {
	if len(b.models) == 0 {
		return ""
	}
	return b.models[0].root
}

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
	b.boxed = append(b.boxed, boxed(&b.keys[len(b.keys)-1])) // keys are never written again (box.go)
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
	m := &b.modelVal
	if len(b.models) > 0 {
		m = new(model)
	}
	*m = model{root: t.Root, mode: mode, ttl: Keep, target: t, firstWord: int32(len(b.words)), firstInstr: int32(len(b.instrs))}
	b.models = append(b.models, m)
	b.key(t.Root)
	if t.Index != nil {
		b.declareIndex(t)
	}
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

// RequiredNew returns the root of a model the program both requires to
// exist (Require) and declares new (Fresh), or "": no run can hold both.
func (b *Builder) RequiredNew() string {
	for _, m := range b.models {
		if m.mode == Fresh && m.need {
			return m.root
		}
	}
	return ""
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
func (b *Builder) Owner(owner Op, desc string) { b.owner, b.desc = owner, desc }

// Program is a built program, ready to run.
type Program struct {
	Keys   []string
	Argv   []any
	Instrs []Instr
	decls  int
	record string
	lean   bool
	// cmd is the whole command, laid out for Interpreter.Run: two words it
	// fills in (fcall and the function, or evalsha and the hash), numkeys,
	// keys, Argv.
	cmd []any
	id  string // the batch id, which cmd's word points at (box.go)
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
		if m.listsAll() {
			for _, n := range m.target.Model.Collections {
				cols = append(cols, b.key(m.target.Key(n)))
				nd++
			}
		}
	}
	nk := len(b.keys)
	cmd := make([]any, 0, 3+nk+5+nd+len(b.words))
	cmd = append(cmd, nil, nil, number(nk))
	cmd = append(cmd, b.boxed...)
	p := &b.progVal
	if p.cmd != nil { // built before
		p = new(Program)
	}
	p.id = batch
	cmd = append(cmd, boxed(&p.id), number(rec), int64Text(recordMS), int64Text(h.Bytes), int64Text(h.Moves))
	for _, m := range b.models {
		mode := m.mode
		if mode == Need && m.creates && !m.need {
			mode = Create
		}
		if mode == Skip && b.dropsOnly() {
			mode = Purge
		}
		at := len(cmd)
		cmd = append(cmd, opWords[opModel], nil, number(b.key(m.root)), word(string(mode)), word(string(m.ttl)), int64Text(m.ttlms))
		if m.listsAll() {
			for range m.target.Model.Collections {
				cmd = append(cmd, number(cols[0]))
				cols = cols[1:]
			}
		}
		cmd[at+1] = number(len(cmd) - at - 2)
	}
	cmd = append(cmd, b.words...)
	p.Keys, p.Argv, p.Instrs, p.decls, p.record, p.cmd = b.keys, cmd[3+nk:], b.instrs, len(b.models), record, cmd
	p.lean = lean(b.models, b.instrs)
	if p.lean {
		// the first declaration's opcode, ARGV[6]: batch.lua's batch()
		// hands the program to its lean form, save
		p.Argv[5] = wordSave
	}
	return p
}

// dropsOnly reports whether the program declares models and only deletes
// them (their drops, and their ix declarations if indexed): such a program
// may delete missing models' leftovers (Purge), since it writes nothing
// else that their absence should stop.
func (b *Builder) dropsOnly() bool {
	if len(b.models) == 0 {
		return false
	}
	drops := false
	for _, in := range b.instrs {
		switch in.Op {
		case table[opDrop].name:
			drops = true
		case table[opIndex].name:
		default:
			return false
		}
	}
	return drops
}

// Boxed words of ARGV: converting a string to an interface allocates, and
// ARGV is mostly the same few keywords (the modes; opcodes are boxed in
// opWords) and small numbers.
var (
	words   = map[string]any{}
	numbers [1024]any
)

func init() {
	for _, w := range []string{
		string(Need), string(Skip), string(Create), string(Fresh), string(Purge),
		string(Keep), string(SetTTL), string(Persist),
	} {
		words[w] = w
	}
	for i := range numbers {
		numbers[i] = strconv.Itoa(i)
	}
}

// word boxes a keyword.
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
	switch n {
	case 10000: // the default record lifetime, in ms (tx)
		return recordDefault
	case 2 << 20: // tx.DefaultBytes
		return bytesDefault
	case 50_000: // tx.DefaultMoves
		return movesDefault
	}
	return strconv.FormatInt(n, 10)
}

var recordDefault, bytesDefault, movesDefault any = "10000", "2097152", "50000"

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

// Record is the key of the program's batch record, "" when it has none.
func (p *Program) Record() string { return p.record }

// Command is the whole command, laid out for script.Func.Run: two words the
// sender fills in (fcall and the function, or evalsha and the hash),
// numkeys, KEYS, ARGV. The sender owns it once the program is built.
func (p *Program) Command() []any { return p.cmd }

// Decls is how many model declarations come before the instructions: the
// interpreter numbers its instructions (in replies and errors) from the
// first declaration.
func (p *Program) Decls() int { return p.decls }
