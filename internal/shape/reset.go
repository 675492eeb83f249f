package shape

// A replace: a program that declares its model in mode create (made when
// missing) or fresh, perhaps keeps its indexes (ix), resets its root and
// sets its fields (hset): what rapyer.Model.Save and Create send for a
// model of an indexed type without collections (a model of a type without
// indexes is saved by the lean form, or its compiled shape, save.go). The
// interpreter's reset drops the root (its fields and its TTL) and writes
// the next version; here the root is dropped first of the writes and the
// version goes with the first hset. Only hsets may follow: every field of
// the model is then what the batch gives, or absent. A replace that sets
// the model's TTL (Options.TTL: the declaration's TTL mode "set") gives
// the root its TTL after the fields, as the interpreter does after its
// writes.

// resetRoot compiles the reset, instruction n: it must follow the
// declarations (the model and its indexes).
func (g *gen) resetRoot(n int) bool {
	if g.reset || g.written || n > 3 || (n == 3 && g.ix == nil) {
		return false
	}
	g.reset = true
	for _, fd := range g.fields {
		fd.cur = "false"
	}
	g.write("DEL", "root")
	g.line(&g.wr, "at = %d; redis.call('DEL', root); wrote = true", n)
	return true
}

// current and the index upkeep read a field the reset dropped and no hset
// gave as absent: resetCur is the expression of f's value after the batch.
func (g *gen) resetCur(f string) string {
	if fd := g.fields[f]; fd != nil && fd.cur != "" {
		return fd.cur
	}
	return "false"
}

// resetTTL compiles the TTL of a replace: the milliseconds at ARGV index
// i, checked before the first write (the interpreter's own refusal of a
// bad one is left to it).
func (g *gen) resetTTL(i int) {
	g.ttlSet = true
	g.line(&g.chk, "local ttlms = tonumber(AV[%d])", i)
	g.line(&g.chk, "if not ttlms or ttlms < 1 or ttlms ~= math.floor(ttlms) then %s end", again)
	g.write("PEXPIRE", "root")
	g.line(&g.wr, "redis.call('PEXPIRE', root, AV[%d])", i)
}
