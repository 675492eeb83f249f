package shape

import (
	"strconv"
	"strings"
)

// The lock instructions of a model lock's save: glock (the batch is fenced
// by a lock: it fails with LOCKLOST unless the lock key holds the token)
// and unlock (the batch releases the lock, if it still holds the token,
// and wakes its waiters as package lock's release does). Model.Lock's save
// is model, glock, the diff's writes, unlock: compiled, it runs as one
// EVALSHA of straight-line Lua instead of the interpreter.
//
// The lock key is read once, in the check phase, for both: nothing a
// compiled batch writes can change it (lockSteer refuses a lock key that
// is the root, a list the batch pushes to, or unlocked twice), so the
// value the unlock compares is the one it would read at its turn.

// locks is what a compilation knows of the lock keys it reads.
type locks struct {
	got  map[string]string // KEYS index of a lock key -> Lua local of its value
	text strings.Builder   // the unlocks' writes, after the other writes
}

// lockSteer is steer of glock (key token) and unlock (key token channel):
// the lock key's KEYS index steers; the token and channel are values. It
// fails on a form it does not take, a lock key that is the root or a key
// another instruction of the batch writes or declares, and a second unlock
// of the same key.
func lockSteer(a argv, in instr, root string) ([]string, bool) {
	k, _ := a.at(in.at)
	want := 2
	if in.op == "unlock" {
		want = 3
	}
	if in.n != want || k == root {
		return nil, false
	}
	// every other instruction, as instrs lays them out (keyOf checked
	// the layout), without a slice
	for i := 6; i < len(a); {
		op, _ := a.at(i)
		ns, _ := a.at(i + 1)
		n, err := strconv.Atoi(ns)
		if err != nil {
			return nil, false
		}
		w1, _ := a.at(i + 2)
		w2, _ := a.at(i + 3)
		if (op == "unlock" && in.op == "unlock" && i+2 != in.at && w1 == k) || (op == "rpush" && w2 == k) {
			return nil, false
		}
		i += 2 + n
	}
	return []string{k}, true
}

// lockKey is the Lua local holding the value of lock key KEYS[k], read
// once in the check phase; a key of another type leaves the batch to the
// interpreter, which fails it as the server says.
func (g *gen) lockKey(k string) string {
	if g.lk == nil {
		g.lk = &locks{got: map[string]string{}}
	}
	if x, ok := g.lk.got[k]; ok {
		return x
	}
	x := g.local()
	g.lk.got[k] = x
	g.line(&g.chk, "local %s = redis.pcall('GET', KS[%s])", x, k)
	g.line(&g.chk, "if type(%s) == 'table' then %s end", x, again)
	return x
}

// lockInstr compiles glock or unlock, instruction n.
func (g *gen) lockInstr(in instr, n int) bool {
	k, _ := g.a.at(in.at)
	tok := in.at + 1
	x := g.lockKey(k)
	if in.op == "glock" {
		g.line(&g.chk, "if %s ~= AV[%d] then return {'ERR', 'LOCKLOST', '%d', 'the lock ' .. KS[%s] .. ' is no longer held'} end", x, tok, n, k)
		return g.result("false")
	}
	// unlock. Whether the user may publish on the channel is asked only
	// when someone waits: a refusal skips the PUBLISH (the waiters poll),
	// as after the interpreter's ask, and fails nothing, so it needs no
	// ask before the first write.
	ch := in.at + 2
	res := g.local()
	key := "KS[" + k + "]"
	g.writes = append(g.writes, [2]string{"DEL", key}, [2]string{"EXISTS", key + " .. ':fence:wait'"})
	// its result is known in the check phase (the record is written
	// before the writes, with every result)
	g.line(&g.chk, "local %s = %s == AV[%d] and '1' or '0'", res, x, tok)
	t := &g.lk.text
	g.line(t, "if %s == '1' then", res)
	g.line(t, "  at = %d; redis.call('DEL', %s); wrote = true", n, key)
	g.line(t, "  if redis.call('EXISTS', %s .. ':fence:wait') == 1 then", key)
	g.line(t, "    local ok, yes = true, true")
	g.line(t, "    if redis.acl_check_cmd then ok, yes = pcall(redis.acl_check_cmd, 'PUBLISH', AV[%d], %s) end", ch, key)
	g.line(t, "    if ok and yes then redis.pcall('PUBLISH', AV[%d], %s) end", ch, key)
	g.line(t, "  end")
	g.line(t, "end")
	g.intRes[len(g.res)] = true
	return g.result(res)
}

// unlockText writes the unlocks, after the batch's other writes.
func (g *gen) unlockText(sb *strings.Builder) {
	if g.lk != nil && g.lk.text.Len() > 0 {
		sb.WriteString(g.lk.text.String())
		sb.WriteString("  at = 1\n")
	}
}
