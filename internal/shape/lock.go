package shape

import (
	"fmt"
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
// another instruction of the batch writes or declares, a second unlock of
// the same key, and an unlock whose wait key (the lock key's name ..
// ':fence:wait', read in the check phase) is a key of the batch. An
// unlock also steers on its flags (lockFlags). It appends the words to
// dst; ins are the program's instructions (keyOf's).
func lockSteer(dst []string, a argv, ins []instr, in instr, root string, keys []string) ([]string, bool) {
	k, _ := a.at(in.at)
	want := 2
	if in.op == "unlock" {
		want = 3
	}
	if in.n != want || k == root {
		return nil, false
	}
	// every other instruction, as instrs laid them out (keyOf checked the
	// layout): read from ins, not parsed again
	for _, x := range ins {
		w1, _ := a.at(x.at)
		w2, _ := a.at(x.at + 1)
		if (x.op == "unlock" && in.op == "unlock" && x.at != in.at && w1 == k) || (x.op == "rpush" && w2 == k) {
			return nil, false
		}
	}
	if in.op == "glock" {
		return append(dst, k), true
	}
	name, ok := keyName(k, keys)
	if !ok {
		return nil, false
	}
	for _, x := range keys {
		if len(x) == len(name)+len(waitSuffix) && strings.HasPrefix(x, name) && strings.HasSuffix(x, waitSuffix) {
			return nil, false
		}
	}
	same, wake := lockFlagsIn(a, ins, in, keys)
	return append(dst, k, flagWord[b2i(same)][b2i(wake)]), true
}

// waitSuffix names a lock's wait key after its lock key (package lock).
const waitSuffix = ":fence:wait"

// flagWord is an unlock's flags as a word of the shape's key.
// flagWord[same][wake], as b2i numbers them.
var flagWord = [2][2]string{{"--", "-w"}, {"s-", "sw"}}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keyName is the name of the key at KEYS index k (a word), if there is one.
func keyName(k string, keys []string) (string, bool) {
	i, err := strconv.Atoi(k)
	if err != nil || i < 1 || i > len(keys) {
		return "", false
	}
	return keys[i-1], true
}

// lockFlags are the flags of unlock in, which make its text cheaper and
// its call shorter. same: a glock of the batch guards the same lock key
// with the same token, so once the checks passed the lock is known held
// and released: the unlock's token is not sent, and its result ('1') and
// the record are texts of the script. wake: the channel is the lock key's
// own (package lock's WakeChannel, the name .. ':wake'), which the script
// makes when someone waits instead of taking it as a word.
func lockFlags(a argv, in instr, keys []string) (same, wake bool) {
	var room [maxInstrs]instr
	ins, _ := instrsIn(room[:0], a)
	return lockFlagsIn(a, ins, in, keys)
}

// lockFlagsIn is lockFlags of a program whose instructions are ins.
func lockFlagsIn(a argv, ins []instr, in instr, keys []string) (same, wake bool) {
	k, _ := a.at(in.at)
	tok, _ := a.at(in.at + 1)
	for _, x := range ins {
		w1, _ := a.at(x.at)
		w2, _ := a.at(x.at + 1)
		same = same || (x.op == "glock" && x.n == 2 && w1 == k && w2 == tok)
	}
	ch, _ := a.at(in.at + 2)
	name, ok := keyName(k, keys)
	wake = ok && len(ch) == len(name)+len(wakeSuffix) && strings.HasPrefix(ch, name) && strings.HasSuffix(ch, wakeSuffix)
	return same, wake
}

// wakeSuffix names a lock's wake channel after its lock key (package
// lock's WakeChannel).
const wakeSuffix = ":wake"

// lockKey is the Lua local holding the value of lock key KEYS[k], read
// once in the check phase; a key of another type, or a refusal, raises
// into pcall(body), which answers AGAIN before any write: the interpreter
// fails the batch as the server says.
func (g *gen) lockKey(k string) string {
	if g.lk == nil {
		g.lk = &locks{got: map[string]string{}}
	}
	if x, ok := g.lk.got[k]; ok {
		return x
	}
	x := g.local()
	g.lk.got[k] = x
	g.line(&g.chk, "local %s = redis.call('GET', KS[%s])", x, k)
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
	// unlock. Whether someone waits is read in the check phase, where a
	// refusal raises into pcall(body) and leaves the batch to the
	// interpreter (which asks, and refuses it) before anything is
	// written: nothing the batch writes is the wait key (lockSteer), so
	// it reads what it would read at its turn, and needs no ask. Whether the user may publish on the channel
	// is asked only when someone waits: a refusal skips the PUBLISH (the
	// waiters poll), as after the interpreter's ask, and fails nothing,
	// so it needs no ask before the first write.
	same, wake := lockFlags(g.a, in, g.keys)
	key := "KS[" + k + "]"
	ch := fmt.Sprintf("AV[%d]", in.at+2)
	if wake {
		ch = key + " .. ':wake'"
	}
	w := g.local()
	g.line(&g.chk, "local %s = redis.call('EXISTS', %s .. '%s')", w, key, waitSuffix)
	g.writes = append(g.writes, [2]string{"DEL", key})
	// its result is known in the check phase (the record is written
	// before the writes, with every result); with a glock of the same
	// token, it is known in the text
	res := "'1'"
	t := &g.lk.text
	pre := ""
	if !same {
		res = g.local()
		g.line(&g.chk, "local %s = %s == AV[%d] and '1' or '0'", res, x, tok)
		g.line(t, "if %s == '1' then", res)
		pre = "  "
	}
	g.line(t, "%sat = %d; redis.call('DEL', %s); wrote = true", pre, n, key)
	g.line(t, "%sif %s == 1 then", pre, w)
	g.line(t, "%s  local ok, yes = true, true", pre)
	g.line(t, "%s  if redis.acl_check_cmd then ok, yes = pcall(redis.acl_check_cmd, 'PUBLISH', %s, %s) end", pre, ch, key)
	g.line(t, "%s  if ok and yes then redis.pcall('PUBLISH', %s, %s) end", pre, ch, key)
	g.line(t, "%send", pre)
	if !same {
		g.line(t, "end")
	}
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
