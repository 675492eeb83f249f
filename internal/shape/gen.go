package shape

import (
	"fmt"
	"strconv"
	"strings"
)

// The generator. A compiled script has four parts, in order: the check
// phase (the model, the guards and the arithmetic, reading the data as the
// batch found it), the version, the ACL asks of every write but the first
// (of the model: the record before it is taken back should it be refused),
// and the writes. A refusal of the first write comes before anything
// changed, so it needs no ask; a write of the same command and key as an
// earlier one is allowed as that one was. A batch with a record writes it
// first of its writes, with NX: every result is known by then (the check
// phase computes them), and the write is also the record's look-up.

// gen is the state of one compilation.
type gen struct {
	a      argv
	chk    strings.Builder // the check phase
	wr     strings.Builder // the writes of the instructions
	ttl    strings.Builder // the TTLs of the lists the batch creates
	asks   strings.Builder // the conditional asks (PEXPIRE of those lists)
	fields map[string]*field
	lists  map[string]string // KEYS index of a list -> Lua local of the root's PTTL
	writes [][2]string       // command and key of every write, in order
	reads  [][2]string       // Lua local and name (AV[i], or a literal) of every field read
	res    []string          // per instruction, the Lua expression of its result
	locals int
	// helpers the text needs
	ints, strs, spends bool
	written            bool
	bump               string       // the version's write: HSET, or HINCRBY
	intRes             map[int]bool // the results that are integers' texts
	// intOK holds the Lua expressions known to be false or an integer's
	// canonical text: checked once
	intOK map[string]bool
	// leaf is the first leaf of the guard being compiled: the Lua
	// expressions of its field as stored and as compared, and the ARGV
	// index of its name
	leaf []string
	// guard is the instruction number of the guard being compiled
	guard int
	// lk is what it knows of the lock keys it reads (lock.go)
	lk *locks
	// keys are the program's keys (lock.go)
	keys []string

	// ix is the program's ix instruction (ix.go), ixw the writes of its
	// upkeep, ixOn whether the script keeps the indexes
	ix      *ixSpec
	ixw     strings.Builder
	ixOn    bool
	ixKinds string // the kinds of its indexes
	// reset: the program replaces the model (reset.go)
	reset, resetWritten bool
	// ttlSet: the replace sets the model's TTL (reset.go)
	ttlSet bool
	// vfold: the first write is an HSET of the root, marked (vMark, wMark)
	// so that the version can go in it (text.go, foldVersion)
	vfold bool
}

// field is what the check phase knows of a field of the root hash: the
// Lua expressions of its value as stored and as the batch has it so far
// ("" when not read or not set yet).
type field struct{ stored, cur string }

// maxFields bounds the fields a shape names (a Lua function has at most
// 200 locals).
const maxFields = 48

// maxLocals bounds the Lua locals a shape's body makes (the index upkeep
// makes about five an index).
const maxLocals = 150

func (g *gen) local() string {
	g.locals++
	return "x" + strconv.Itoa(g.locals)
}

func (g *gen) line(b *strings.Builder, f string, args ...any) {
	b.WriteString("  ")
	fmt.Fprintf(b, f, args...)
	b.WriteByte('\n')
}

// stored is the expression of field f's value as the batch found it, at
// ARGV index i (its name, a word that steers: the HMGET names it as a
// literal): read once, by the model's HMGET.
func (g *gen) stored(f string, i int) string {
	return g.storedAs(f, g.lit(i))
}

// lit is ARGV word i as a Lua literal: for the words that steer (keyOf),
// which a script of the shape has in its text rather than in its ARGV
// (each word of a call costs the server about 1,600 instructions).
func (g *gen) lit(i int) string {
	s, _ := g.a.at(i)
	return luaQuote(s)
}

// storedAs is stored, with the Lua expression of the name the HMGET sends
// when it is the first to read f.
func (g *gen) storedAs(f, name string) string {
	fd := g.field(f)
	if fd.stored == "" {
		fd.stored = g.local()
		g.reads = append(g.reads, [2]string{fd.stored, name})
	}
	return fd.stored
}

// current is the expression of field f's value as the batch has it so far.
func (g *gen) current(f string, i int) string {
	if fd := g.field(f); fd.cur != "" {
		return fd.cur
	}
	return g.stored(f, i)
}

func (g *gen) field(f string) *field {
	fd := g.fields[f]
	if fd == nil {
		fd = &field{}
		g.fields[f] = fd
	}
	return fd
}

func (g *gen) write(cmd, key string) {
	g.writes = append(g.writes, [2]string{cmd, key})
	g.written = true
}

const again = "return {'AGAIN'}"

// compile generates the script of the program laid out in a, with keys
// (keyOf said it is compiled), with the indexes of the yielding results in
// the interpreter's reply, or fails on a layout it does not take.
func compile(a argv, keys []string) (string, []int, bool) {
	ins, ok := instrs(a)
	if !ok || luaText() == nil { // before SetLua (lua.go)
		return "", nil, false
	}
	g := &gen{a: a, keys: keys, fields: map[string]*field{}, lists: map[string]string{}, intRes: map[int]bool{}, intOK: map[string]bool{}}
	rec, _ := a.at(2)
	g.res = append(g.res, "false")
	for n, in := range ins[1:] {
		if !g.instr(in, n+2) || len(g.fields) > maxFields {
			return "", nil, false
		}
	}
	if ttl, _ := a.at(ins[0].at + 2); ttl == "set" {
		if !g.reset {
			return "", nil, false
		}
		g.resetTTL(ins[0].at + 3)
	}
	if mode, _ := a.at(ins[0].at + 1); (mode == "create") != g.reset || !g.ixGen(mode) || len(g.fields) > maxFields || g.locals > maxLocals {
		return "", nil, false
	}
	var head strings.Builder
	if !g.model(&head, ins[0]) {
		return "", nil, false
	}
	var yields []int
	for i, r := range g.res {
		if r != "false" {
			yields = append(yields, 1+i)
		}
	}
	return g.text(rec, head.String()), yields, true
}

// record names the record key and its lifetime (ARGV[3]), which is in
// the text (keyOf): as text when it is a number the check passes (a Lua
// number sent to Redis is formatted on every call), else checked as the
// interpreter does. The record is looked up by its own write, once the
// checks passed (writeText), or by the look-up of a batch that stops
// before its writes (text's tail).
func (g *gen) record(sb *strings.Builder, rec string) {
	ms, _ := g.a.at(3)
	if n, err := strconv.ParseInt(ms, 10, 64); err == nil && n >= 1 && n <= 9007199254740991 && strconv.FormatInt(n, 10) == ms {
		g.line(sb, "local recms = %s", luaQuote(ms))
	} else {
		g.line(sb, "local recms = tonumber(%s)", luaQuote(ms))
		g.line(sb, "if recms == nil or recms < 1 or recms ~= math.floor(recms) or recms > 9007199254740991 then %s end", again)
	}
	g.line(sb, "local rec = KS[%s]", rec)
}

// model reads the model: its version and every field of its root hash the
// checks read, in one HMGET (an HGET of the version alone), which also
// checks the root's type; and checks
// the version against the mode. Called once the instructions are compiled,
// so that it knows the fields.
func (g *gen) model(sb *strings.Builder, in instr) bool {
	root, _ := g.a.at(in.at)
	mode, _ := g.a.at(in.at + 1)
	g.line(sb, "local root = KS[%s]", root)
	names := []string{"v"}
	read := "'__v'"
	for _, r := range g.reads {
		names = append(names, r[0])
		read += ", " + r[1]
	}
	if len(g.reads) == 0 {
		// the version alone: HGET, whose reply is no table (1.5k
		// instructions fewer than HMGET's), by redis.call: a root of
		// another type raises into pcall(body), which answers AGAIN
		// before any write, and the interpreter fails the batch as the
		// server says (a redis.pcall and a test of its reply cost about
		// 0.7k instructions more a call)
		g.line(sb, "local v = redis.call('HGET', root, '__v')")
	} else {
		g.line(sb, "local h = redis.pcall('HMGET', root, %s)", read)
		g.line(sb, "if h.err ~= nil then %s %s end", wrongType("root", "hash", 1), again)
		vals := make([]string, len(names))
		for i := range names {
			vals[i] = "h[" + strconv.Itoa(i+1) + "]"
		}
		g.line(sb, "local %s = %s", strings.Join(names, ", "), strings.Join(vals, ", "))
	}
	switch mode {
	case "need":
		g.line(sb, "if not v then return {'ERR', 'NOTFOUND', '1', root .. ' does not exist'} end")
	case "skip":
		g.line(sb, "if not v then return {'SKIP'} end")
	case "fresh":
		// a model without collections: one with collections lists their
		// keys in its declaration (prog, listsAll), which steer leaves to
		// the interpreter, so that a collection key found without its
		// root is deleted
		g.line(sb, "if v then return {'ERR', 'EXISTS', '1', root .. ' exists already'} end")
	case "create":
		// a replace (reset.go): the model may be there or not
	default:
		return false
	}
	return true
}

// instr compiles instruction n (from 1, the declaration included).
func (g *gen) instr(in instr, n int) bool {
	w := func(j int) string { s, _ := g.a.at(in.at + j - 1); return s }
	res := "false"
	if g.reset && in.op != "hset" {
		return false
	}
	switch in.op {
	case "gver":
		g.line(&g.chk, "if v ~= AV[%d] then return {'ERR', 'PRECOND', '%d', 'the version is ' .. tostring(v or 'missing') .. ', not ' .. AV[%d], '', v or nil} end", in.at+1, n, in.at+1)
	case "gpred":
		return g.pred(in, n) && g.result("false")
	case "incr":
		res = g.incr(in, w(2), n)
		g.intRes[len(g.res)] = true
	case "sappend":
		res = g.sappend(in, w(2), n)
	case "hset", "hdel":
		g.hash(in, n)
	case "rpush":
		g.rpush(in, w(2), n)
	case "glock", "unlock":
		return g.lockInstr(in, n)

	case "ix":
		return g.ixDeclare(in, n) && g.result("false")
	case "reset":
		return g.resetRoot(n) && g.result("false")
	default:
		return false
	}
	return g.result(res)
}

func (g *gen) result(r string) bool {
	g.res = append(g.res, r)
	return true
}

// incr: root field by lo hi, an integer field (HINCRBY) kept in [lo, hi].
// The field's name and its bounds steer (keyOf): they are in the text.
func (g *gen) incr(in instr, f string, n int) string {
	g.ints = true
	cur := g.current(f, in.at+1)
	name, by := g.lit(in.at+1), "AV["+strconv.Itoa(in.at+2)+"]"
	x := g.local()
	g.line(&g.chk, "local %s = %s", x, cur)
	g.line(&g.chk, "if %s == false then %s = '0' end", x, x)
	if !g.intOK[cur] {
		g.line(&g.chk, "if not %s then return {'ERR', 'CORRUPT', '%d', %s .. ' holds ' .. %s .. ', not an integer'} end", isint(x), n, name, x)
	}
	overflow := fmt.Sprintf("return {'ERR', 'OVERFLOW', '%d', %s .. ' would become ' .. %s}", n, name, x)
	lo, hi := g.lit(in.at+3), g.lit(in.at+4)
	g.line(&g.chk, "do -- its locals end with it (a function holds at most 200)")
	if check, ok := g.fastBounds(in.at+3, in.at+4); ok {
		// integer texts below 2^53 in magnitude are exact as numbers, and so
		// is their sum when it is too (a correctly rounded conversion or sum
		// past 2^53 is at least 2^53): addint's own fast path, without its
		// call, for the 16-digit amounts too
		g.line(&g.chk, "local a, b = %s + 0, %s + 0 -- texts: Lua's own conversion, cheaper than tonumber's", x, by)
		g.line(&g.chk, "local n = a + b")
		g.line(&g.chk, "if a < %s and a > -%s and b < %s and b > -%s and n < %s and n > -%s then", exact, exact, exact, exact, exact, exact)
		g.line(&g.chk, "  %s", printCount(x, "n"))
		if check != "" {
			g.line(&g.chk, "  if %s then %s end", check, overflow)
		}
		g.line(&g.chk, "else")
	} else {
		g.line(&g.chk, "do")
	}
	g.line(&g.chk, "  local I = ints()")
	// a uint64 field may hold more than HINCRBY reads (the fast path's
	// texts are below 2^53): refused before the first write
	g.line(&g.chk, "  if not I.within(%s, '-9223372036854775808', '9223372036854775807') then return {'ERR', 'OVERFLOW', '%d', %s .. ' holds ' .. %s .. ', past the 64-bit integers HINCRBY works on'} end", x, n, name, x)
	g.line(&g.chk, "  %s = I.addint(%s, %s)", x, x, by)
	g.line(&g.chk, "  if not I.within(%s, %s, %s) then %s end", x, lo, hi, overflow)
	g.line(&g.chk, "end")
	g.line(&g.chk, "end")
	g.field(f).cur = x
	g.intOK[x] = true
	g.write("HINCRBY", "root")
	g.line(&g.wr, "at = %d; redis.call('HINCRBY', root, %s, %s)", n, name, by)
	return x
}

// fastBounds is the check of a sum n of two integers, exact and below 2^53
// in magnitude (incr's fast path), against the bounds at ARGV lo and hi, compared as
// numbers: "" when no such sum can leave them; ok false when a bound is not
// an integer's canonical text (the sum then goes through addint and within).
func (g *gen) fastBounds(lo, hi int) (string, bool) {
	const reach = 1 << 53
	var parts []string
	for j, i := range []int{lo, hi} {
		s, _ := g.a.at(i)
		if !isIntText(s) {
			return "", false
		}
		f, _ := strconv.ParseFloat(s, 64)
		switch {
		case j == 0 && f > -reach:
			parts = append(parts, "n < "+s)
		case j == 1 && f < reach:
			parts = append(parts, "n > "+s)
		}
	}
	return strings.Join(parts, " or "), true
}

// isIntText reports whether s is an integer's canonical text, as the
// interpreter's isint has it.
func isIntText(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	if s == "0" {
		return true
	}
	d := strings.TrimPrefix(s, "-")
	if d == "" || d[0] == '0' {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// isint is the interpreter's isint (batch.lua) of the Lua local x, which
// holds a string, inline: a call of a closure the script would make on
// every call costs more than the test. TestIsintInline holds it to
// batch.lua's.
func isint(x string) string {
	return "(#" + x + " <= 20 and (" + x + " == '0' or string.match(" + x + ", '^%-?[1-9]%d*$') ~= nil))"
}

// sappend: root field text, the new text within the byte budget.
func (g *gen) sappend(in instr, f string, n int) string {
	g.spends = true
	cur := g.current(f, in.at+1)
	x, z := g.local(), g.local()
	g.line(&g.chk, "local %s = %s or ''", x, cur)
	g.line(&g.chk, "local %s = #%s + #AV[%d]", z, x, in.at+2)
	g.line(&g.chk, "if %s > 536870912 then %s end", z, again)
	g.line(&g.chk, "spent = spent + %s", z)
	g.line(&g.chk, "if budget > 0 and spent > budget then %s end", again)
	g.line(&g.chk, "%s = %s .. AV[%d]", x, x, in.at+2)
	g.field(f).cur = x
	vm, wm := g.foldable()
	g.write("HSET", "root")
	g.line(&g.wr, "at = %d; redis.call('HSET', root, %s%s, %s)%s", n, vm, g.lit(in.at+1), x, wm)
	return x
}

// hash: hset (root field value ...) or hdel (root field ...).
func (g *gen) hash(in instr, n int) {
	cmd := "HSET"
	for j := 1; j < in.n; j++ {
		f, _ := g.a.at(in.at + j)
		if in.op == "hset" {
			g.field(f).cur = "AV[" + strconv.Itoa(in.at+j+1) + "]"
			j++
		} else {
			g.field(f).cur = "false"
			cmd = "HDEL"
		}
	}
	vm, wm := "", ""
	if cmd == "HSET" {
		vm, wm = g.foldable()
	}
	g.write(cmd, "root")
	if g.reset && !g.resetWritten && cmd == "HSET" {
		// the replace's version goes with its fields (reset.go)
		g.resetWritten = true
		g.line(&g.wr, "at = %d; redis.call('HSET', root, '__v', nx, unpack(AV, %d, %d))", n, in.at+1, in.at+in.n-1)
		return
	}
	g.line(&g.wr, "at = %d; redis.call('%s', root, %sunpack(AV, %d, %d))%s", n, cmd, vm, in.at+1, in.at+in.n-1, wm)
}

// foldable marks an HSET of the root that is the batch's first write: the
// version, an HSET of the root too, can go in it (foldVersion), one
// command fewer. It returns the marks to put in its line, or none.
func (g *gen) foldable() (string, string) {
	if len(g.writes) > 0 || g.reset {
		return "", ""
	}
	g.vfold = true
	return vMark, wMark
}

// rpush: root key value..., a list of the model. A list that was empty
// (so missing) gets the root's remaining TTL once pushed (TTL "keep").
func (g *gen) rpush(in instr, k string, n int) {
	key := "KS[" + k + "]"
	p, seen := g.lists[k]
	if !seen {
		l := g.local()
		p = g.local()
		g.lists[k] = p
		g.line(&g.chk, "local %s = redis.pcall('LLEN', %s)", l, key)
		g.line(&g.chk, "if type(%s) == 'table' then %s %s end", l, wrongType(key, "list", n), again)
		g.line(&g.chk, "local %s = -1", p)
		g.line(&g.chk, "if %s == 0 then %s = redis.call('PTTL', root) end", l, p)
		// PTTL 0 is a TTL under a millisecond (-1: none), as the interpreter reads it
		g.line(&g.ttl, "if %s >= 0 then redis.call('PEXPIRE', %s, math.max(%s, 1)) end", p, key, p)
		g.line(&g.asks, "if %s >= 0 and not acl('PEXPIRE', %s) then %s end", p, key, again)
	}
	g.write("RPUSH", key)
	g.line(&g.wr, "at = %d; redis.call('RPUSH', %s, unpack(AV, %d, %d))", n, key, in.at+2, in.at+in.n-1)
}

// pred: a guard, a tree of comparisons of the root's fields. Every leaf
// is read and validated, in prefix order, as the interpreter does; then
// the tree is evaluated.
func (g *gen) pred(in instr, n int) bool {
	g.leaf, g.guard = nil, n
	expr, next := g.node(in, 0)
	if next != in.n/7 || g.leaf == nil {
		return false
	}
	// a guard that does not hold fails the batch as the interpreter's
	// guardfail does, with what its first leaf read
	raw, cur, f := g.leaf[0], g.leaf[1], g.leaf[2]
	said := fmt.Sprintf("(%s and (%s .. ' is ' .. %s) or (%s .. ' is missing' .. (%s ~= '' and (', which counts as ' .. %s) or '')))", raw, f, cur, f, cur, cur)
	g.line(&g.chk, "if not %s then return {'ERR', 'PRECOND', '%d', %s, %s, %s or nil} end", expr, n, said, f, raw)
	return true
}

// node compiles the node at index i (from 0) of the guard's tree and
// returns its expression and the index past it.
func (g *gen) node(in instr, i int) (string, int) {
	w := func(j int) string { s, _ := g.a.at(in.at + 7*i + j - 1); return s }
	tag, x := w(2), w(3)
	if tag != "cmp" {
		c, _ := strconv.Atoi(x)
		var parts []string
		j := i + 1
		for range c {
			var e string
			e, j = g.node(in, j)
			parts = append(parts, e)
		}
		if tag == "not" {
			return "(not " + parts[0] + ")", j
		}
		return "(" + strings.Join(parts, " "+tag+" ") + ")", j
	}
	base := in.at + 7*i
	cur := g.stored(x, base+2)
	name, arg := g.lit(base+2), "AV["+strconv.Itoa(base+5)+"]"
	v := g.local()
	g.line(&g.chk, "local %s = %s or %s", v, cur, g.lit(base+6))
	r := g.local()
	if w(4) == "int" {
		g.ints = true
		g.line(&g.chk, "if not %s then return {'ERR', 'CORRUPT', '%d', %s .. ' holds ' .. tostring(%s)} end", isint(v), g.guard, name, v)
		g.intOK[cur] = true
		// canonical integer texts compare as the numbers they convert to
		// (the arithmetic converts them, in one strtod where tonumber takes
		// two), whatever their length: a correctly rounded conversion keeps
		// the order, so two numbers that differ order their texts; two that
		// are equal come from equal texts, or (past 2^53) from texts cmpint
		// orders
		rel := relops[w(5)]
		g.line(&g.chk, "local %s", r)
		g.line(&g.chk, "do local a, b = %s + 0, %s + 0; if a ~= b or %s == %s then %s = a %s b else %s = ints().cmpint(%s, %s) %s 0 end end", v, arg, v, arg, r, rel, r, v, arg, rel)
	} else {
		g.strs = true
		g.line(&g.chk, "local %s = cmpstr(%s, %s) %s 0", r, v, arg, relops[w(5)])
	}
	if g.leaf == nil {
		g.leaf = []string{cur, v, name}
	}
	return r, i + 1
}

// exact is 2^53 as Lua text: integers below it in magnitude are exact in a
// double.
const exact = "9007199254740992"

var relops = map[string]string{"eq": "==", "ne": "~=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

// wrongType is the check of a key whose read failed: when it holds
// another type than want, the batch fails with WRONGTYPE as the
// interpreter's needtype says it (instruction n); otherwise the statement
// that follows (the read's own error) runs.
func wrongType(key, want string, n int) string {
	return fmt.Sprintf("local t = redis.call('TYPE', %s); if type(t) == 'table' then t = t.ok end; if t ~= 'none' and t ~= '%s' then return {'ERR', 'WRONGTYPE', '%d', %s .. ' holds a ' .. t .. ', not a %s'} end;", key, want, n, key, want)
}
