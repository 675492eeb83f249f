package shape

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// text assembles the script: helpers, the check phase, the version, the
// asks, the record, the writes, the reply; and the answer to an error.
func (g *gen) text(rec, head string) string {
	var sb strings.Builder
	sb.WriteString("-- rapyer-go: a compiled batch shape (package internal/shape)\nlocal KS, AV = KEYS, ARGV\nlocal at, wrote, made = 1, false, false\n")
	g.helpers(&sb)
	sb.WriteString("local function body()\n")
	if g.spends {
		sb.WriteString("  local budget, spent = tonumber(AV[4]) or 0, 0\n")
	}
	if rec != "0" {
		g.record(&sb, rec)
	}
	sb.WriteString(head)
	sb.WriteString(g.chk.String())
	if g.written {
		// the version goes first of the model's writes; by HINCRBY when the
		// batch sends one to the root anyway (one command fewer to ask)
		for _, w := range g.writes {
			if w == [2]string{"HINCRBY", "root"} {
				g.bump = "HINCRBY"
			}
		}
		if g.bump == "" || g.reset {
			g.bump = "HSET"
		}
		if !g.reset { // a replace writes its version with its fields (reset.go)
			g.writes = append([][2]string{{g.bump, "root"}}, g.writes...)
		}
		sb.WriteString(versionCheck(g.bump))
	}
	if rec != "0" {
		// the record is the first write
		g.writes = append([][2]string{{"SET", "rec"}}, g.writes...)
	}
	g.askText(&sb)
	g.writeText(&sb, rec)
	sb.WriteString("end\nlocal ok, res = pcall(body)\n")
	if rec != "0" {
		sb.WriteString(strings.ReplaceAll(recordTail, "KS[R]", "KS["+rec+"]"))
	}
	sb.WriteString("if ok then return res end\nif not wrote then return {'AGAIN'} end\n")
	sb.WriteString(partial)
	return sb.String()
}

// helpers writes the helpers of batch.lua the script needs.
func (g *gen) helpers(sb *strings.Builder) {
	p := luaText() // batch.lua's helpers (lua.go)
	if g.ixOn {
		// the index pieces call isint; the rest of the script has it inline
		sb.WriteString(p["isint"])
		sb.WriteString(g.ixHelp())
	}
	if g.ints {
		// made on the first call that needs them (integers past 15 digits):
		// every closure the script's chunk makes costs every call
		sb.WriteString("local I\nlocal function ints()\n  if I then return I end\n")
		sb.WriteString(p["ints"])
		sb.WriteString("  I = {cmpint = cmpint, addint = addint, within = within}\n  return I\nend\n")
	}
	if g.strs {
		sb.WriteString(p["strs"])
	}
}

// replay answers a resend from its record prev (a Lua expression) as the
// interpreter's replay does; 'F' is the record of a batch that failed and
// could not delete it: no record, and the batch goes on. A record that is
// no non-empty JSON array (written by hand: '[]', '{}', an object, text)
// is the interpreter's to refuse (ErrCorrupt): an error of the decode, or
// of indexing what it gave, raises before any write (AGAIN), as does the
// AGAIN of an empty table.
const replay = `if prev == '1' then return {'DUP'} end
if prev == '0' then return {'DUPX'} end
if prev ~= 'F' then local d = cjson.decode(prev); if d[1] == nil then return {'AGAIN'} end; table.insert(d, 1, 'DUP'); return d end
`

// indent puts pre before every line of s.
func indent(s, pre string) string {
	return pre + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pre) + "\n"
}

// recordTail is the end of a script with a record (KS[R] its key). A
// batch that stopped before its writes with an answer of its own (a
// failed check, a guard, a missing model) looks the record up first: a
// resend whose checks fail now, because its first application changed
// what they read (the lock it released, the version it bumped, the guard
// it moved), is answered from the record (an AGAIN leaves that to the
// interpreter). The closure is made on that path only: every closure the
// chunk makes costs every call. A batch that failed after it wrote its
// record (made holds its lifetime) takes it back, as the interpreter's
// save does (a user who may not DEL it leaves it saying 'F'): a failed
// batch leaves no record.
var recordTail = `if ok and not made and type(res) == 'table' and (res[1] == 'ERR' or res[1] == 'SKIP') then
  ok, res = pcall(function()
    local prev = redis.call('GET', KS[R])
    if not prev then return res end
` + indent(replay, "    ") + `    return res
  end)
end
if not ok and made and type(redis.pcall('DEL', KS[R])) == 'table' then redis.pcall('SET', KS[R], 'F', 'PX', made) end
`

// askText asks the ACL, where the server's Lua can, for every command and
// key the writes send but the first's. The commands are this text's own,
// which every server that can be asked has: an error of the ask (no such
// command) is an error before the first write, which leaves the batch to
// the interpreter.
func (g *gen) askText(sb *strings.Builder) {
	seen := map[[2]string]bool{}
	var asks []string
	var hset bool // the batch sends HSET to the root, and bumps by HINCRBY
	// the record goes first, the version's write (the model's first) next
	recFirst := len(g.writes) > 0 && g.writes[0] == [2]string{"SET", "rec"}
	if g.bump == "HINCRBY" {
		for _, w := range g.writes {
			hset = hset || w == [2]string{"HSET", "root"}
		}
		// a created model's version is an HSET: asked below
		seen[[2]string{"HSET", "root"}] = !recFirst || !hset
	}
	for i, w := range g.writes {
		// the first write needs no ask; nor does the first after the
		// record: it marks wrote only once it went through, and a refusal
		// before that takes the record back (recordTail) and answers AGAIN,
		// having changed nothing, as the compiled save does
		if i == 0 || (recFirst && i == 1) {
			seen[w] = true
		}
		if !seen[w] {
			seen[w] = true
			asks = append(asks, "acl('"+w[0]+"', "+w[1]+")")
		}
	}
	dyn := g.asks.String()
	switch {
	case g.bump != "HINCRBY":
	case recFirst:
		// the version's write, first after the record, is HINCRBY; or
		// an HSET for a model the batch creates, and then the HINCRBYs
		// of the batch come after it (an HSET of the batch is asked
		// above)
		dyn += "  if not v and not acl('HINCRBY', root) then return {'AGAIN'} end\n"
	default:
		if hset {
			dyn += "  if v then if not acl('HSET', root) then return {'AGAIN'} end\n"
		} else {
			dyn += "  if v then -- nothing\n"
		}
		dyn += "  elseif not acl('HINCRBY', root) then return {'AGAIN'} end\n"
	}
	if len(asks) == 0 && dyn == "" {
		return
	}
	sb.WriteString("  local acl = redis.acl_check_cmd\n  if acl then\n")
	if len(asks) > 0 {
		sb.WriteString("  if not (" + strings.Join(asks, " and ") + ") then return {'AGAIN'} end\n")
	}
	sb.WriteString(dyn)
	sb.WriteString("  end\n")
}

// writeText writes: the record, the version, the instructions' writes,
// the TTLs; and returns the reply.
func (g *gen) writeText(sb *strings.Builder, rec string) {
	if rec != "0" {
		g.recordText(sb)
	}
	first := true
	mark := func() {
		if first {
			sb.WriteString("  wrote = true\n")
			first = false
		}
	}
	if g.written && g.reset {
		sb.WriteString(g.wr.String())
		sb.WriteString("  at = 1\n")
		sb.WriteString(g.ixw.String())
	} else if g.written {
		wr, folded := g.foldVersion()
		if folded {
			first = false // the folded HSET says wrote
		} else if g.bump == "HINCRBY" {
			sb.WriteString("  if v then redis.call('HINCRBY', root, '__v', '1') else redis.call('HSET', root, '__v', nx) end\n")
		} else {
			sb.WriteString("  redis.call('HSET', root, '__v', nx)\n")
		}
		mark()
		sb.WriteString(wr)
		sb.WriteString("  at = 1\n")
		sb.WriteString(g.ttl.String())
		sb.WriteString(g.ixw.String())
	}
	g.unlockText(sb)
	var ys []string
	for _, r := range g.res {
		if r != "false" {
			ys = append(ys, r)
		}
	}
	// the reply of a batch that went through, short (Shape.Reply lays it
	// out as the interpreter's): 1 when nothing yields, the one result,
	// or 'OK' and the results
	reply := "1"
	switch len(ys) {
	case 0:
	case 1:
		reply = ys[0]
	default:
		reply = "{'OK', " + strings.Join(ys, ", ") + "}"
	}
	sb.WriteString("  return " + reply + "\n")
}

// recordText writes the record, which is also its look-up: every result is
// known (the check phase computed them), and the record is the
// interpreter's, byte for byte (recorded). A record there already is a
// resend's: it is answered from it, and nothing else is written.
func (g *gen) recordText(sb *strings.Builder) {
	rs := "'1'"
	if r := g.recorded(); r != "" {
		sb.WriteString(r)
		rs = "rs"
	}
	sb.WriteString("  if not redis.call('SET', rec, " + rs + ", 'PX', recms, 'NX') then\n")
	sb.WriteString("    local prev = redis.call('GET', rec)\n")
	sb.WriteString(indent(replay, "    "))
	sb.WriteString("    redis.call('SET', rec, " + rs + ", 'PX', recms)\n  end\n  made = recms\n")
}

// The marks of an HSET of the root that is the batch's first write
// (foldable, gen.go): where the version's field goes, and where the
// write says it wrote.
const (
	vMark = "\x00V"
	wMark = "\x00W"
)

// foldVersion is the text of the instructions' writes, with the version
// in the first one when that is an HSET of the root and the version's
// write is an HSET (not a replace's, not HINCRBY): the server runs one
// HSET where it ran two, and the two go in together or not at all. A
// failure of that HSET has written nothing, and answers AGAIN as a
// failure of the version's HSET did (wrote is set after it). The field
// __v goes first, so that the hash ends as the two HSETs left it.
func (g *gen) foldVersion() (string, bool) {
	wr := g.wr.String()
	if g.vfold && g.bump == "HSET" && !g.reset {
		wr = strings.Replace(wr, vMark, "'__v', nx, ", 1)
		return strings.Replace(wr, wMark, "; wrote = true", 1), true
	}
	return strings.NewReplacer(vMark, "", wMark, "").Replace(wr), false
}

// recorded is the expression of the record of the results, as the
// interpreter's recorded() makes it: '1' when nothing yielded, '0' when
// the results weigh more than RECORD_CAP, else their JSON (an integer's
// text needs no escaping; other texts are encoded by cjson).
func (g *gen) recorded() string {
	weight, fixed, yields := []string{}, 0, false
	var parts []string // Lua expressions; literal texts quoted
	lit := "["
	for i, r := range g.res {
		if i > 0 {
			lit += ","
		}
		switch {
		case r == "false":
			fixed++
			lit += "false"
			continue
		case g.intRes[i] && isQuotedInt(r):
			// a result known in the text (a lock's release, lockInstr)
			yields = true
			fixed += len(r) - 2
			lit += "\"" + r[1:len(r)-1] + "\""
			continue
		case g.intRes[i]:
			parts = append(parts, "'"+lit+"\"'", r)
			lit = "\""
		default:
			parts = append(parts, "'"+lit+"'", "cjson.encode("+r+")")
			lit = ""
		}
		weight = append(weight, "#"+r)
	}
	if len(weight) == 0 && !yields {
		return ""
	}
	if len(weight) == 0 {
		// every result is in the text: so is the record
		if len(lit)+1 > 1024 {
			return "  local rs = '0'\n"
		}
		return "  local rs = '" + lit + "]'\n"
	}
	parts = append(parts, "'"+lit+"]'")
	w := strings.Join(append(weight, strconv.Itoa(fixed)), " + ")
	return "  local rs = '0'\n  if " + w + " <= 1024 then\n    rs = " + strings.Join(parts, " .. ") + "\n    if #rs > 1024 then rs = '0' end\n  end\n"
}

// isQuotedInt reports whether the Lua expression r is a literal integer
// text: a quoted canonical integer.
func isQuotedInt(r string) bool {
	return len(r) >= 3 && r[0] == '\'' && r[len(r)-1] == '\'' && isIntText(r[1:len(r)-1])
}

// printCount is the Lua statement that sets dst to the text of n, a Lua
// local holding an integer below 2^53 in magnitude: by an integer's printf
// ('%d'; '%.0f' is a float's, about ten times the work on 16 digits). Lua
// 5.1 prints '%d' from a C long: a server whose long has 32 bits (a 32-bit
// build) prints a wrong text past 2^31, and it says so by printing 2^32
// wrong (an interned string compared by its pointer, cheaper than reading
// the text back); the float's printf makes the text there.
func printCount(dst, n string) string {
	return "if (" + n + " < 2147483648 and " + n + " > -2147483648) or string.format('%d', 4294967296) == '4294967296' then " +
		dst + " = string.format('%d', " + n + ") else " + dst + " = string.format('%.0f', " + n + ") end"
}

// clockCount is the Lua statements that set nx to the clock's count of
// microseconds, the version of a model a batch creates.
func clockCount(indent string) string {
	return indent + "local t = redis.call('TIME')\n" + indent + "local c = tonumber(t[1]) * 1000000 + tonumber(t[2])\n" + indent + printCount("nx", "c") + "\n"
}

// versionCheck validates the version the model was found with and makes
// the next one (a model the batch creates counts from the clock). A version
// is isint's text without a sign, below 2^53.
//
// A bump by HSET reads the version as a number and prints the one below
// the next: the version is valid exactly when that print is its text.
// Whatever the print of a C long gets wrong (Lua 5.1 prints '%d' from one,
// which a 32-bit build cannot hold past 2^31) is the canonical text of
// another number, which no version the check lets through can be; and a
// check that held on such a build printed a count below 2^31, whose next
// is printed right unless it is 2^31 itself, which goes to the
// interpreter. An invalid version (a text the arithmetic does not read
// raises, which pcall(body) turns into AGAIN before any write) leaves the
// batch to the interpreter, which fails it with its own error. Two
// printfs and a strtod: the pattern match, the text compare with 2^53 and
// a third printf that asked whether a long has 64 bits (printCount) cost
// about 2k instructions more a call on a 16-digit version.
//
// A bump by HINCRBY needs the next one only for a created model: the
// version is checked on its text, one string.find, which makes no capture
// (string.match's copy of the match and string.byte's test of the sign
// cost about 1.2k instructions more a call); one of at most 15 digits is
// below 2^53, one of 16 digits orders as its text.
func versionCheck(bump string) string {
	if bump == "HINCRBY" {
		return `  local nx
  if v then
    if not (v == '0' or (#v <= 20 and string.find(v, '^[1-9]%d*$'))) then return {'ERR', 'CORRUPT', '1', root .. ' holds the version "' .. v .. '", not a count'} end
    if #v > 15 and (#v > 16 or v >= '9007199254740992') then return {'ERR', 'OVERFLOW', '1', root .. ' holds the version ' .. v .. ', at or past 2^53'} end
  else
` + clockCount("    ") + `  end
`
	}
	return `  local nx
  if v then
    local n = v + 1
    if n < 1 or n > 9007199254740992 or n == 2147483648 or string.format('%d', n - 1) ~= v then return {'AGAIN'} end
    nx = string.format('%d', n)
  else
` + clockCount("    ") + `  end
`
}

// partial is the answer to an error after the first write, as the
// interpreter's answer() and refusal() make it.
const partial = `if type(res) == 'table' then res = res.err end
local msg = tostring(res)
local m = string.gsub(msg, '^[^%s]*:%d+: ', '')
local code = 'REFUSED'
if string.find(m, '^NOPERM') or string.find(m, "^ERR The user executing the script can't") then code = 'NOPERM'
elseif string.find(m, '^WRONGTYPE') then code = 'WRONGTYPE'
elseif string.find(m, 'nknown Redis command', 1, true) or string.find(m, 'nknown command', 1, true) then code = 'UNSUP' end
return {'ERR', 'PARTIAL', tostring(at), code .. ': ' .. msg}
`

var (
	ksAt    = regexp.MustCompile(`KS\[(\d+)\]`)
	avAt    = regexp.MustCompile(`AV\[(\d+)\]`)
	avRange = regexp.MustCompile(`unpack\(AV, (\d+), (\d+)\)`)
)

// compact renumbers the ARGV the script reads so that it takes only those
// words, in their order: the words that steer the program are in the
// script already, and sending them again would cost every call. It returns
// the script and pick, the index in the program's ARGV (from 1) of each
// word the script takes.
func compact(text string) (string, []int) {
	used := map[int]bool{}
	for _, m := range avAt.FindAllStringSubmatch(text, -1) {
		i, _ := strconv.Atoi(m[1])
		used[i] = true
	}
	for _, m := range avRange.FindAllStringSubmatch(text, -1) {
		from, _ := strconv.Atoi(m[1])
		to, _ := strconv.Atoi(m[2])
		for i := from; i <= to; i++ {
			used[i] = true
		}
	}
	pick := make([]int, 0, len(used))
	for i := range used {
		pick = append(pick, i)
	}
	slices.Sort(pick)
	to := make(map[int]int, len(pick))
	for j, i := range pick {
		to[i] = j + 1
	}
	renum := func(s string) string { i, _ := strconv.Atoi(s); return strconv.Itoa(to[i]) }
	text = avRange.ReplaceAllStringFunc(text, func(m string) string {
		p := avRange.FindStringSubmatch(m)
		return "unpack(AV, " + renum(p[1]) + ", " + renum(p[2]) + ")"
	})
	text = avAt.ReplaceAllStringFunc(text, func(m string) string {
		return "AV[" + renum(avAt.FindStringSubmatch(m)[1]) + "]"
	})
	return text, pick
}

// compactKeys renumbers the KEYS the script reads so that it takes only
// those, in their order: an indexed program declares the keys of every
// index, and a batch that touches none needs none of them (each word of
// a call costs the server about 850 instructions before the script
// runs). It returns the script and keys, the index in the program's KEYS
// (from 1) of each key the script takes.
func compactKeys(text string) (string, []int) {
	used := map[int]bool{}
	for _, m := range ksAt.FindAllStringSubmatch(text, -1) {
		i, _ := strconv.Atoi(m[1])
		used[i] = true
	}
	keys := make([]int, 0, len(used))
	for i := range used {
		keys = append(keys, i)
	}
	slices.Sort(keys)
	to := make(map[int]int, len(keys))
	for j, i := range keys {
		to[i] = j + 1
	}
	return ksAt.ReplaceAllStringFunc(text, func(m string) string {
		i, _ := strconv.Atoi(ksAt.FindStringSubmatch(m)[1])
		return "KS[" + strconv.Itoa(to[i]) + "]"
	}), keys
}
