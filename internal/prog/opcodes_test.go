package prog

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The opcode table (instr.go) against the interpreter (batch.lua): the test
// parses the branches of check, apply and sends, the `if op == '...'` lines
// of their dispatch, and holds them to the table.

var (
	branchLine = regexp.MustCompile(`^  (?:if|elseif) (op == '.*?) then(?:\s*--\s*(.*))?$`)
	opName     = regexp.MustCompile(`op == '(\w+)'`)
	argIndex   = regexp.MustCompile(`\ba\[(\d+)\]`)
	keyIndex   = regexp.MustCompile(`\bK\(a\[(\d+)\]\)`)
)

// branch is one branch of a dispatch: the opcodes it names, the comment on
// its line, and its text.
type branch struct {
	ops     []string
	comment string
	body    string
	line    int
}

// dispatch returns the branches of the function fn of src.
func dispatch(src, fn string) ([]branch, error) {
	head := "local function " + fn + "("
	start := strings.Index(src, head)
	if start < 0 {
		return nil, fmt.Errorf("batch.lua has no function %s", fn)
	}
	end := strings.Index(src[start:], "\nend\n")
	if end < 0 {
		return nil, fmt.Errorf("function %s of batch.lua has no end", fn)
	}
	first := strings.Count(src[:start], "\n") + 1
	var out []branch
	for i, l := range strings.Split(src[start:start+end], "\n") {
		if m := branchLine.FindStringSubmatch(l); m != nil {
			b := branch{comment: m[2], line: first + i}
			for _, o := range opName.FindAllStringSubmatch(m[1], -1) {
				b.ops = append(b.ops, o[1])
			}
			out = append(out, b)
			continue
		}
		if len(out) > 0 {
			// the branch's text ends at the next branch; `else` and the
			// function's tail belong to no opcode
			if strings.HasPrefix(l, "  else") || strings.HasPrefix(l, "  end") {
				out[len(out)-1].body += "\n\x00"
			}
			out[len(out)-1].body += "\n" + l
		}
	}
	for i := range out {
		if j := strings.Index(out[i].body, "\x00"); j >= 0 {
			out[i].body = out[i].body[:j]
		}
	}
	return out, nil
}

// commentArity reads the argument names of a branch comment ("root field by
// lo hi (integers: HINCRBY)", "root key v...", "root colkey type ...: ..."):
// the names before the first parenthesis or bracket or the first colon, and
// whether it has a variadic tail ("...").
func commentArity(c string) (n int, tail bool) {
	tail = strings.Contains(c, "...")
	for _, w := range strings.Fields(c) {
		if strings.HasPrefix(w, "(") || strings.HasPrefix(w, "[") {
			break
		}
		stop := strings.HasSuffix(w, ":")
		w = strings.TrimSuffix(w, ":")
		if w != "..." && w != "" {
			n++
		}
		if stop {
			break
		}
	}
	return n, tail
}

// audit holds the table to the interpreter's source and returns every
// disagreement.
func audit(src string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	byName := map[string]*layout{}
	for i := range table {
		byName[table[i].name] = &table[i]
	}
	phases := map[string][]branch{}
	for _, fn := range []string{"check", "apply", "sends"} {
		bs, err := dispatch(src, fn)
		if err != nil {
			return []string{err.Error()}
		}
		if len(bs) < 10 {
			return []string{fmt.Sprintf("found %d branches in %s: the patterns no longer match batch.lua", len(bs), fn)}
		}
		phases[fn] = bs
	}
	// every branch names only opcodes of the table; count each opcode's
	// branches per phase
	count := map[string]map[string]int{}
	for fn, bs := range phases {
		count[fn] = map[string]int{}
		for _, b := range bs {
			for _, op := range b.ops {
				if byName[op] == nil {
					bad("batch.lua:%d: %s has a branch for %q, which the opcode table lacks", b.line, fn, op)
					continue
				}
				count[fn][op]++
			}
		}
	}
	for _, l := range table {
		want := map[string]int{"check": 1, "apply": 1, "sends": 1}
		if l.checked {
			want["apply"], want["sends"] = 0, 0
		}
		for _, fn := range []string{"check", "apply", "sends"} {
			if got := count[fn][l.name]; got != want[fn] {
				bad("opcode %q has %d branches in %s of batch.lua, want %d", l.name, got, fn, want[fn])
			}
		}
	}
	// the layout: the names the comments give, the indexes the code reads,
	// the arguments it resolves as keys
	documented := map[string]bool{}
	maxIndex := map[string]int{}
	for _, fn := range []string{"check", "apply", "sends"} {
		for _, b := range phases[fn] {
			for _, op := range b.ops {
				l := byName[op]
				if l == nil {
					continue
				}
				for _, m := range argIndex.FindAllStringSubmatch(b.body, -1) {
					i, _ := strconv.Atoi(m[1])
					maxIndex[op] = max(maxIndex[op], i)
				}
				for _, m := range keyIndex.FindAllStringSubmatch(b.body, -1) {
					i, _ := strconv.Atoi(m[1])
					if i > len(l.fixed) || l.fixed[i-1] != 'k' {
						bad("batch.lua: %s's %s resolves a[%d] as a key, which the table does not declare a key (%q)", op, fn, i, l.fixed)
					}
				}
			}
			if b.comment == "" || !sameLayout(b.ops, byName) {
				continue
			}
			n, tail := commentArity(b.comment)
			for _, op := range b.ops {
				l := byName[op]
				documented[op] = true
				switch {
				case tail != (l.tail != ""):
					bad("batch.lua:%d: %s's comment %q says variadic=%v; the table's tail is %q", b.line, op, b.comment, tail, l.tail)
				case !tail && n != len(l.fixed):
					bad("batch.lua:%d: %s's comment %q names %d arguments; the table declares %d (%q)", b.line, op, b.comment, n, len(l.fixed), l.fixed)
				case tail && (n <= len(l.fixed) || (n-len(l.fixed))%len(l.tail) != 0):
					bad("batch.lua:%d: %s's comment %q names %d arguments; the table declares %d fixed and a tail of %d", b.line, op, b.comment, n, len(l.fixed), len(l.tail))
				}
			}
		}
	}
	for _, l := range table {
		if !documented[l.name] {
			bad("no branch of batch.lua documents the arguments of %q: add a comment naming them", l.name)
		}
		// (helpers such as slice() read some arguments themselves, so an
		// opcode's branches may read fewer than it has)
		if l.tail == "" && maxIndex[l.name] > len(l.fixed) {
			bad("batch.lua reads up to a[%d] for %q; the table declares %d arguments (%q)", maxIndex[l.name], l.name, len(l.fixed), l.fixed)
		}
		if l.tail != "" && maxIndex[l.name] > len(l.fixed)+len(l.tail) {
			bad("batch.lua reads a[%d] for %q, past its fixed arguments and one repeat of its tail", maxIndex[l.name], l.name)
		}
	}
	sort.Strings(problems)
	return problems
}

// sameLayout reports whether the opcodes of a shared branch have one layout
// (so that its comment speaks for each).
func sameLayout(ops []string, byName map[string]*layout) bool {
	for _, op := range ops {
		a, b := byName[op], byName[ops[0]]
		if a == nil || b == nil || a.fixed != b.fixed || a.tail != b.tail {
			return false
		}
	}
	return true
}

func batchSource(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../lua/batch.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// TestOpcodeTableMatchesTheInterpreter: every opcode has exactly its
// branches in batch.lua, no branch lacks an opcode, and the layouts agree.
func TestOpcodeTableMatchesTheInterpreter(t *testing.T) {
	for _, p := range audit(batchSource(t)) {
		t.Error(p)
	}
}

// TestOpcodeAuditFails: the audit sees a branch without an opcode, an
// opcode without its branch, a second branch, and a layout that disagrees.
func TestOpcodeAuditFails(t *testing.T) {
	src := batchSource(t)
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"a branch without an opcode", "  elseif op == 'unlock' then -- lockkey token channel\n    -- nothing to check",
			"  elseif op == 'bogus' then -- root\n    local k = K(a[1])\n  elseif op == 'unlock' then -- lockkey token channel\n    -- nothing to check",
			`has a branch for "bogus", which the opcode table lacks`},
		{"an opcode without its apply branch", "  elseif op == 'mget' then -- root key field\n    return",
			"  elseif op == 'mgetx' then -- root key field\n    return", `opcode "mget" has 0 branches in apply`},
		{"a second branch", "  elseif op == 'len' then -- root key type\n    needtype",
			"  elseif op == 'len' then -- root key type\n  elseif op == 'len' then -- root key type\n    needtype",
			`opcode "len" has 2 branches in check`},
		{"a comment with another count", "-- root field by lo hi (integers: HINCRBY)", "-- root field by lo (integers: HINCRBY)",
			`incr's comment`},
		{"an index past the layout", "W('HINCRBY', K(a[1]), a[2], a[3])", "W('HINCRBY', K(a[1]), a[2], a[3], a[6])",
			`reads up to a[6] for "incr"`},
		{"a text resolved as a key", "W('HINCRBY', K(a[1]), a[2], a[3])", "W('HINCRBY', K(a[1]), K(a[2]), a[3])",
			`resolves a[2] as a key`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(src, c.old) {
				t.Fatalf("batch.lua no longer holds %q: update the test", c.old)
			}
			got := audit(strings.Replace(src, c.old, c.new, 1))
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Fatalf("the audit of a batch.lua with %s found %q; want a problem with %q", c.name, got, c.want)
			}
		})
	}
}

// TestEveryOpcodeHasItsMethod: the Builder method of each opcode takes the
// table's arguments, all text, variadic exactly when the layout has a tail.
func TestEveryOpcodeHasItsMethod(t *testing.T) {
	bt := reflect.TypeFor[*Builder]()
	str := reflect.TypeFor[string]()
	seen := map[string]bool{}
	for i, l := range table {
		if opcode(i).String() != l.name {
			t.Errorf("opcode %d's word is %q, not %q", i, opcode(i), l.name)
		}
		if seen[l.name] {
			t.Errorf("opcode %q is in the table twice", l.name)
		}
		seen[l.name] = true
		for _, c := range l.fixed + l.tail {
			if c != 'k' && c != 't' {
				t.Errorf("opcode %q: layout letter %q is neither k nor t", l.name, c)
			}
		}
		if l.method == "" {
			if opcode(i) != opModel {
				t.Errorf("opcode %q has no method", l.name)
			}
			continue
		}
		m, ok := bt.MethodByName(l.method)
		if !ok {
			t.Errorf("opcode %q: Builder has no method %s", l.name, l.method)
			continue
		}
		ft := m.Type
		want := 1 + len(l.fixed) // the receiver
		if l.tail != "" {
			want++
		}
		if ft.NumIn() != want || ft.IsVariadic() != (l.tail != "") || ft.NumOut() != 0 {
			t.Errorf("opcode %q: %s is %s; want %d texts%s", l.name, l.method, ft, len(l.fixed), map[bool]string{true: " and a variadic tail"}[l.tail != ""])
			continue
		}
		for j := 1; j < ft.NumIn(); j++ {
			in := ft.In(j)
			if ft.IsVariadic() && j == ft.NumIn()-1 {
				in = in.Elem()
			}
			if in != str {
				t.Errorf("opcode %q: %s's argument %d is a %s", l.name, l.method, j, in)
			}
		}
	}
}
