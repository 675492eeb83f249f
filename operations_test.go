package rapyer_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// scriptSources are the files whose text holds the library's Lua: the
// interpreter's sources, the compiled shapes' generators and the lock's.
var scriptSources = []string{"internal/lua/*.lua", "internal/shape/*.go", "lock/*.go"}

// luaCall matches a command named literally as the first argument of a
// call in Lua: redis.call('HSET', ...), the interpreter's call('GET', ...),
// its write-phase W('DEL', ...) and its ACL('PUBLISH', ...) asks.
var luaCall = regexp.MustCompile(`(?:redis\.p?call|[^A-Za-z_.]call|\bW|\bACL|acl_check_cmd,?)\(?\s*'([A-Z]+)'`)

// scriptText is the text of every script source but the tests.
func scriptText(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, glob := range scriptSources {
		files, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(src)
		}
	}
	return b.String()
}

// operationsDoc returns the commands docs/operations.md lists as sent from
// the library's Lua, and the commands its ACL line grants (lower case).
func operationsDoc(t *testing.T) (listed []string, granted map[string]bool) {
	t.Helper()
	doc, err := os.ReadFile("docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "Inside the library's Lua")
	para, _, ok2 := strings.Cut(rest, "Float arithmetic")
	if !ok || !ok2 {
		t.Fatal(`docs/operations.md has no paragraph "Inside the library's Lua ... Float arithmetic"`)
	}
	for _, m := range regexp.MustCompile("`([A-Z]+)`").FindAllStringSubmatch(para, -1) {
		listed = append(listed, m[1])
	}
	granted = map[string]bool{}
	for l := range strings.Lines(string(doc)) {
		if strings.HasPrefix(l, "ACL SETUSER") {
			for _, w := range strings.Fields(l) {
				if strings.HasPrefix(w, "+") {
					granted[w[1:]] = true
				}
			}
		}
	}
	return listed, granted
}

// TestOperationsDocListsEveryScriptCommand: every command the library's Lua
// names in a call is in the list of docs/operations.md, every listed
// command is granted by the page's least-privilege ACL line, and every
// listed command still appears in the Lua, and the line grants nothing the
// page does not say the library sends (a command the scripts gave up, such
// as HINCRBYFLOAT, leaves the list and the line). The ACL line itself
// is run by ops.TestEveryOpRunsAsTheDocumentedUser and
// rapyer.TestLeastPrivilegeUser.
func TestOperationsDocListsEveryScriptCommand(t *testing.T) {
	text := scriptText(t)
	listed, granted := operationsDoc(t)
	if len(listed) < 30 {
		t.Fatalf("found only %d commands in the list of docs/operations.md", len(listed))
	}
	called := map[string]bool{}
	for _, m := range luaCall.FindAllStringSubmatch(text, -1) {
		called[m[1]] = true
	}
	for c := range called {
		if !slices.Contains(listed, c) {
			t.Errorf("the Lua calls %s, which docs/operations.md does not list", c)
		}
	}
	for _, c := range listed {
		if !granted[strings.ToLower(c)] {
			t.Errorf("docs/operations.md lists %s, which its ACL line does not grant", c)
		}
		if !strings.Contains(text, "'"+c+"'") {
			t.Errorf("docs/operations.md lists %s, which no Lua of the library names", c)
		}
	}
	sent := sectionNamingCommands(t)
	for g := range granted {
		if c := strings.ToUpper(strings.ReplaceAll(g, "|", " ")); !strings.Contains(sent, "`"+c) {
			t.Errorf("the ACL line of docs/operations.md grants %s, which the page does not say the library sends", c)
		}
	}
}

// sectionNamingCommands is the section "The commands it sends" of
// docs/operations.md without its sentence on the commands the scripts do not
// send.
func sectionNamingCommands(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, _ := strings.Cut(string(doc), "## The commands it sends")
	sec, _, _ = strings.Cut(sec, "\n## ")
	head, tail, ok := strings.Cut(sec, "Float arithmetic")
	_, tail, ok2 := strings.Cut(tail, "\n\n")
	if !ok || !ok2 {
		t.Fatal(`docs/operations.md: no section "The commands it sends" with a paragraph ending "Float arithmetic ..."`)
	}
	return head + tail
}
