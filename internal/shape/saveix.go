package shape

import (
	"strconv"
	"strings"
)

// Compiled indexed saves (issue #14). Model.Save of a model of an indexed
// type without collections sends the program model (create), ix, reset,
// hset: no lean program (prog.Lean takes no ix), so it used to compile in
// the generator (gen.go, reset.go, ix.go), which drops and rewrites the
// root always, reads the record before it writes it, sends the field
// names as words and runs inside MULTI/EXEC. When every index of the
// program is a scalar On or Prefix index, it compiles here instead into
// the script a compiled save (save.go) is, with the index upkeep of ix.go
// composed in straight-line Lua:
//
//   - one HMGET reads the version and the indexed fields' old values,
//     HLEN (and PTTL, unless the save sets a TTL) decide whether the root
//     is overwritten in place (it holds as many fields as the save writes
//     and no TTL) or dropped first, as save.go decides it;
//   - @back is read once and must be what the old values give (as in
//     ix.go); only a model that has or gets a TTL looks in @exp for
//     passed deadlines (IX.after: a write of one purges);
//   - the ACL is asked for every write but the record's, before the
//     record's SET NX, which is also its look-up (a resend is answered
//     from it); a write that fails before the model's first write takes
//     the record back, as save.go does;
//   - then the root (the version and every field in one HSET), its TTL,
//     and only the entries whose encoding changed, @back only then, @exp,
//     @ids and @meta as ix.go writes them.
//
// Anything else answers AGAIN having written nothing, and the interpreter
// runs the program, as for every compiled shape. The script answers 1,
// which Shape.Reply lays out as the interpreter's reply of the program;
// it is sent alone, as a compiled save is (Shape.Saves).

// saveIx is the program being compiled: where its words lie in ARGV.
type saveIx struct {
	a               argv
	root, mode, ttl string // the declaration's words
	ttlAt, idAt     int    // ARGV index of the TTL's ms and of the model's id
	ids, back, exp  string // Lua expressions of the index keys
	fs              []ixField
	names, vals     []int // ARGV index of each field name and value of the hset
	set             map[string]int
	sb              strings.Builder
	kinds, old, nw  []string
	oldPk, newPk    []string
	hmRead          []string // per index, its field's slot in the HMGET's reply
}

// compileSaveIx writes the script of a program of the indexed-save form,
// or fails (ok false) on any other.
func compileSaveIx(a argv) (string, bool) {
	s, ok := saveIxOf(a)
	if !ok {
		return "", false
	}
	s.sb.WriteString("-- rapyer-go: a compiled indexed save (package internal/shape)\nlocal KS, AV = KEYS, ARGV\nlocal at, wrote, rec, recms = 1, false, nil, nil\n")
	// index.lua's encoding only for the kinds enc does not write inline
	if k := strings.Join(s.kinds, ""); strings.ContainsAny(k, "ft") {
		s.sb.WriteString(luaText()["isint"])
		s.sb.WriteString(ixHelpText(k))
	}
	s.sb.WriteString("local function body()\n")
	s.model()
	s.entries()
	s.backCheck()
	s.asks()
	s.record()
	s.writes()
	s.sb.WriteString("end\nlocal ok, res = pcall(body)\nif ok then return res end\n")
	s.sb.WriteString("if not wrote then\n  if rec and type(redis.pcall('DEL', rec)) == 'table' then redis.pcall('SET', rec, 'F', 'PX', recms) end\n  return {'AGAIN'}\nend\n")
	s.sb.WriteString(partial)
	return s.sb.String(), true
}

// saveIxOf reads the program: model (create, TTL keep or set), ix (scalar
// On or Prefix indexes), reset, hset of the root; the hset names every
// field once, not the version.
func saveIxOf(a argv) (*saveIx, bool) {
	ins, ok := instrs(a)
	if !ok || len(ins) != 4 || luaText() == nil || ins[0].op != "model" || ins[1].op != "ix" || ins[2].op != "reset" || ins[3].op != "hset" {
		return nil, false
	}
	w := func(in instr, j int) string { x, _ := a.at(in.at + j - 1); return x }
	m, x, r, h := ins[0], ins[1], ins[2], ins[3]
	s := &saveIx{a: a, root: w(m, 1), mode: w(m, 2), ttl: w(m, 3), ttlAt: m.at + 3, set: map[string]int{}}
	if m.n != 4 || s.mode != "create" || (s.ttl != "keep" && s.ttl != "set") || r.n != 1 || w(r, 1) != s.root || w(h, 1) != s.root || h.n < 3 || h.n%2 != 1 || (h.n-1)/2 > maxSaveFields {
		return nil, false
	}
	if _, ok := ixSteer(func(j int) string { return w(x, j) }, x.n, s.root); !ok {
		return nil, false
	}
	s.idAt, s.ids, s.back, s.exp = x.at+1, "ixids", "KS["+w(x, 4)+"]", "ixexp"
	for j := 6; j <= x.n; j += 6 {
		s.fs = append(s.fs, ixField{name: w(x, j), kind: w(x, j+1), z: "KS[" + w(x, j+4) + "]"})
		s.kinds = append(s.kinds, w(x, j+1))
	}
	for j := 2; j < h.n; j += 2 {
		f := w(h, j)
		if _, dup := s.set[f]; dup || f == version {
			return nil, false
		}
		s.set[f] = h.at + j
		s.names, s.vals = append(s.names, h.at+j-1), append(s.vals, h.at+j)
	}
	return s, true
}

func (s *saveIx) line(parts ...string) {
	s.sb.WriteString("  ")
	for _, p := range parts {
		s.sb.WriteString(p)
	}
	s.sb.WriteByte('\n')
}

// model reads the version and the indexed fields' old values in one HMGET
// (an error on another type) and makes the next version as save.go does.
func (s *saveIx) model() {
	read := "'__v'"
	slot := map[string]string{}
	for _, f := range s.fs {
		if _, seen := slot[f.name]; !seen {
			slot[f.name] = "h[" + strconv.Itoa(len(slot)+2) + "]"
			read += ", " + luaQuote(f.name)
		}
		s.hmRead = append(s.hmRead, slot[f.name])
	}
	s.line("local root = KS[", s.root, "]")
	s.line("local h = redis.pcall('HMGET', root, ", read, ")")
	s.line("if h.err then return {'AGAIN'} end")
	s.line("local v, nx = h[1], nil")
	s.line("if v then")
	s.line("  if #v > 16 or (#v == 16 and v >= '9007199254740992') or not (v == '0' or string.find(v, '^[1-9]%d*$')) then return {'AGAIN'} end")
	// the next count on the text (no strtod, no printf, which would print
	// from a C long): a last digit below 9 goes up by one, in three calls;
	// otherwise the nines roll over
	s.line("  local last = string.byte(v, -1)")
	s.line("  if last ~= 57 then nx = string.sub(v, 1, -2) .. string.char(last + 1) else")
	s.line("    local p = #v")
	s.line("    while p > 0 and string.byte(v, p) == 57 do p = p - 1 end")
	s.line("    local zeros = string.rep('0', #v - p)")
	s.line("    if p == 0 then nx = '1' .. zeros else nx = string.sub(v, 1, p - 1) .. string.char(string.byte(v, p) + 1) .. zeros end")
	s.line("  end")
	s.line("else")
	s.sb.WriteString(clockCount("  "))
	s.line("end")
	if s.ttl == "set" {
		s.line("local ttlms = tonumber(AV[", strconv.Itoa(s.ttlAt), "])")
		s.line("if not ttlms or ttlms < 1 or ttlms ~= math.floor(ttlms) then return {'AGAIN'} end")
	}
}

// entries encodes per index its old value (none for a new model) and its
// new one, with IX.value's checks (ix.go's ixEntries): a field the save
// does not write is dropped by the reset, its zero value then. Old values
// are encoded only for a model that is there.
func (s *saveIx) entries() {
	s.line("local ixid = AV[", strconv.Itoa(s.idAt), "]")
	for i, f := range s.fs {
		o, n := "o"+strconv.Itoa(i+1), "n"+strconv.Itoa(i+1)
		s.line("local ", o, ", ", n)
		s.line("if v then")
		s.enc(o, s.hmRead[i]+" or "+luaStr(ixZero[f.kind]), f.kind, "    "+o+" = nil\n")
		s.line("end")
		nv := luaStr(ixZero[f.kind])
		if at, ok := s.set[f.name]; ok {
			nv = "AV[" + strconv.Itoa(at) + "]"
			s.line("if #", nv, " > 1024 then return {'AGAIN'} end")
		}
		s.enc(n, nv, f.kind, "    return {'AGAIN'}\n")
		s.old, s.nw = append(s.old, o), append(s.nw, n)
		// the packed entries (IX.pk)
		pk := func(e string) string { return pkLua(f.name, e) }
		po, pn := "po"+strconv.Itoa(i+1), "pn"+strconv.Itoa(i+1)
		s.line("local ", po, " = ", o, " and ", pk(o), " or ''")
		s.line("local ", pn, " = ", n, " == ", o, " and ", po, " or ", pk(n))
		s.oldPk, s.newPk = append(s.oldPk, po), append(s.newPk, pn)
	}
}

// ixComp is IX.COMP of index.lua, a Lua table that complements a digit,
// made only for a negative value.
const ixComp = "{['0'] = '9', ['1'] = '8', ['2'] = '7', ['3'] = '6', ['4'] = '5', ['5'] = '4', ['6'] = '3', ['7'] = '2', ['8'] = '1', ['9'] = '0'}"

// ixZero is IX.ZERO of index.lua: the stored text of the zero value of
// each kind (TestIxZero holds them together).
var ixZero = map[string]string{"i": "0", "f": "0", "s": "", "b": "false", "t": "0001-01-01T00:00:00Z"}

// enc writes the statements that set the Lua local e to the encoding of
// x (encLua).
func (s *saveIx) enc(e, x, kind, none string) { encLua(&s.sb, e, x, kind, none) }

// encLua writes to b the statements that set the Lua local e to
// IX.enc(kind, x) (index.lua), inline for the kinds i, s and b (a function
// call and the helpers' definitions cost every call of the script), by
// IX.enc for f and t; none runs the statements of none (a value no index
// takes). A text with a NUL (escaped by IX.escape) is left to the
// interpreter.
func encLua(b *strings.Builder, e, x, kind, none string) {
	line := func(parts ...string) {
		b.WriteString("  ")
		for _, p := range parts {
			b.WriteString(p)
		}
		b.WriteByte('\n')
	}
	line("do local x = ", x)
	defer line("end")
	switch kind {
	case "i":
		line("  if x == '0' or (#x <= 20 and string.find(x, '^[1-9]%d*$')) then ", e, " = '\\2' .. string.char(#x) .. x")
		line("  elseif #x <= 20 and string.find(x, '^%-[1-9]%d*$') then ", e, " = '\\1' .. string.char(256 - #x) .. (string.gsub(string.sub(x, 2), '%d', "+ixComp+"))")
		b.WriteString("  else\n" + none + "  end\n")
	case "s":
		line("  if string.find(x, '\\0', 1, true) then return {'AGAIN'} end")
		line("  ", e, " = x .. '\\0\\1'")
	case "b":
		line("  if x == 'true' then ", e, " = '\\2' elseif x == 'false' then ", e, " = '\\1' else")
		b.WriteString(none + "  end\n")
	default:
		line("  ", e, " = IX.enc('", kind, "', x)")
		line("  if not ", e, " then")
		b.WriteString(none + "  end\n")
	}
}

// pkLua is the Lua expression of IX.pk(name, e) for an e that is not nil:
// <#name>:<name><#enc>:<enc>, the name's part in the text, a length below
// 10 a byte of the text (a number's text costs a sprintf).
func pkLua(name, e string) string {
	head := luaStr(strconv.Itoa(len(name)) + ":" + name)
	return "(" + head + " .. (#" + e + " < 10 and string.char(48 + #" + e + ") or #" + e + ") .. ':' .. " + e + ")"
}

// nowLua is IX.now inline: the server's clock in ms, into the local t.
const nowLua = "local t = redis.call('TIME'); %s = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)"

// backCheck checks @back as ix.go's ixBackCheck does for a replace (the model
// there or not), packs the new entries, and checks the group's deadlines
// (ixDeadlines: a passed one makes the interpreter purge).
func (s *saveIx) backCheck() {
	s.line("local ixb = redis.call('HGET', ", s.back, ", ixid)")
	s.line("local ixf = 'N'")
	s.line("if v then")
	s.line("  if not ixb then return {'AGAIN'} end")
	s.line("  ixf = string.sub(ixb, 1, 1)")
	s.line("  if ixf ~= 'N' and ixf ~= 'T' then return {'AGAIN'} end")
	s.line("  if ixb ~= ixf .. ", strings.Join(s.oldPk, " .. "), " then return {'AGAIN'} end")
	s.line("elseif ixb then return {'AGAIN'} end")
	flag := "'N'"
	if s.ttl == "set" {
		flag = "'T'"
	}
	s.line("local ixp = ", flag, " .. ", strings.Join(s.newPk, " .. "))
	// only a save of a model that has or had a TTL looks for passed
	// deadlines (IX.after); @exp and @ids are named after @back (ix.go)
	s.line("local ixnow")
	s.line("local ixexp, ixids")
	s.line("if not v then ixids = string.sub(", s.back, ", 1, -5) .. 'ids' end")
	due := "ixf == 'T'"
	if s.ttl == "set" {
		due = "true"
	}
	s.line("if ", due, " then")
	s.line("  ixexp = string.sub(", s.back, ", 1, -5) .. 'exp'")
	s.line("  local t = redis.call('TIME')")
	s.line("  ixnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)")
	s.line("  if #redis.call('ZRANGEBYSCORE', ixexp, '-inf', ixnow, 'LIMIT', 0, 1) > 0 then return {'AGAIN'} end")
	s.line("end")
	s.line("local ixfirst = not v and redis.call('ZCARD', ", s.ids, ") == 0")
}

// asks decides how the root is written (save.go's anew: in place when it
// holds as many fields as the save writes and no TTL; a stray found by
// the HSET's count makes it dropped and written again) and asks the ACL
// for every write the script may make but the record's, the model's first
// included: the record's SET NX comes next, and a refusal after it would
// leave a record the interpreter does not read.
func (s *saveIx) asks() {
	s.line("local len = redis.call('HLEN', root)")
	s.line("local anew = len ~= ", strconv.Itoa(len(s.names)+1))
	if s.ttl != "set" {
		s.line("if not anew and (ixf == 'T' or redis.call('PTTL', root) >= 0) then anew = true end")
	}
	s.line("local acl = redis.acl_check_cmd")
	s.line("if acl then")
	s.line("  if not acl('HSET', root) or (len > 0 and not acl('DEL', root)) then return {'AGAIN'} end")
	if s.ttl == "set" {
		s.line("  if not acl('PEXPIRE', root) then return {'AGAIN'} end")
	}
	s.line("  if ixp ~= ixb then")
	for i, f := range s.fs {
		o, n := s.old[i], s.nw[i]
		s.line("    if ", o, " ~= ", n, " and ((", o, " and not acl('ZREM', ", f.z, ")) or not acl('ZADD', ", f.z, ")) then return {'AGAIN'} end")
	}
	s.line("    if not acl('HSET', ", s.back, ") then return {'AGAIN'} end")
	s.line("  end")
	if s.ttl == "set" {
		s.line("  if not acl('ZADD', ", s.exp, ") then return {'AGAIN'} end")
	} else {
		s.line("  if ixf == 'T' and not acl('ZREM', ", s.exp, ") then return {'AGAIN'} end")
	}
	s.line("  if not v and not acl('ZADD', ", s.ids, ") then return {'AGAIN'} end")
	s.line("end")
}

// record writes the record, which is also its look-up (save.go's record;
// the record of a save: '1' or '0'; any other, a JSON array included, is
// left to the interpreter, which refuses one that is not this batch's).
func (s *saveIx) record() {
	rec, _ := s.a.at(2)
	if rec == "0" {
		return
	}
	s.line("local ms = tonumber(AV[3])")
	s.line("if ms == nil or ms < 1 or ms ~= math.floor(ms) or ms > 9007199254740991 then return {'AGAIN'} end")
	s.line("local k = KS[", rec, "]")
	s.line("if not redis.call('SET', k, '1', 'PX', AV[3], 'NX') then")
	s.line("  local prev = redis.call('GET', k)")
	s.line("  if prev == '1' then return {'DUP'} end")
	s.line("  if prev == '0' then return {'DUPX'} end")
	// a save yields nothing: its record is never a JSON array ('F',
	// another batch's id or text planted by hand: the interpreter decides)
	s.line("  return {'AGAIN'}")
	s.line("end")
	s.line("rec, recms = k, AV[3]")
}

// writes writes the root (the DEL of a root written anew, the version and
// the fields in one HSET, again after a DEL when the HSET added fields to
// a root overwritten in place: it held strays), its TTL, then the index
// upkeep as ix.go's ixWrites; and answers 1.
func (s *saveIx) writes() {
	var hset strings.Builder
	hset.WriteString("redis.call('HSET', root, '__v', nx")
	for j, at := range s.names {
		f, _ := s.a.at(at)
		hset.WriteString(", " + luaQuote(f) + ", AV[" + strconv.Itoa(s.vals[j]) + "]")
	}
	hset.WriteString(")")
	s.line("at = 3")
	s.line("if anew and len > 0 then redis.call('DEL', root); wrote = true end")
	s.line("at = 4")
	s.line("local added = ", hset.String())
	s.line("wrote = true")
	s.line("if not anew and added > 0 then redis.call('DEL', root); ", hset.String(), " end")
	if s.ttl == "set" {
		s.line("redis.call('PEXPIRE', root, AV[", strconv.Itoa(s.ttlAt), "])")
	}
	s.line("at = 2")
	s.line("if ixp ~= ixb then")
	for i, f := range s.fs {
		o, n := s.old[i], s.nw[i]
		s.line("  if ", o, " ~= ", n, " then")
		s.line("    if ", o, " then redis.call('ZREM', ", f.z, ", ", o, " .. ixid) end")
		s.line("    redis.call('ZADD', ", f.z, ", 0, ", n, " .. ixid)")
		s.line("  end")
	}
	s.line("  redis.call('HSET', ", s.back, ", ixid, ixp)")
	s.line("end")
	if s.ttl == "set" {
		s.line("redis.call('ZADD', ", s.exp, ", ixnow + ttlms, ixid)")
	} else {
		s.line("if ixf == 'T' then redis.call('ZREM', ", s.exp, ", ixid) end")
	}
	var metas []string
	for _, f := range s.fs {
		metas = append(metas, "redis.call('HSETNX', meta, "+luaStr(f.name)+", 'ready')")
	}
	s.line("if ixfirst then local meta = string.sub(", s.ids, ", 1, -6) .. ':@meta'; ", strings.Join(metas, "; "), " end")
	s.line("if not v then redis.call('ZADD', ", s.ids, ", 0, ixid) end")
	s.line("return 1")
}
