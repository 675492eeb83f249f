package shape

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rapyer-go/rapyer/internal/prog"
)

// Compiled saves. A lean program (prog.Program.Lean) that replaces one
// model without collections (Model.Save, Create, Insert of such a model:
// the program batch.lua's saveone runs) compiles to a script of its own
// shape: the record key's and the root's places in KEYS, the record's
// lifetime, the mode, the TTL action and its ms, and the field names are
// in the text, so a call sends only the keys and the values. The script
// keeps saveone's promises: it checks the model (type, mode, version) and
// asks the ACL for every write after the first before it writes anything;
// then it writes the record (SET ... GET, with PX or KEEPTTL: record), which
// is also its look-up (a resend is answered from it, as save answers it),
// then the model: the version and every field in one HSET, and the TTL. The stored model is
// saveone's: a root that holds a field the save does not write (a stray)
// or a TTL the save drops is deleted first, as saveone always does; a root
// that holds the same fields is overwritten in place (a DEL and a new hash
// cost the server more than the whole HSET). Every failure the interpreter
// reports with an error of its own (a missing or existing model, a wrong
// type, a corrupt or overflowing version, a refusal of the ACL or of the
// server) makes the script answer {'AGAIN'} having written nothing (a
// record it wrote is taken back as save takes it back), and the caller
// sends the same program to the interpreter. A save that went through
// answers 1 (Shape.Reply makes it the interpreter's {'OK'}: an integer
// reply, which the client reads with no allocation, where a string 'OK'
// cost two).

// maxSaveFields and maxSaveText bound the fields a compiled save names and
// the bytes of their names: past them a save runs on the interpreter.
const (
	maxSaveFields = 128
	maxSaveText   = 8192
)

// saveLayout is where the words of a save program of one model without
// collections lie in ARGV (from 1), as prog lays it out and batch.lua's
// saveone reads it.
const (
	svRecIdx = 2  // index in KEYS of the record key ('0': none)
	svRecMS  = 3  // the record's lifetime in ms
	svRoot   = 8  // index in KEYS of the root
	svMode   = 9  // create, need, skip, fresh
	svTTL    = 10 // keep, set, persist
	svTTLMS  = 11 // the TTL in ms, for set
	svCount  = 16 // argument count of the hset
	svFirst  = 18 // the first field name
)

// saveFixed are the places in ARGV of the words besides the field names
// that make a save's shape.
var saveFixed = [...]int{svRecIdx, svRecMS, svRoot, svMode, svTTL, svTTLMS}

// saveKey is the hash of the shape of a save program (its number of keys
// and the words of saveFixed and the field names), or ok false when it is
// not of the one-model form compiled saves take. It allocates nothing: a
// Save looks its shape up on every call.
func saveKey(a argv, nkeys int) (uint64, bool) {
	if !saveForm(a) {
		return 0, false
	}
	w := func(i int) string { s, _ := a.at(i); return s }
	switch w(svMode) {
	case "create", "need", "skip", "fresh":
	default:
		return 0, false
	}
	switch w(svTTL) {
	case "keep", "set", "persist":
	default:
		return 0, false
	}
	// the record's lifetime and the TTL go into the text too (a model's
	// options fix them): whole ms, at least 1, below 2^53, as record()
	// and PEXPIRE take them
	if (w(svRecIdx) != "0" && !wholeMS(w(svRecMS))) || (w(svTTL) == "set" && !wholeMS(w(svTTLMS))) {
		return 0, false
	}
	// FNV-1a, a separator after every word
	h := uint64(14695981039346656037) ^ uint64(nkeys)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * 1099511628211
		}
		h = (h ^ 0x100) * 1099511628211
	}
	for _, i := range saveFixed {
		add(w(i))
	}
	size := 0
	for i := svFirst; i < len(a); i += 2 {
		f, ok := a.at(i)
		if !ok || f == version {
			return 0, false
		}
		size += len(f)
		add(f)
	}
	return h, size <= maxSaveText
}

// saveForm reports whether a has the form of a save program of one model
// without collections: its fixed words, the HSET's count and a name of
// every field (not the version's), the words besides saveFixed's that
// saveKey asks of a save program. It allocates nothing.
func saveForm(a argv) bool {
	w := func(i int) string { s, _ := a.at(i); return s }
	r := w(svRoot)
	if w(6) != "save" || w(7) != "4" || w(12) != "reset" || w(13) != "1" || w(14) != r || w(15) != "hset" || w(17) != r {
		return false
	}
	c, err := strconv.Atoi(w(svCount))
	if err != nil || c < 1 || c%2 != 1 || svCount+c != len(a) || (c-1)/2 > maxSaveFields {
		return false
	}
	for i := svFirst; i < len(a); i += 2 {
		if f, ok := a.at(i); !ok || f == version {
			return false
		}
	}
	return true
}

// steerOf lists the words of a save program that make its shape, in
// saveKey's order.
func steerOf(a argv) []string {
	var out []string
	for _, i := range saveFixed {
		s, _ := a.at(i)
		out = append(out, s)
	}
	for i := svFirst; i < len(a); i += 2 {
		s, _ := a.at(i)
		out = append(out, s)
	}
	return out
}

// sameSave reports whether s is the shape of the save program a (of the
// same hash): no two shapes share a script by a collision.
func sameSave(s *Shape, a argv, nkeys int) bool {
	if s.saveKeys != nkeys || len(s.steer) != len(saveFixed)+(len(a)-svFirst+1)/2 {
		return false
	}
	for j, i := range saveFixed {
		if x, _ := a.at(i); x != s.steer[j] {
			return false
		}
	}
	j := len(saveFixed)
	for i := svFirst; i < len(a); i += 2 {
		if x, _ := a.at(i); x != s.steer[j] {
			return false
		}
		j++
	}
	return true
}

// saves holds the compiled saves by saveKey, up to MaxShapes of them (a
// program that is not compiled is held with no Text).
var saves = struct {
	sync.RWMutex
	m map[uint64]*Shape
}{m: map[uint64]*Shape{}}

// forSave is For of a lean program.
//
// The compiled save last found is tried first, without saveKey's hash and
// the map's lock: a program of saveForm that sameSave finds of its shape
// is one saveKey takes and that shape's (its steer holds every word
// saveKey reads besides saveForm's), so a process that saves one type
// again and again finds its shape by comparing words (the names of the
// fields are mostly the same strings, compared by their pointers).
func forSave(p *prog.Program) *Shape { return lookSave(argv(p.Argv), len(p.Keys)) }

// lookSave is forSave of a program's ARGV and number of keys.
func lookSave(a argv, nkeys int) *Shape {
	if s := lastSave.Load(); s != nil && sameSave(s, a, nkeys) && saveForm(a) {
		return s
	}
	key, ok := saveKey(a, nkeys)
	if !ok {
		return nil
	}
	saves.RLock()
	s, seen := saves.m[key]
	saves.RUnlock()
	if seen {
		if s.Text == "" || !sameSave(s, a, nkeys) {
			return nil
		}
		lastSave.Store(s)
		return s
	}
	s = &Shape{save: true, saveKeys: nkeys, steer: steerOf(a)}
	if text, pick, ok := compileSave(a); ok {
		sum := sha1.Sum([]byte(text))
		s.Text, s.Hash, s.pick = text, hex.EncodeToString(sum[:]), pick
		s.recWord = s.steer[0] != "0" // saveFixed's first: svRecIdx
	}
	saves.Lock()
	defer saves.Unlock()
	if old, seen := saves.m[key]; seen {
		s = old
	} else if len(saves.m) < MaxShapes {
		saves.m[key] = s
	} else {
		return nil
	}
	if s.Text == "" || !sameSave(s, a, nkeys) {
		return nil
	}
	lastSave.Store(s)
	return s
}

// lastSave is the compiled save forSave last found (only shapes with a
// Text: the others are not returned).
var lastSave atomic.Pointer[Shape]

// saveGen is the state of one compilation of a save.
type saveGen struct {
	a    argv
	sb   strings.Builder
	pick []int
}

func (g *saveGen) w(i int) string { s, _ := g.a.at(i); return s }

// line writes one line of the script.
func (g *saveGen) line(s ...string) {
	for _, x := range s {
		g.sb.WriteString(x)
	}
	g.sb.WriteByte('\n')
}

// arg is the expression of ARGV word i of the program in the script's
// ARGV, which takes only the words it reads.
func (g *saveGen) arg(i int) string {
	g.pick = append(g.pick, i)
	return "AV[" + strconv.Itoa(len(g.pick)) + "]"
}

// compileSave writes the script of a save program saveKey took, and the
// ARGV words (indexes in the program's ARGV) it takes: the values. ok is
// false for a program that names a field twice.
//
// The script runs in the chunk itself, with no closure and no pcall around
// it: every call goes by redis.pcall, whose error is a table {err = ...},
// and each reply is tested where it is used, mostly by a comparison the
// happy path makes anyway (saveText says which). A body in a closure called
// by pcall, as the script was until session 16, cost the server about 5k
// instructions a call (the closure, an upvalue for each of the six locals
// it shared with its caller, and Redis 7's pcall, a C function that
// rewrites the error), some 7% of a Save's.
func compileSave(a argv) (string, []int, bool) {
	g := &saveGen{a: a}
	n := 0
	seen := map[string]bool{}
	for i := svFirst; i < len(a); i += 2 {
		f, _ := a.at(i)
		if seen[f] {
			return "", nil, false
		}
		seen[f] = true
		n++
	}
	g.sb.WriteString("-- rapyer-go: a compiled save (package internal/shape)\nlocal KS, AV, pc = KEYS, ARGV, redis.pcall\n")
	g.model()
	g.anew(n)
	g.record(n)
	g.writes(n)
	g.failed()
	return g.sb.String(), g.pick, true
}

// model checks the model: its type, its mode, its version (saveversion's
// checks: a count in canonical text below 2^53), and makes the next version
// (nextversion, or the clock's for a new model).
//
// The HGET's error (another type, a refusal of the ACL) is a table: a true
// value, which every mode then refuses without a call: "fresh" as an
// existing model, the others by the version's length, since the length of
// a table that holds only a field named err is 0, and a version is never
// empty.
func (g *saveGen) model() {
	mode := g.w(svMode)
	g.line("local root = KS[", g.w(svRoot), "]")
	g.line("local v = pc('HGET', root, '__v')")
	switch mode {
	case "need", "skip":
		g.line("if not v then return {'AGAIN'} end")
	case "fresh":
		g.line("if v then return {'AGAIN'} end")
	}
	g.line("local nx")
	if mode != "fresh" {
		g.line("if v then")
		g.line("  local d = #v")
		g.line("  if d < 1 or d > 16 or (d == 16 and v >= '9007199254740992') or not (v == '0' or string.find(v, '^[1-9]%d*$')) then return {'AGAIN'} end")
		// the next count on the text (no strtod, no printf, which would print
		// from a C long): a last digit below 9 goes up by one, in three calls;
		// otherwise the nines roll over
		g.line("  local last = string.byte(v, -1)")
		g.line("  if last ~= 57 then nx = string.sub(v, 1, -2) .. string.char(last + 1) else")
		g.line("    while d > 0 and string.byte(v, d) == 57 do d = d - 1 end")
		g.line("    local zeros = string.rep('0', #v - d)")
		g.line("    if d == 0 then nx = '1' .. zeros else nx = string.sub(v, 1, d - 1) .. string.char(string.byte(v, d) + 1) .. zeros end")
		g.line("  end")
		g.line("else")
	} else {
		g.line("do")
	}
	// TIME's error (a refusal of the ACL) is a table with an err field
	g.line("  local t = pc('TIME')")
	g.line("  if t.err then return {'AGAIN'} end")
	g.line("  local c = tonumber(t[1]) * 1000000 + tonumber(t[2])")
	g.line("  ", printCount("nx", "c"))
	g.line("end")
}

// anew decides how the root is written, for a save of n fields. It is
// written anew (DEL, then HSET), as saveone writes it, when it holds more
// or fewer fields than the save writes, or a TTL the save must drop (a DEL
// drops it). Otherwise the HSET overwrites it in place, and answers how
// many fields it added: none when the root held the same fields, else it
// held as many strays, and it is written anew after all (writes). Then the
// asks of the writes after the first: the HSET after a DEL, or the DEL
// after an HSET in place (a missing root gets an HSET only, the first
// write); the TTL after both.
//
// A refused HLEN or PTTL (a user without them: their error is a table)
// writes the root anew, which is always right: saveone writes it so every
// time. The tests are those of numbers: HLEN's table is not n+1 and not 0,
// PTTL's is not -1 (a root that HLEN found has no TTL exactly when PTTL
// answers -1).
func (g *saveGen) anew(n int) {
	g.line("local len = pc('HLEN', root)")
	g.line("local anew = len ~= ", strconv.Itoa(n+1))
	if g.w(svTTL) != "set" {
		g.line("if not anew and pc('PTTL', root) ~= -1 then anew = true end")
	}
	g.line("local acl = redis.acl_check_cmd")
	g.line("if acl then")
	g.line("  if len ~= 0 and not acl(anew and 'HSET' or 'DEL', root) then return {'AGAIN'} end")
	if g.w(svTTL) == "set" {
		g.line("  if not acl('PEXPIRE', root) then return {'AGAIN'} end")
	}
	g.line("end")
}

// record writes the record, which is also its look-up: a resend is
// answered from it as save's replay answers it. The record holds the
// batch's id (the program's first ARGV word), written by SET ... GET, which
// answers what the key held: a record key may be one a Save used before
// (package tx keeps a pool of them, by slot), holding the id of that
// other batch, which is no answer; a record holding this batch's id, or
// '1' (the interpreter's, before session 18), is this batch applied
// already; 'F' is the record of a save that failed and could not delete
// it. A server before 6.2, which has no SET ... GET, answers an error
// table: the look-up is then a GET and a SET (any error of them, before
// any write, answers AGAIN).
//
// The record's lifetime is the last ARGV word, the call's own (a program
// has none: Shape.Command sends ""), which package tx chooses by what it
// knows of a pooled key (recordpool.go):
//   - "": SET PX of the record's lifetime (a new key, a key not of the
//     pool, a key whose state the client does not know);
//   - '+': SET PX of RefreshMS of it (a pooled key about to live less than
//     its client needs);
//   - anything else, the id the client last wrote into the key: SET
//     KEEPTTL, which keeps the lifetime the key has, one the client knows
//     to outlast this batch's resends (session 19: a SET that computes no
//     expiry costs the server about 3k instructions less). When the key
//     held anything but that id (it was missing: expired, evicted,
//     flushed, lost by a failover or a restart, which leaves a key that
//     KEEPTTL made with no TTL at all; or it holds a value of another time,
//     whose TTL the client does not know), the record gets RefreshMS from
//     now at once, before the script goes on: no record key is ever left
//     without a TTL, nor with a TTL the client did not count on.
func (g *saveGen) record(n int) {
	rec := g.w(svRecIdx)
	if rec == "0" {
		return
	}
	ms := g.w(svRecMS)
	long := strconv.FormatInt(RefreshMS(mustMS(ms)), 10)
	g.line("local ms = '", ms, "'")
	g.line("local k, id, x = KS[", rec, "], ", g.arg(1), ", AV[", strconv.Itoa(n+2), "]")
	g.line("local r")
	g.line("if #x > 1 then")
	g.line("  r = pc('SET', k, id, 'KEEPTTL', 'GET')")
	g.line("  if r == x then r = false else")
	g.line("    ms = '", long, "'")
	g.line("    if r == id or r == '1' then return {'DUP'} end")
	g.line("    if not (r and r.err) then")
	g.line("      if pc('SET', k, id, 'PX', ms).err then")
	g.line("        if type(pc('DEL', k)) == 'table' then pc('SET', k, 'F', 'PX', ms) end")
	g.line("        return {'AGAIN'}")
	g.line("      end")
	g.line("      r = false")
	g.line("    end")
	g.line("  end")
	g.line("else")
	g.line("  if x == '+' then ms = '", long, "' end")
	g.line("  r = pc('SET', k, id, 'PX', ms, 'GET')")
	g.line("end")
	g.line("if r then")
	g.line("  if r == id or r == '1' then return {'DUP'} end")
	g.line("  if r.err then")
	g.line("    r = pc('GET', k)")
	g.line("    if r == id or r == '1' then return {'DUP'} end")
	g.line("    if (r and r.err) or pc('SET', k, id, 'PX', ms).err then return {'AGAIN'} end")
	g.line("  end")
	g.line("end")
}

// RefreshMS is the lifetime a compiled save gives a pooled record key it
// refreshes ('+') or finds not as its client left it, for a record
// lifetime of ms: half as long again, so that a key refreshed once serves
// the Saves of its slot by KEEPTTL for a third of that (package tx asks a
// key to have the record's lifetime and a tenth of it left).
func RefreshMS(ms int64) int64 { return ms + ms/2 }

// mustMS is ms, a whole number of ms that wholeMS took, as a number.
func mustMS(ms string) int64 {
	v, _ := strconv.ParseInt(ms, 10, 64)
	return v
}

// writes writes the model: the DEL of a root written anew, the version and
// the fields in one HSET (again after a DEL when it added fields to a root
// overwritten in place: that root held strays), the TTL; and answers 1,
// short for the interpreter's {'OK'} (Shape.Reply). A write that fails
// breaks out of the repeat, with wrote telling whether the model was
// written before it (failed). The tests: DEL of one key answers 0 or 1,
// PEXPIRE of a key that is there 1; HSET answers n+1 on a root written
// anew and 0 on one overwritten in place with the same fields, and only
// another answer asks type().
func (g *saveGen) writes(n int) {
	var hset strings.Builder
	hset.WriteString("pc('HSET', root, '__v', nx")
	for i := svFirst; i < len(g.a); i += 2 {
		f, _ := g.a.at(i)
		hset.WriteString(", ")
		hset.WriteString(luaQuote(f))
		hset.WriteString(", ")
		hset.WriteString(g.arg(i + 1))
	}
	hset.WriteString(")")
	g.sb.WriteString("local wrote, res = false, nil\nrepeat\n")
	g.line("  if anew and len ~= 0 then")
	g.line("    res = pc('DEL', root)")
	g.line("    if res ~= 0 and res ~= 1 then break end")
	g.line("    wrote = true")
	g.line("  end")
	g.line("  res = ", hset.String())
	g.line("  if res ~= (anew and ", strconv.Itoa(n+1), " or 0) then")
	g.line("    if type(res) ~= 'number' then break end")
	g.line("    wrote = true")
	g.line("    res = pc('DEL', root)")
	g.line("    if res ~= 0 and res ~= 1 then break end")
	g.line("    res = ", hset.String())
	g.line("    if type(res) ~= 'number' then break end")
	g.line("  end")
	g.line("  wrote = true")
	if g.w(svTTL) == "set" {
		g.line("  res = pc('PEXPIRE', root, '", g.w(svTTLMS), "')")
		g.line("  if res ~= 1 then break end")
	}
	g.line("  return 1")
	g.sb.WriteString("until true\n")
}

// failed answers a write that failed: before the first write of the
// model, the record is taken back, as save takes it back (a user who may
// not DEL it leaves it saying 'F'), and the batch is left to the
// interpreter; after it, the interpreter's partial answer.
func (g *saveGen) failed() {
	g.sb.WriteString("if not wrote then\n")
	if g.w(svRecIdx) != "0" {
		g.line("  if type(pc('DEL', k)) == 'table' then pc('SET', k, 'F', 'PX', ms) end")
	}
	g.line("  return {'AGAIN'}")
	g.sb.WriteString("end\nlocal at = 2\n")
	g.sb.WriteString(partial)
}

// wholeMS reports whether s is a whole number of ms, at least 1, below
// 2^53, in canonical text.
func wholeMS(s string) bool {
	if len(s) == 0 || len(s) > 15 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// luaQuote is s as a Lua string literal: printable ASCII but quotes and
// backslashes as is, every other byte as a three-digit decimal escape (a
// digit after it is then not read as its part).
func luaQuote(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) + 2)
	sb.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '\'' && c != '\\' {
			sb.WriteByte(c)
			continue
		}
		d := strconv.Itoa(int(c))
		sb.WriteString("\\" + strings.Repeat("0", 3-len(d)) + d)
	}
	sb.WriteByte('\'')
	return sb.String()
}
