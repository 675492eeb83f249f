package shape

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"

	"github.com/rapyer-go/rapyer/internal/prog"
)

// Compiled saves. A lean program (prog.Program.Lean) that replaces one
// model without collections (Model.Save, Create, Insert of such a model:
// the program batch.lua's saveone runs) compiles to a script of its own
// shape: the record key's and the root's places in KEYS, the record's
// lifetime, the mode, the TTL action and its ms, and the field names are
// in the text, so a call sends only the keys and the values. The script
// keeps saveone's promises: it reads the model in one call (HGETALL) and
// checks it (type, mode, version) and asks the ACL for every write after
// the first before it writes anything; then it writes the record (SET NX
// PX, which is also its look-up: a resend is answered from it, as save
// answers it), then the model: the version and every field in one HSET,
// and the TTL. The stored model is saveone's: a root that holds a field
// the save does not write (a stray) or a TTL the save drops is deleted
// first, as saveone always does; a root that holds exactly the fields the
// save writes (HGETALL tells it before any write) and no TTL to drop is
// overwritten in place by the HSET, its only write (a DEL and a new hash
// cost the server more than the whole HSET; no write after the first, so
// no ACL ask). Its common case, a model saved again with no TTL option,
// makes four calls: HGETALL, PTTL, the record's SET, HSET. Every failure
// the interpreter reports with an error of its own (a missing or existing
// model, a wrong type, a corrupt or overflowing version, a refusal of the
// ACL or of the server) makes the script answer {'AGAIN'} having written
// nothing (a record it wrote is taken back as save takes it back), and the
// caller sends the same program to the interpreter. A save that went
// through answers 'OK' (Shape.Reply makes it the interpreter's {'OK'}).
//
// The pieces of the script (model, ours, anew, record, writes) are
// methods of saveGen, each writing its lines, so that another compiled
// save can reuse them.

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
	w := func(i int) string { s, _ := a.at(i); return s }
	r := w(svRoot)
	if w(6) != "save" || w(7) != "4" || w(12) != "reset" || w(13) != "1" || w(14) != r || w(15) != "hset" || w(17) != r {
		return 0, false
	}
	c, err := strconv.Atoi(w(svCount))
	if err != nil || c < 1 || c%2 != 1 || svCount+c != len(a) || (c-1)/2 > maxSaveFields {
		return 0, false
	}
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
func forSave(p *prog.Program) *Shape {
	a := argv(p.Argv)
	key, ok := saveKey(a, len(p.Keys))
	if !ok {
		return nil
	}
	saves.RLock()
	s, seen := saves.m[key]
	saves.RUnlock()
	if seen {
		if s.Text == "" || !sameSave(s, a, len(p.Keys)) {
			return nil
		}
		return s
	}
	s = &Shape{save: true, saveKeys: len(p.Keys), steer: steerOf(a)}
	if text, pick, ok := compileSave(a); ok {
		sum := sha1.Sum([]byte(text))
		s.Text, s.Hash, s.pick = text, hex.EncodeToString(sum[:]), pick
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
	if s.Text == "" || !sameSave(s, a, len(p.Keys)) {
		return nil
	}
	return s
}

// saveGen is the state of one compilation of a save.
type saveGen struct {
	a    argv
	sb   strings.Builder
	pick []int
}

func (g *saveGen) w(i int) string { s, _ := g.a.at(i); return s }

// line writes one line of the body.
func (g *saveGen) line(s ...string) {
	g.sb.WriteString("  ")
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
func compileSave(a argv) (string, []int, bool) {
	g := &saveGen{a: a}
	seen := map[string]bool{}
	for i := svFirst; i < len(a); i += 2 {
		f, _ := a.at(i)
		if seen[f] {
			return "", nil, false
		}
		seen[f] = true
	}
	g.sb.WriteString("-- rapyer-go: a compiled save (package internal/shape)\nlocal KS, AV = KEYS, ARGV\nlocal at, wrote, rec, recms = 1, false, nil, nil\nlocal function body()\n")
	g.model()
	g.anew()
	g.record()
	g.writes()
	g.sb.WriteString("end\nlocal ok, res = pcall(body)\nif ok then return res end\n")
	// before the first write of the model: take the record back, as save
	// does (a user who may not DEL it leaves it saying 'F'), and leave the
	// batch to the interpreter
	g.sb.WriteString("if not wrote then\n  if rec and type(redis.pcall('DEL', rec)) == 'table' then redis.pcall('SET', rec, 'F', 'PX', recms) end\n  return {'AGAIN'}\nend\n")
	g.sb.WriteString(partial)
	return g.sb.String(), g.pick, true
}

// model reads the model in one call (HGETALL: an error on another type)
// and checks it: its mode, its version (saveversion's checks: a count in
// canonical text below 2^53), and makes the next version (nextversion, or
// the clock's for a new model). The script then holds root (the key), h
// (the stored fields and values, flat, as HGETALL answers), len (the
// number of stored fields), v (the stored version or nil), same (ours)
// and nx (the next version).
func (g *saveGen) model() {
	mode := g.w(svMode)
	g.line("local root = KS[", g.w(svRoot), "]")
	g.line("local h = redis.pcall('HGETALL', root)")
	g.line("if h.err then return {'AGAIN'} end")
	g.line("local len = #h / 2")
	g.ours()
	switch mode {
	case "need", "skip":
		g.line("if not v then return {'AGAIN'} end")
	case "fresh":
		g.line("if v then return {'AGAIN'} end")
	}
	g.line("local nx")
	if mode != "fresh" {
		g.line("if v then")
		g.line("  if #v > 16 or (#v == 16 and v >= '9007199254740992') or not (v == '0' or string.find(v, '^[1-9]%d*$')) then return {'AGAIN'} end")
		g.line("  local p = #v")
		g.line("  while p > 0 and string.byte(v, p) == 57 do p = p - 1 end")
		g.line("  local zeros = string.rep('0', #v - p)")
		g.line("  if p == 0 then nx = '1' .. zeros else nx = string.sub(v, 1, p - 1) .. string.char(string.byte(v, p) + 1) .. zeros end")
		g.line("else")
	} else {
		g.line("do")
	}
	g.line("  local t = redis.call('TIME')")
	g.line("  nx = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))")
	g.line("end")
}

// ours finds the stored version v in h, and whether the root holds
// exactly the fields the save writes, the version included (same, before
// the TTL is looked at): the common case, a model saved again, holds them
// in the order the save writes them (a small hash keeps its order), which
// a chain of comparisons tells; any other order takes a look-up of every
// field in the set of the save's. Fields of a hash are distinct, so as
// many fields, all of them the save's, are the save's fields.
func (g *saveGen) ours() {
	names := []string{luaQuote(version)}
	for i := svFirst; i < len(g.a); i += 2 {
		f, _ := g.a.at(i)
		names = append(names, luaQuote(f))
	}
	g.line("local v, same = nil, len == ", strconv.Itoa(len(names)))
	// in order: a chain of at most 16 comparisons a statement
	for j := 0; j < len(names); j += 16 {
		var c strings.Builder
		for k := j; k < j+16 && k < len(names); k++ {
			if k > j {
				c.WriteString(" and ")
			}
			c.WriteString("h[" + strconv.Itoa(2*k+1) + "] == " + names[k])
		}
		g.line("same = same and ", c.String())
	}
	g.line("if same then")
	g.line("  v = h[2]")
	g.line("elseif len > 0 then")
	g.line("  local set = {", setOf(names), "}")
	g.line("  same = len == ", strconv.Itoa(len(names)))
	g.line("  for i = 1, #h, 2 do")
	g.line("    local f = h[i]")
	g.line("    if f == '__v' then v = h[i + 1] end")
	g.line("    if not set[f] then same = false end")
	g.line("  end")
	g.line("end")
}

// setOf is the constructor of a Lua table that maps each of names (Lua
// literals) to true.
func setOf(names []string) string {
	var sb strings.Builder
	for i, n := range names {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("[" + n + "] = true")
	}
	return sb.String()
}

// anew decides how the root is written. It is written anew (DEL, then
// HSET), as saveone writes it, unless it holds exactly the fields the save
// writes (same) and no TTL the save must drop (a DEL drops it): then the
// HSET overwrites it in place, and is its only write but the TTL's. Then
// the asks of the writes after the first: the HSET after a DEL (a missing
// root gets an HSET only, the first write), the TTL after both.
func (g *saveGen) anew() {
	if g.w(svTTL) != "set" {
		g.line("if same and redis.call('PTTL', root) >= 0 then same = false end")
	}
	g.line("local anew = not same")
	g.line("local acl = redis.acl_check_cmd")
	g.line("if acl then")
	g.line("  if anew and len > 0 and not acl('HSET', root) then return {'AGAIN'} end")
	if g.w(svTTL) == "set" {
		g.line("  if not acl('PEXPIRE', root) then return {'AGAIN'} end")
	}
	g.line("end")
}

// record writes the record, which is also its look-up: a resend is
// answered from it as save's replay answers it; 'F' is the record of a
// save that failed and could not delete it.
func (g *saveGen) record() {
	rec := g.w(svRecIdx)
	if rec == "0" {
		return
	}
	g.line("local ms = '", g.w(svRecMS), "'")
	g.line("local k = KS[", rec, "]")
	g.line("if not redis.call('SET', k, '1', 'PX', ms, 'NX') then")
	g.line("  local prev = redis.call('GET', k)")
	g.line("  if prev == '1' then return {'DUP'} end")
	g.line("  if prev == '0' then return {'DUPX'} end")
	g.line("  if prev ~= 'F' then local r = cjson.decode(prev); table.insert(r, 1, 'DUP'); return r end")
	g.line("  redis.call('SET', k, '1', 'PX', ms)")
	g.line("end")
	g.line("rec, recms = k, ms")
}

// writes writes the model: the DEL of a root written anew, the version and
// the fields in one HSET, the TTL; and answers 'OK', short for the
// interpreter's {'OK'} (Shape.Reply).
func (g *saveGen) writes() {
	g.line("at = 2")
	g.line("if anew and len > 0 then redis.call('DEL', root); wrote = true end")
	var hset strings.Builder
	hset.WriteString("redis.call('HSET', root, '__v', nx")
	for i := svFirst; i < len(g.a); i += 2 {
		f, _ := g.a.at(i)
		hset.WriteString(", ")
		hset.WriteString(luaQuote(f))
		hset.WriteString(", ")
		hset.WriteString(g.arg(i + 1))
	}
	hset.WriteString(")")
	g.line(hset.String())
	g.line("wrote = true")
	if g.w(svTTL) == "set" {
		g.line("redis.call('PEXPIRE', root, '", g.w(svTTLMS), "')")
	}
	g.line("return 'OK'")
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
