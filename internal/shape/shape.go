// Package shape compiles the shape of a batch program (package prog) into
// straight-line Lua: the sequence of its instructions and of the words that
// steer them (opcodes, argument counts, key indexes, field names, modes,
// kinds, relations), not its values. The compiled script reads the values
// from ARGV where the interpreter's layout puts them, so a program is sent
// with the same KEYS and ARGV to its compiled shape (EVALSHA of the shape's
// script) or to the interpreter: no parse, no dispatch, no per-call state
// tables, and only the reads, ACL asks and writes this shape needs.
//
// Only a subset of instructions is compiled (For says which); every other
// program runs on the interpreter. A compiled script runs only the common
// path itself: whenever the interpreter would fail the batch (a missing
// model, a guard that does not hold, a value that does not parse, a budget,
// a refusal of the server), and the script finds it before its first
// write, it writes nothing and answers {'AGAIN'}: the caller sends the same
// program to the interpreter, which fails it with its own error. So the
// compiled scripts keep every promise of the interpreter by construction
// where they do not run it, and the equivalence tests hold them to it where
// they do.
//
// shape is pure: it imports no Redis client.
package shape

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rapyer-go/rapyer/internal/prog"
)

// Shape is one compiled shape.
type Shape struct {
	// Text is the Lua script, Hash its SHA1 as EVALSHA takes it.
	Text, Hash string
	// pick is the index in the program's ARGV (from 1) of each word the
	// script takes as its ARGV, keys that of each key it takes as its KEYS
	// (Command).
	pick, keys []int
	nkeys      any // len(keys), as a word
	// yields are the indexes, in the interpreter's reply, of the results
	// of the instructions that yield; n is its number of results
	yields []int
	n      int
	// hashWord is Hash boxed once, as a word of the call (boxing a
	// string allocates); nil where the shape was made without it
	hashWord any
	// loaded: a call of the script has reached a server, which then
	// caches it (EVAL caches what it runs).
	loaded atomic.Bool
	// save: a compiled save (save.go), which answers 1 for {'OK'};
	// keys and steer are its number of keys and the words that make its
	// shape (saveKey), to tell it from another of the same hash
	save     bool
	saveKeys int
	steer    []string
	// recWord: a compiled save with a record, which takes one word more
	// than its picks, the last: the record's lifetime (save.go, record),
	// '' in a program's call
	recWord bool
}

// Reply lays out the script's reply v as the interpreter's: a batch that
// went through answers 1 when no instruction yields, its one result as
// is, or 'OK' and its results; every other reply ({'AGAIN'}, a resend's
// {'DUP', ...}, {'SKIP'}, {'ERR', ...}) is the interpreter's already.
func (s *Shape) Reply(v any) any {
	if s.save {
		if v == int64(1) {
			return okReply
		}
		return v
	}
	switch x := v.(type) {
	case int64:
		if x == 1 && len(s.yields) == 0 {
			return s.laid(nil)
		}
	case string:
		if len(s.yields) == 1 {
			// the one result in place: no slice of one to lay out
			out := make([]any, 1+s.n)
			out[0], out[s.yields[0]] = "OK", v // v: x boxed again would allocate
			return out
		}
	case []any:
		if len(x) == 1+len(s.yields) && len(x) > 2 && x[0] == "OK" {
			return s.laid(x[1:])
		}
	}
	return v
}

func (s *Shape) laid(ys []any) []any {
	out := make([]any, 1+s.n)
	out[0] = "OK"
	for j, i := range s.yields {
		out[i] = ys[j]
	}
	return out
}

// okReply is the interpreter's reply to a save that went through; shared,
// as nobody changes it (transport.Decode reads it).
var okReply any = []any{"OK"} // boxed once: boxing a slice allocates

// HashWord is Hash as a word of EVALSHA, boxed once for every call.
func (s *Shape) HashWord() any {
	if s.hashWord != nil {
		return s.hashWord
	}
	return s.Hash
}

// Loaded reports whether a call of the script got through once in this
// process: then EVALSHA is sent first, else EVAL with the text.
func (s *Shape) Loaded() bool { return s.loaded.Load() }

// MarkLoaded notes that a call of the script got through.
func (s *Shape) MarkLoaded() { s.loaded.Store(true) }

// Command lays out the call of the script for p, a program of its shape:
// two words the sender fills in (EVALSHA and the hash, or EVAL and the
// text), the number of keys, the keys of p the script takes (in p's order:
// the model's root, which routes the call, first), and the words of p's
// ARGV the script takes.
func (s *Shape) Command(p *prog.Program) []any {
	full := p.Command()
	if s.save {
		// a compiled save reads every key of its program
		nk := len(p.Keys)
		cmd := make([]any, 0, 4+nk+len(s.pick))
		cmd = append(cmd, full[:3+nk]...)
		for _, i := range s.pick {
			cmd = append(cmd, p.Argv[i-1])
		}
		if s.recWord {
			cmd = append(cmd, "")
		}
		return cmd
	}
	cmd := make([]any, 0, 3+len(s.keys)+len(s.pick))
	cmd = append(cmd, full[0], full[1], s.nkeys)
	for _, i := range s.keys {
		cmd = append(cmd, full[2+i])
	}
	for _, i := range s.pick {
		cmd = append(cmd, p.Argv[i-1])
	}
	return cmd
}

// Again is the first word of a compiled script's reply when it wrote
// nothing and leaves the batch to the interpreter.
const Again = "AGAIN"

// MaxShapes bounds the shapes a process compiles, of batches and of saves
// each (those it finds not compilable count too): past it, new shapes run
// on the interpreter.
const MaxShapes = 256

var cache = struct {
	sync.RWMutex
	m map[string]*Shape // nil: not compilable
}{m: map[string]*Shape{}}

// Off switches compiled shapes off for the whole process (tests that pin
// the interpreter's commands).
var Off atomic.Bool

// SaveIxOff switches the compiled indexed saves (saveix.go) off: their
// programs compile as other batches do (benches compare the two; Forget
// the shapes after a change).
var SaveIxOff atomic.Bool

// For returns the compiled shape of p, or nil when p runs on the
// interpreter: several models, an instruction or a form of one that is not
// compiled, a lean program other than a save of one model without
// collections (save.go), or past MaxShapes.
func For(p *prog.Program) *Shape {
	if p == nil || p.Decls() != 1 || Off.Load() {
		return nil
	}
	if p.Lean() {
		return forSave(p)
	}
	// the key is made in room, on the stack, and looked up without a
	// copy: a shape found makes no allocation for its key
	var room [keyRoom]byte
	kb, ok := keyOf(room[:0], p.Argv, p.Keys)
	if !ok {
		return nil
	}
	cache.RLock()
	s, seen := cache.m[string(kb)]
	cache.RUnlock()
	if seen {
		return s
	}
	key := string(kb)
	var text string
	var yields []int
	alone := false
	if !SaveIxOff.Load() {
		text, alone = compileSaveIx(p.Argv)
	}
	ok = alone
	if !alone {
		text, yields, ok = compile(p.Argv, p.Keys)
	}
	if ok {
		text, pick := compact(text)
		text, keys := compactKeys(text)
		sum := sha1.Sum([]byte(text))
		hash := hex.EncodeToString(sum[:])
		s = &Shape{Text: text, Hash: hash, hashWord: hash, pick: pick, keys: keys, nkeys: strconv.Itoa(len(keys)), yields: yields, n: len(p.Instrs) + 1}
	}
	cache.Lock()
	defer cache.Unlock()
	if old, seen := cache.m[key]; seen {
		return old
	}
	if len(cache.m) >= MaxShapes {
		return nil
	}
	cache.m[key] = s
	return s
}

// Forget drops every shape the process holds, so that the next MaxShapes
// shapes compile again. It is for tests that count compiled runs: a
// process's earlier tests may have filled the cache with their own shapes.
func Forget() {
	cache.Lock()
	defer cache.Unlock()
	cache.m = map[string]*Shape{}
}

// Count is how many shapes the process holds, compilable or not.
func Count() int {
	cache.RLock()
	n := len(cache.m)
	cache.RUnlock()
	saves.RLock()
	defer saves.RUnlock()
	return n + len(saves.m)
}

// argv reads ARGV as the interpreter does: av(i) is ARGV[i] (from 1).
type argv []any

func (a argv) at(i int) (string, bool) {
	if i < 1 || i > len(a) {
		return "", false
	}
	s, ok := a[i-1].(string)
	return s, ok
}

// maxInstrs and maxArgs bound what is compiled: a shape's text grows with
// them, and a batch of many ops or many values gains little.
const (
	maxInstrs = 16
	maxArgs   = 33
)

// instr is an instruction as laid out in ARGV: its opcode, the index in
// ARGV of its first argument, its argument count.
type instr struct {
	op    string
	at, n int
}

// instrs splits ARGV into instructions, or fails on a layout it does not
// know (cut short, too many, too long).
func instrs(a argv) ([]instr, bool) {
	// one allocation for most batches (appending from nil took three for
	// a model lock's save of four instructions)
	return instrsIn(make([]instr, 0, 8), a)
}

// instrsIn is instrs appending to out.
func instrsIn(out []instr, a argv) ([]instr, bool) {
	for i := 6; i <= len(a); {
		op, ok1 := a.at(i)
		ns, ok2 := a.at(i + 1)
		n, err := strconv.Atoi(ns)
		if !ok1 || !ok2 || err != nil || n < 0 || (n > maxArgs && (op != "ix" || n > maxIxArgs)) || i+1+n > len(a) || len(out) == maxInstrs {
			return nil, false
		}
		out = append(out, instr{op: op, at: i + 2, n: n})
		i += 2 + n
	}
	return out, len(out) > 1
}

// keyRoom is the room on the stack for a shape's key (keyOf): a longer
// key goes to the heap.
const keyRoom = 512

// keyOf appends to buf the shape's key: the words that steer the program,
// with a placeholder for every value; ok is false when the program is not
// compiled. keys are the program's keys (a lock's release steers on its
// lock key's name, lockSteer). It allocates nothing for a batch of
// up to 8 instructions and 32 steering words whose key fits in buf.
func keyOf(buf []byte, a argv, keys []string) ([]byte, bool) {
	var insRoom [8]instr
	ins, ok := instrsIn(insRoom[:0], a)
	if !ok {
		return nil, false
	}
	var stRoom [32]string
	sb := strconv.AppendInt(buf, int64(len(keys)), 10)
	rec, _ := a.at(2)
	sb = append(append(sb, '|'), rec...)
	if rec != "0" {
		// the record's lifetime is in the script's text (record)
		ms, _ := a.at(3)
		sb = append(append(append(sb, '|'), ms...), 0)
	}
	root, _ := a.at(ins[0].at)
	for j, in := range ins {
		st, ok := steer(stRoom[:0], a, ins, in, j == 0, root, keys)
		if !ok {
			return nil, false
		}
		sb = append(append(sb, '|'), in.op...)
		sb = append(sb, ':')
		sb = strconv.AppendInt(sb, int64(in.n), 10)
		sb = append(sb, ':')
		for _, x := range st {
			sb = append(append(sb, x...), 0)
		}
	}
	return sb, true
}

// steer appends to dst the words of in that steer it (the rest are
// values), or fails when the instruction or its form is not compiled.
// first says whether in is the program's first (its model declaration);
// root is the KEYS index of the model's root, keys the program's keys.
func steer(dst []string, a argv, ins []instr, in instr, first bool, root string, keys []string) ([]string, bool) {
	w := func(j int) string { s, _ := a.at(in.at + j - 1); return s }
	if first != (in.op == "model") {
		return nil, false
	}
	switch in.op {
	case "model":
		mode := w(2)
		// a TTL set only by a replace (reset.go)
		return append(dst, w(1), mode, w(3)), in.n == 4 && (w(3) == "keep" || w(3) == "set") && (mode == "need" || mode == "skip" || mode == "fresh" || mode == "create")
	case "gver":
		return dst, in.n == 2 && w(1) == root
	case "incr":
		// the bounds are the field type's: in the script's text
		return append(dst, w(2), w(4), w(5)), in.n == 5 && w(1) == root && w(2) != version
	case "sappend":
		return append(dst, w(2)), in.n == 3 && w(1) == root && w(2) != version
	case "hset", "hdel":
		step := 1
		if in.op == "hset" {
			step = 2
		}
		from := len(dst)
		for j := 2; j <= in.n; j += step {
			dst = append(dst, w(j))
		}
		return dst, w(1) == root && in.n >= 2 && (in.n-1)%step == 0 && !contains(dst[from:], version)
	case "rpush":
		return append(dst, w(2)), in.n >= 3 && w(1) == root && w(2) != root
	case "gpred":
		return predSteer(dst, a, in, root)
	case "glock", "unlock":
		return lockSteer(dst, a, ins, in, root, keys)
	case "ix":
		st, ok := ixSteer(func(j int) string { s, _ := a.at(in.at + j - 1); return s }, in.n, root)
		return append(dst, st...), ok
	case "reset":
		return dst, in.n == 1 && w(1) == root
	}
	return nil, false
}

// version is the field of the root hash that holds the model's version.
const version = "__v"

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// predSteer is steer of a guard, appending to out: a tree of 'and', 'or' and 'not' over
// comparisons of the root's fields ('cmp') read as integers or as text.
// Seven words a node: key tag x kind rel arg zero; arg is a value, zero (the
// encoding of the field type's zero) is in the script's text.
func predSteer(out []string, a argv, in instr, root string) ([]string, bool) {
	w := func(j int) string { s, _ := a.at(in.at + j - 1); return s }
	n := in.n
	if n == 0 || n%7 != 0 {
		return nil, false
	}
	need := 1 // nodes the tree still needs
	for j := 1; j <= n; j += 7 {
		if need == 0 {
			return nil, false
		}
		need--
		key, tag, x, kind, rel := w(j), w(j+1), w(j+2), w(j+3), w(j+4)
		switch tag {
		case "and", "or", "not":
			c, err := strconv.Atoi(x)
			if err != nil || c < 1 || c > 8 || (tag == "not" && c != 1) {
				return nil, false
			}
			need += c
		case "cmp":
			if key != root || (kind != "int" && kind != "string") || !contains(rels, rel) || x == version {
				return nil, false
			}
		default:
			return nil, false
		}
		out = append(out, key, tag, x, kind, rel, w(j+6))
	}
	return out, need == 0
}

var rels = []string{"eq", "ne", "lt", "le", "gt", "ge"}
