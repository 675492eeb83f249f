package shape

import (
	"fmt"
	"strings"
)

// Indexes (issue #14). A program of an indexed model carries an ix
// instruction right after its declaration (package prog, index.go); the
// interpreter's IX.check and IX.after (internal/lua/index.lua) keep the
// model's entries in step. A compiled shape takes the ix instruction when
// every index of it is a scalar On (or Prefix) index: Unique and Members
// indexes stay on the interpreter. The shape then maintains the entries
// in straight-line Lua, paying only for what the batch changes:
//
//   - a batch that writes no indexed field of a model that exists touches
//     no index key at all (the interpreter skips it too: IX.check marks it
//     untouched);
//   - otherwise the indexed fields' old values come from the HMGET the
//     shape makes anyway, their new values are the check phase's, and an
//     entry is removed and added only when its encoding changed, @back
//     rewritten only when an entry did, @ids and @meta written only for a
//     model the batch creates, @exp only for a model with a TTL.
//
// The shape writes nothing and answers AGAIN (the interpreter then runs
// the batch, and fails it with its own error where it fails) whenever the
// common path does not hold: a value an index does not take (over IX.MAX
// bytes, NaN, not of its kind), a model whose @back is not what its
// stored values give (an index being built, a model written outside the
// batches), a TTL flag it does not expect, or, for a model that has or
// gets a TTL, a model of the group whose deadline passed (the interpreter
// purges it). A write of a model without a TTL does not purge (IX.after),
// so it reads no deadline and sends no @exp key: the script makes @exp's
// name from @back's where it needs it.
//
// A replace (Save, Create: reset.go) keeps the indexes the same way, its
// model there or not.
//
// Values are encoded and packed by index.lua's own text (IX.enc, IX.pk),
// which package lua hands over at init (SetLua, lua.go): one encoding.

// maxIxArgs bounds the words of an ix instruction a shape takes (eight
// indexes).
const maxIxArgs = 5 + 6*8

// ixSpec is the ix instruction of the program being compiled.
type ixSpec struct {
	n                   int    // its instruction number
	id                  int    // ARGV index of the model's id
	ids, back, exp, top string // Lua expressions of its keys
	fs                  []ixField
}

// ixField is one index: the field's name (and the ARGV index of it), its
// kind, and the Lua expression of its zset.
type ixField struct {
	name   string
	nameAt int
	kind   string
	z      string
}

// ixSteer is steer of an ix instruction: root id ids back exp, then six
// words an index (name kind use coll zkey aux); the id is a value.
func ixSteer(w func(int) string, n int, root string) ([]string, bool) {
	if n < 11 || n > maxIxArgs || (n-5)%6 != 0 || w(1) != root || luaText() == nil {
		return nil, false
	}
	out := []string{w(3), w(4), w(5)}
	for j := 6; j <= n; j += 6 {
		name, kind, use, coll := w(j), w(j+1), w(j+2), w(j+3)
		if coll != "" || (use != "o" && use != "p") || len(kind) != 1 || !strings.Contains("ifsbt", kind) || name == version {
			return nil, false
		}
		out = append(out, name, kind, use, coll, w(j+4), w(j+5))
	}
	return out, true
}

// ixDeclare notes the ix instruction in, instruction n: it must follow
// the model's declaration.
func (g *gen) ixDeclare(in instr, n int) bool {
	if n != 2 || g.ix != nil {
		return false
	}
	w := func(j int) string { s, _ := g.a.at(in.at + j - 1); return s }
	x := &ixSpec{n: n, id: in.at + 1, ids: "ixids", back: "KS[" + w(4) + "]", exp: "ixexp"}
	for j := 6; j <= in.n; j += 6 {
		x.fs = append(x.fs, ixField{name: w(j), nameAt: in.at + j - 1, kind: w(j + 1), z: "KS[" + w(j+4) + "]"})
	}
	g.ix = x
	return true
}

// ixGen compiles the upkeep of the indexes, once the instructions are
// compiled (their new values known): checks and reads at the end of the
// check phase, writes after the instructions'. mode is the model's
// declaration: need and skip reach here with the model there, fresh
// without it, create (a replace, reset.go) either way: v, its version,
// says which.
func (g *gen) ixGen(mode string) bool {
	x := g.ix
	if x == nil || !g.written {
		return true
	}
	// may the model be there (old entries), may it be new (no @back)?
	r := &ixRun{x: x, old: mode != "fresh", nu: mode == "fresh" || mode == "create"}
	touched := r.nu || g.reset
	for _, f := range x.fs {
		touched = touched || g.ixCur(f.name) != ""
	}
	if !touched {
		// IX.check leaves the model untouched: no index key changes
		return true
	}
	g.ixOn = true
	c := &g.chk
	g.line(c, "-- the indexes")
	g.line(c, "local ixid = AV[%d]", x.id)
	g.line(c, "local ixb = redis.call('HGET', %s, ixid)", x.back)
	// @exp and @ids are named after @back (index.Back, Exp, IDs: one
	// base), so that a call sends neither key (a word costs the server
	// about 850 instructions), and only where the script needs them
	g.line(c, "local ixexp")
	if r.nu {
		g.line(c, "local ixids = string.sub(%s, 1, -5) .. 'ids'", x.back)
	}
	g.ixEntries(r)
	// an index zset of another type (planted, corrupt) fails here, before
	// the first write, as the HGET fails a @back of another type: the
	// writes of the entries failed after the model's (partly applied).
	// Only a zset the batch writes is checked: one whose value changes.
	for i, f := range x.fs {
		if r.news[i] != r.olds[i] {
			g.line(c, "if %s ~= %s then redis.call('ZCARD', %s) end", r.olds[i], r.news[i], f.z)
		}
	}
	g.ixBackCheck(r)
	g.ixDeadlines(r)
	g.ixWrites(r)
	return true
}

// ixRun is what ixGen's parts share: the program's indexes, whether the
// model may be there (old) and may be new (nu), and per index the Lua
// names of the encodings of its old and new values and of what IX.pk
// makes of each.
type ixRun struct {
	x                        *ixSpec
	old, nu                  bool
	olds, news, oldPk, newPk []string
}

// ixCur is the Lua name of field f's value after the instructions, "" when
// the batch leaves it as stored.
func (g *gen) ixCur(f string) string {
	if g.reset {
		return g.resetCur(f)
	}
	if fd := g.fields[f]; fd != nil {
		return fd.cur
	}
	return ""
}

// ixEntries encodes, per index, its old value (none for a new model) and
// its new one, with IX.value's checks on a value the batch gives (the
// interpreter fails the batch with its error), inline (encLua, saveix.go).
func (g *gen) ixEntries(r *ixRun) {
	x, c := r.x, &g.chk
	n := len(x.fs)
	r.olds, r.news, r.oldPk, r.newPk = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, f := range x.fs {
		stored := g.storedAs(f.name, luaStr(f.name)) + " or " + luaStr(ixZero[f.kind])
		g.ixKinds += f.kind
		r.olds[i] = "nil"
		if r.old {
			r.olds[i] = g.local()
			g.line(c, "local %s", r.olds[i])
			if r.nu {
				g.line(c, "if v then")
			}
			encLua(c, r.olds[i], stored, f.kind, "    "+r.olds[i]+" = nil\n")
			if r.nu {
				g.line(c, "end")
			}
		}
		if now := g.ixCur(f.name); now == "" {
			r.news[i] = r.olds[i]
			if !r.old {
				r.news[i] = g.local()
				g.line(c, "local %s", r.news[i])
				encLua(c, r.news[i], stored, f.kind, "    "+r.news[i]+" = nil\n")
			}
		} else {
			v, e := g.local(), g.local()
			r.news[i] = e
			g.line(c, "local %s = %s or %s", v, now, luaStr(ixZero[f.kind]))
			g.line(c, "if #%s > 1024 then %s end", v, again)
			g.line(c, "local %s", e)
			encLua(c, e, v, f.kind, "    "+again+"\n")
			if r.old {
				g.write("ZREM", f.z)
			}
			g.write("ZADD", f.z)
		}
		r.oldPk[i] = "''"
		if r.old {
			r.oldPk[i] = g.local()
			g.line(c, "local %s = %s and %s or ''", r.oldPk[i], r.olds[i], pkLua(f.name, r.olds[i]))
		}
		r.newPk[i] = r.oldPk[i]
		if r.news[i] != r.olds[i] {
			r.newPk[i] = g.local()
			g.line(c, "local %s = %s and %s or ''", r.newPk[i], r.news[i], pkLua(f.name, r.news[i]))
		}
	}
}

// ixBackCheck: the entries @back holds must be those the stored values
// give, with a flag this shape knows; a model that is not there has none
// (a @back of it is that of a model that expired: the interpreter clears
// it). It then packs the new entries (ixp): a replace drops the TTL (the
// interpreter's reset), flag N, or T when it sets one.
func (g *gen) ixBackCheck(r *ixRun) {
	c := &g.chk
	g.line(c, "local ixf = 'N'")
	check := func(ind string) {
		g.line(c, "%sif not ixb then %s end", ind, again)
		g.line(c, "%sixf = string.sub(ixb, 1, 1)", ind)
		g.line(c, "%sif ixf ~= 'N' and ixf ~= 'T' then %s end", ind, again)
		g.line(c, "%sif ixb ~= ixf .. %s then %s end", ind, strings.Join(r.oldPk, " .. "), again)
	}
	switch {
	case r.old && r.nu:
		g.line(c, "if v then")
		check("  ")
		g.line(c, "elseif ixb then %s end", again)
	case r.old:
		check("")
	default:
		g.line(c, "if ixb then %s end", again)
	}
	flag := "ixf"
	switch {
	case g.ttlSet:
		flag = "'T'"
	case g.reset || !r.old:
		flag = "'N'"
	}
	g.line(c, "local ixp = %s .. %s", flag, strings.Join(r.newPk, " .. "))
}

// ixDeadlines: a model of the group whose deadline passed makes the
// script answer AGAIN (the interpreter purges it); the group's first
// model is noted; a model with a TTL has its deadline in @exp again
// (IX.sync), and the ACL asks of those writes.
func (g *gen) ixDeadlines(r *ixRun) {
	x, c := r.x, &g.chk
	g.line(c, "local ixnow")
	// only a write of a model that has or had a TTL looks for passed
	// deadlines (IX.after)
	switch {
	case g.ttlSet:
		g.line(c, "ixexp = string.sub(%s, 1, -5) .. 'exp'", x.back)
		g.line(c, nowLua, "ixnow")
		g.line(c, "if #redis.call('ZRANGEBYSCORE', ixexp, '-inf', ixnow, 'LIMIT', 0, 1) > 0 then %s end", again)
	case r.old:
		g.line(c, "if ixf == 'T' then")
		g.line(c, "  ixexp = string.sub(%s, 1, -5) .. 'exp'", x.back)
		g.line(c, "  "+nowLua, "ixnow")
		g.line(c, "  if #redis.call('ZRANGEBYSCORE', ixexp, '-inf', ixnow, 'LIMIT', 0, 1) > 0 then %s end", again)
		g.line(c, "end")
	}
	if r.nu {
		first := "redis.call('ZCARD', %s) == 0"
		if r.old {
			first = "not v and " + first
		}
		g.line(c, "local ixfirst = "+first, x.ids)
	}
	if r.old && !g.reset {
		g.line(c, "local ixms")
		g.line(c, "if ixf == 'T' then")
		g.line(c, "  if not ixnow then %s end", again)
		g.line(c, "  ixms = redis.call('PTTL', root)")
		g.line(c, "  if ixms < 0 then %s end", again)
		g.line(c, "end")
		g.line(&g.asks, "if ixms and not acl('ZADD', %s) then %s end", x.exp, again)
	}
	if g.ttlSet {
		g.write("ZADD", x.exp)
	} else if r.old && g.reset {
		g.line(&g.asks, "if ixf == 'T' and not acl('ZREM', %s) then %s end", x.exp, again)
	}
}

// ixWrites are the writes of the upkeep, after the instructions': the
// entries that changed, @back, @exp, and for a new model @ids (and the
// group's @meta when it is the group's first).
func (g *gen) ixWrites(r *ixRun) {
	x, w := r.x, &g.ixw
	g.line(w, "at = %d", x.n)
	g.write("HSET", x.back)
	g.line(w, "if ixp ~= ixb then")
	for i, f := range x.fs {
		if r.news[i] == r.olds[i] {
			continue
		}
		o, e := r.olds[i], r.news[i]
		g.line(w, "  if %s ~= %s then", o, e)
		if r.old {
			g.line(w, "    if %s then redis.call('ZREM', %s, %s .. ixid) end", o, f.z, o)
		}
		g.line(w, "    if %s then redis.call('ZADD', %s, 0, %s .. ixid) end", e, f.z, e)
		g.line(w, "  end")
	}
	g.line(w, "  redis.call('HSET', %s, ixid, ixp)", x.back)
	g.line(w, "end")
	switch {
	case g.ttlSet:
		g.line(w, "redis.call('ZADD', %s, ixnow + ttlms, ixid)", x.exp)
	case r.old && !g.reset:
		g.line(w, "if ixms then redis.call('ZADD', %s, ixnow + ixms, ixid) end", x.exp)
	case r.old:
		g.line(w, "if ixf == 'T' then redis.call('ZREM', %s, ixid) end", x.exp)
	}
	if r.nu {
		var metas []string
		for _, f := range x.fs {
			metas = append(metas, "redis.call('HSETNX', meta, "+luaStr(f.name)+", 'ready')")
		}
		g.line(w, "if ixfirst then local meta = string.sub(%s, 1, -6) .. ':@meta'; %s end", x.ids, strings.Join(metas, "; "))
		add := "redis.call('ZADD', %s, 0, ixid)"
		if r.old {
			add = "if not v then " + add + " end"
		}
		g.line(w, add, x.ids)
		g.write("ZADD", x.ids)
	}
	g.line(w, "at = 1")
}

// ixHelp is the text the scripts of indexed shapes start with: the table
// IX and of index.lua's encoding what the kinds of the script's indexes
// call: a function defined costs every call of the script.
func (g *gen) ixHelp() string { return ixHelpText(g.ixKinds) }

// ixHelpText is ixHelp for indexes of the kinds in kinds: none but for
// the kinds f and t, whose encoding is not written inline (encLua).
func ixHelpText(kinds string) string {
	p := luaText()
	has := func(k string) bool { return strings.Contains(kinds, k) }
	if !has("f") && !has("t") {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("local IX = {}\n")
	sb.WriteString(p["head"])
	if has("f") {
		sb.WriteString(p["floats"])
		sb.WriteString(p["IX.encfloat"])
	}
	if has("t") {
		sb.WriteString(p["time"])
	}
	if has("i") || has("t") {
		sb.WriteString(p["IX.encint"])
	}
	if has("s") {
		sb.WriteString(p["IX.escape"])
	}
	sb.WriteString(p["IX.enc"])
	sb.WriteString(p["IX.pk"])
	sb.WriteString(p["IX.now"])
	return sb.String()
}

// luaStr is s as a Lua string literal: every byte but letters, digits
// and _ as a decimal escape of three digits.
func luaStr(s string) string {
	var sb strings.Builder
	sb.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\%03d", c)
		}
	}
	sb.WriteByte('\'')
	return sb.String()
}
