package lua

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The audit of the batch interpreter's write phase (DESIGN.md 5.2): every
// call in batch.lua that sends a command that writes is listed below with
// the check that makes it safe, that is proves before the first write that
// it cannot fail. The test fails when a write call has no entry (a new
// write: say why it cannot fail, and add the check) and when an entry
// matches no call (a stale entry). Calls are matched by the function they
// are in, the instruction branch of the dispatch (apply, sends, check: the
// `if op == '...'` lines) and the command, not by line.
//
// It also holds the write phase to the two rules its error reporting relies
// on: every write is sent through W (so that a failure knows whether the
// batch wrote before it), and every command an instruction's apply sends is
// asked of the server's ACL by the same instruction's branch of sends (so
// that a refusal comes before the first write).

// reads are the commands that do not write. Any other command is taken to
// write.
var reads = map[string]bool{
	"TYPE": true, "HGET": true, "HEXISTS": true, "HLEN": true, "HSTRLEN": true, "HSCAN": true,
	"LLEN": true, "LINDEX": true, "LRANGE": true, "LPOS": true,
	"SCARD": true, "SISMEMBER": true, "GET": true, "PTTL": true, "TIME": true,
	"EXISTS": true,
}

// safe lists every write call: "function/branch/COMMAND" (branch "" outside
// the dispatch) -> the check that makes it safe. The key types are checked
// by check() (needtype, listlen, hasversion); "asked" means prewrite asked
// redis.acl_check_cmd for the command and key (Redis 7), so an ACL refusal
// comes before the first write.
var safe = map[string]string{
	// the root hash
	"apply/hset/HSET":    "root type checked by 'model' (hasversion); field names and values are text; chunked; asked",
	"apply/incr/HINCRBY": "check 'incr': the field is a canonical integer and the sum within the field's range and +-2^63; asked",
	"apply/incrf/HSET":   "check 'incrf': farith computed the sum (the field a float, the sum finite and within the field's type, float32 rounded); asked (HSET)",
	"apply/arith/HSET":   "the value was computed in check (arith/sappend/srepeat/tadd); root type checked; asked",
	"apply/hdel/HDEL":    "root type checked; chunked; asked",
	// lists
	"apply/rpush/pushall RPUSH": "check listcheck: the key is a list or missing; chunked; asked",
	"apply/lpush/pushall LPUSH": "check listcheck: the key is a list or missing; chunked; asked",
	"apply/rpop/RPOP":           "check listcheck: a list or missing (a pop of nothing writes nothing); asked",
	"apply/rpop/LPOP":           "as RPOP (the rpop/lpop branch); asked",
	"apply/popat/LSET":          "check 'popat': a list, and the index within its length as the batch has it; asked",
	"apply/popat/LREM":          "LREM of the tombstone just set: cannot fail on a list; asked",
	"apply/lset/LSET":           "check 'lset': a list, and the index within its length (RANGE otherwise); asked",
	"apply/linsert/LPUSH":       "check 'linsert': a list or missing; asked",
	"apply/linsert/RPUSH":       "check 'linsert': a list or missing (an insert at its end); asked",
	"apply/popat/LPOP":          "check 'popat': a list, the index its first; asked",
	"apply/popat/RPOP":          "check 'popat': a list, the index its last; asked",
	"apply/linsert/splice":      "check 'linsert': a list, the index clamped to its length; splice's writes asked",
	"apply/ldelrange/splice":    "check 'ldelrange': a list, the slice clamped to its length; splice's writes asked",
	"apply/ltrim/DEL":           "check 'ltrim': a list or missing; asked",
	"apply/ltrim/LTRIM":         "check 'ltrim': a list, bounds clamped to its length; asked",
	"apply/lrem/LREM":           "check 'lrem': a list or missing; the count is a Go integer; asked",
	"apply/lmove/LPOP":          "check 'lmove': both keys lists or missing (Move is a pop and a push: no LMOVE, which needs 6.2); asked",
	"apply/lmove/RPOP":          "as LPOP; asked",
	"apply/lmove/LPUSH":         "check 'lmove': the destination a list or missing; asked",
	"apply/lmove/RPUSH":         "as LPUSH; asked",
	"apply/clear/DEL":           "check 'clear': the key has the field's type (DEL cannot fail); asked",
	"delall//DEL":               "callers checked every key's type; 1000 keys a command; asked by sends for drop",
	"splice//DEL":               "callers checked the key is a list; asked by sends for linsert and ldelrange",
	"splice//LTRIM":             "callers checked the key is a list and clamped the bounds; asked",
	"splice//pushall RPUSH":     "callers checked the key is a list; chunked; asked",
	"splice//pushall LPUSH":     "callers checked the key is a list; chunked; asked (the head side)",
	// maps and sets
	"apply/mset/HSET":    "check: the key is a hash or missing; chunked; asked",
	"apply/mdel/HDEL":    "check: the key is a hash or missing; chunked (8000 keys were too many to unpack); asked",
	"apply/mpop/HDEL":    "check: a hash or missing; one field; asked",
	"apply/mpopany/HDEL": "check: a hash or missing; one field; asked",
	"apply/sadd/SADD":    "check: the key is a set or missing; chunked; asked",
	"apply/srem/SREM":    "check: the key is a set or missing; chunked (8000 members were too many to unpack); asked",

	// the ops of issue #12 item 8
	"apply/mincr/HINCRBY":  "check 'mincr': the key a hash or missing; the item a canonical integer within int64, the sum within the map's value type; asked",
	"apply/mincr/HSET":     "check 'mincr': the key a hash or missing; farith computed the sum (the item a float, the sum finite and within the value type, float32 rounded); asked",
	"apply/ensure/HSET":    "check 'ensure': the model is missing (hasversion: the root is a hash or nothing); the version is m.next, from the clock; field texts; chunked; asked",
	"apply/ensure/PEXPIRE": "the TTL in ms is a positive Go integer (rapyer.Options.TTL: at least 1 ms); on the hash just written; asked",

	// the model
	"apply/reset/DEL":              "root type checked by 'model'; asked",
	"apply/reset/HSET":             "the version written is m.next, from the version prewrite validated (CORRUPT, OVERFLOW) or the clock; asked",
	"apply/drop/delall DEL":        "check 'drop': the root is a hash and every collection key has its schema type (WRONGTYPE, nothing deleted); chunked; asked",
	"apply/unlock/DEL":             "the lock key's value was just read equal to the token (GET), so it is a string; asked",
	"apply/unlock/PUBLISH (pcall)": "skipped when the ACL refuses the channel (asked in sends); pcall, so a refusal there cannot fail the batch: waiters poll",
	// the bookkeeping after the ops
	"run//HSET":         "the version bump: m.next validated in prewrite (CORRUPT, OVERFLOW before any write); asked",
	"run//HINCRBY":      "the version bump for an op sends() does not mark; the audit's cross-check below makes sure every op is marked, so it is not reached",
	"run//PEXPIRE":      "the TTL in ms is a positive Go integer (ops.Expire refuses less than 1 ms); asked",
	"run//PERSIST":      "cannot fail on a key of any type; asked",
	"run//delall DEL":   "the collection keys of a model the batch creates, found without their root ('model': fresh); DEL cannot fail on a key of any type; chunked; asked by prewrite",
	"run//SET (record)": "the record lifetime checked in prewrite (at least 1 ms, an integer); asked; the last write (records' part of run)",

	// save, the lean form of whole-model writes (prog.Program.Lean)
	"savereset//DEL":        "savecheck: the root a hash or missing (saveversion), each collection key of its type or missing ('clear'); DEL fails on no type; the first model's DEL is the first write (refused, it writes nothing), later ones asked",
	"savereset//HSET":       "the version from saveversion (CORRUPT, OVERFLOW before any write) or the clock, the fields text; on the hash just deleted; chunked; asked",
	"savewrite//HSET":       "the root's fields on the hash the reset wrote, or a map's items on a key 'clear' checked and the reset deleted; chunked; asked",
	"savewrite//RPUSH":      "a list key 'clear' checked and the reset deleted; chunked; asked",
	"savewrite//SADD":       "a set key 'clear' checked and the reset deleted; chunked; asked",
	"saverun//PEXPIRE":      "the TTL in ms is a positive Go integer (ops.Expire refuses less than 1 ms); on keys just written; asked",
	"saverun//SET (record)": "the record lifetime checked by record() before anything (at least 1 ms, an integer); the first write, with NX: a refusal writes nothing; a record that fails is taken back by save",
	"saveone//DEL":          "as savereset//DEL for one model without collections: saveversion checked the root a hash or missing; the first model write (refused, it writes no model)",
	"saveone//HSET":         "as savereset//HSET: the version from saveversion or the clock, the fields text, fewer than 998 arguments (else the general path chunks); on the hash just deleted; asked",
	"saveone//PEXPIRE":      "as saverun//PEXPIRE: the model's TTL in ms, a positive Go integer; on the hash just written; asked",
	"save//DEL (pcall)":     "takes back the record of a save that failed (no model write, or PARTIAL); pcall: a user who may not DEL it gets it marked 'F' instead",
	"save//SET (pcall)":     "marks the record of a failed save 'F' (failed: a resend runs it) when its DEL was refused; this user could SET it; pcall",
}

type call struct {
	fn, branch, cmd string
	how             string // redis.call, redis.pcall, W, chunked, pushall, delall, splice, ask
	line            int
}

var (
	funcRe   = regexp.MustCompile(`^local function (\w+)\(`)
	branchRe = regexp.MustCompile(`^  (?:if|elseif) (op == '.*) then`)
	opRe     = regexp.MustCompile(`op == '(\w+)'`)
	callRe   = regexp.MustCompile(`(redis\.call|redis\.pcall|\bW|\bchunked|\bavsend|\bask|\bsask)\(('([A-Z]+)'|[^)]*)`)
	pushRe   = regexp.MustCompile(`\bpushall\(\w+, '([A-Z]+)'`)
	spliceRe = regexp.MustCompile(`\bsplice\(`)
	delallRe = regexp.MustCompile(`\bdelall\(`)
	aclRe    = regexp.MustCompile(`pcall\(ACL, '([A-Z]+)'`)
)

// scan finds every command call of the interpreter.
func scan(t *testing.T, src string) []call {
	t.Helper()
	var out []call
	fn, branch := "", ""
	for i, line := range strings.Split(src, "\n") {
		if m := funcRe.FindStringSubmatch(line); m != nil {
			fn, branch = m[1], ""
		}
		if line == "end" {
			fn, branch = "", ""
		}
		if m := branchRe.FindStringSubmatch(line); m != nil {
			var ops []string
			for _, o := range opRe.FindAllStringSubmatch(m[1], -1) {
				ops = append(ops, o[1])
			}
			branch = strings.Join(ops, ",")
		}
		code := line
		if j := strings.Index(code, "--"); j >= 0 {
			code = code[:j]
		}
		if strings.HasPrefix(code, "local function") {
			continue
		}
		for _, m := range aclRe.FindAllStringSubmatch(code, -1) {
			out = append(out, call{fn, branch, m[1], "ask", i + 1})
		}
		for _, m := range callRe.FindAllStringSubmatch(code, -1) {
			how := strings.TrimPrefix(m[1], "\\b")
			cmd := m[3]
			if cmd == "" {
				cmd = "?" + strings.TrimSpace(m[2])
			}
			out = append(out, call{fn, branch, cmd, how, i + 1})
		}
		for _, m := range pushRe.FindAllStringSubmatch(code, -1) {
			out = append(out, call{fn, branch, m[1], "pushall", i + 1})
		}
		if spliceRe.MatchString(code) {
			out = append(out, call{fn, branch, "splice", "splice", i + 1})
		}
		if delallRe.MatchString(code) {
			out = append(out, call{fn, branch, "DEL", "delall", i + 1})
		}
	}
	return out
}

// key is the audit's name of a call: the first op of its branch stands for
// the branch.
func (c call) key() string {
	b := c.branch
	if i := strings.IndexByte(b, ','); i >= 0 {
		b = b[:i]
	}
	cmd := c.cmd
	switch c.how {
	case "pushall", "delall":
		cmd = c.how + " " + cmd
	case "redis.pcall":
		cmd += " (pcall)"
	}
	if (c.fn == "run" || c.fn == "saverun") && c.cmd == "SET" {
		cmd += " (record)"
	}
	return c.fn + "/" + b + "/" + cmd
}

func TestEveryWriteIsChecked(t *testing.T) {
	calls := scan(t, batchSource)
	if len(calls) < 50 {
		t.Fatalf("the audit found %d calls in batch.lua: its patterns no longer match the text", len(calls))
	}
	matched := map[string]bool{}
	for _, c := range calls {
		if c.how == "ask" || c.how == "sask" {
			continue
		}
		if strings.HasPrefix(c.cmd, "?") {
			// a command the audit cannot read: only the forwarders may
			if (c.fn == "W" && c.how == "redis.call") || ((c.fn == "chunked" || c.fn == "avsend") && c.how == "W") {
				continue
			}
			t.Errorf("batch.lua:%d: %s in %s sends a command the audit cannot read (%s): write it as a literal", c.line, c.how, c.fn, c.cmd)
			continue
		}
		if c.cmd != "splice" && reads[c.cmd] {
			continue
		}
		k := c.key()
		if _, ok := safe[k]; !ok {
			t.Errorf("batch.lua:%d: the write %s (%s) has no entry in the audit: say what check makes it safe", c.line, k, c.how)
			continue
		}
		matched[k] = true
		// Writes of the write phase go through W, so that an error knows
		// whether anything was written before it. The record's SET (the
		// last write) and the PUBLISH (pcall) are the exceptions.
		if c.how == "redis.call" && k != "run//SET (record)" && k != "saverun//SET (record)" {
			t.Errorf("batch.lua:%d: %s is sent with redis.call: send writes through W", c.line, k)
		}
	}
	var stale []string
	for k := range safe {
		if !matched[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		t.Errorf("the audit entry %q matches no call of batch.lua", k)
	}
}

// TestEveryCommandOfApplyIsAsked: for every instruction, each command its
// branch of apply sends (writes and reads: an ACL can refuse either) is
// asked by its branch of sends, and sends asks nothing apply does not
// send; the bookkeeping of run against prewrite likewise.
func TestEveryCommandOfApplyIsAsked(t *testing.T) {
	calls := scan(t, batchSource)
	// commands each op's apply sends, and each op's sends asks
	sent, asked := map[string][]string{}, map[string][]string{}
	spliced := []string{}
	var runCmds, prewriteAsks []string
	for _, c := range calls {
		if strings.HasPrefix(c.cmd, "?") {
			continue
		}
		switch {
		case c.fn == "splice":
			spliced = append(spliced, c.cmd)
		case c.fn == "apply" && c.branch != "":
			sent[c.branch] = append(sent[c.branch], c.cmd)
		case c.fn == "sends" && c.how == "ask":
			for _, op := range strings.Split(c.branch, ",") {
				asked[op] = append(asked[op], c.cmd)
			}
		case c.fn == "run":
			runCmds = append(runCmds, c.cmd)
		case c.fn == "prewrite" && c.how == "ask":
			prewriteAsks = append(prewriteAsks, c.cmd)
		}
	}
	if len(sent) < 25 || len(asked) < 25 {
		t.Fatalf("found %d branches of apply and %d ops of sends: the audit's patterns no longer match", len(sent), len(asked))
	}
	for branch, cmds := range sent {
		ops := strings.Split(branch, ",")
		var all []string
		for _, cmd := range cmds {
			if cmd == "splice" {
				all = append(all, spliced...)
			} else {
				all = append(all, cmd)
			}
		}
		for _, cmd := range all {
			ok := false
			for _, op := range ops {
				ok = ok || slices.Contains(asked[op], cmd)
			}
			if !ok {
				t.Errorf("apply's branch %s sends %s, which sends() does not ask for %v", branch, cmd, ops)
			}
		}
		for _, op := range ops {
			for _, cmd := range asked[op] {
				if !slices.Contains(all, cmd) {
					t.Errorf("sends() asks %s for %s, which apply does not send", cmd, op)
				}
			}
		}
	}
	for op := range asked {
		found := false
		for branch := range sent {
			found = found || slices.Contains(strings.Split(branch, ","), op)
		}
		if !found {
			t.Errorf("sends() has a branch for %s, which apply has not", op)
		}
	}
	for _, cmd := range runCmds {
		switch cmd {
		case "GET": // the record's look-up, before the checks
			continue
		case "HINCRBY": // not reached: see the audit's entry
			continue
		}
		if !slices.Contains(prewriteAsks, cmd) {
			t.Errorf("run sends %s after the ops, which prewrite does not ask", cmd)
		}
	}
	// Every op whose apply marks a model written (touch, shrink) is marked
	// by sends (mark), so that prewrite validates its version and computes
	// the bump.
	for branch, cmds := range sent {
		writes := false
		for _, cmd := range cmds {
			writes = writes || cmd == "splice" || !reads[cmd]
		}
		for _, op := range strings.Split(branch, ",") {
			marked := strings.Contains(sendsBranch(t, op), "mark(")
			if writes && !marked && op != "drop" && op != "unlock" {
				t.Errorf("apply's %s writes, and sends() does not mark its model", op)
			}
		}
	}
}

// sendsBranch is the text of op's branch of sends.
func sendsBranch(t *testing.T, op string) string {
	t.Helper()
	start := strings.Index(batchSource, "local function sends(")
	if start < 0 {
		t.Fatal("no sends in batch.lua")
	}
	body := batchSource[start:]
	body = body[:strings.Index(body, "\nend\n")]
	lines := strings.Split(body, "\n")
	var out []string
	in := false
	for _, l := range lines {
		if m := branchRe.FindStringSubmatch(l); m != nil {
			in = false
			for _, o := range opRe.FindAllStringSubmatch(m[1], -1) {
				in = in || o[1] == op
			}
			continue
		}
		if in {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestEverySaveWriteIsAsked: every command the lean form (save) sends
// after its first write is asked of the ACL in its check phase (sask), and
// it asks nothing it does not send. The first writes are not asked: the
// record's SET NX (a refusal of it writes nothing) and the first model's
// DEL (a refusal of it writes no model; save takes the record back); nor
// the taking back of the record (pcall, on the way out of a failed save).
func TestEverySaveWriteIsAsked(t *testing.T) {
	sent, asked := map[string]bool{}, map[string]bool{}
	for _, c := range scan(t, batchSource) {
		if !strings.HasPrefix(c.fn, "save") || strings.HasPrefix(c.cmd, "?") || c.key() == "saverun//SET (record)" || (c.fn == "save" && c.how == "redis.pcall") {
			continue
		}
		switch {
		case c.how == "sask":
			asked[c.cmd] = true
		case !reads[c.cmd]:
			sent[c.cmd] = true
		}
	}
	if len(sent) < 5 {
		t.Fatalf("found %d commands save sends: the audit's patterns no longer match", len(sent))
	}
	for cmd := range sent {
		if !asked[cmd] {
			t.Errorf("save sends %s, which savecheck does not ask", cmd)
		}
	}
	for cmd := range asked {
		if !sent[cmd] {
			t.Errorf("savecheck asks %s, which save does not send", cmd)
		}
	}
}
