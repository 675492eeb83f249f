package rapyer_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeQuickStart returns the go block of the README's Quick start section.
func readmeQuickStart(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Quick start")
	if !ok {
		t.Fatal("README.md has no Quick start section")
	}
	_, rest, ok = strings.Cut(rest, "```go\n")
	code, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("the Quick start section has no go code block")
	}
	return code
}

// TestReadmeQuickStartCompiles builds the README's quick start as written: a
// whole program, imports included, as a newcomer copies it.
func TestReadmeQuickStartCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	src := readmeQuickStart(t)
	if !strings.HasPrefix(src, "package main\n") {
		t.Fatalf("the quick start must be a whole program, starting with its package clause and imports:\n%s", src)
	}
	dir, err := os.MkdirTemp(".", ".readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "vet", "./"+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("the README's quick start does not compile:\n%s\n%s", out, src)
	}
}

// quickStartDiffs are the only differences allowed between the README's
// quick start and Example_quickStart (example_test.go): each README line on
// the left is the example's lines on the right, and each must be used once.
var quickStartDiffs = []struct{ readme, example string }{
	{`rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})`, "rdb, prefix, stop := connect(\"quickstart\")\ndefer stop()"},
	{`accounts := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: "account"})`, `accounts := rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: prefix + "_account"})`},
	{`fmt.Println(a.Balance, a.History, err) // prints: 130 [withdraw:30] <nil>`, "fmt.Println(a.Balance, a.History, err)\n// Output: 130 [withdraw:30] <nil>"},
}

// TestReadmeQuickStartIsExampleQuickStart fails when the README's quick start
// and Example_quickStart, which runs it, differ in anything but
// quickStartDiffs: the type, the lenses and main's body against the
// example's, line by line, indentation and blank lines aside.
func TestReadmeQuickStartIsExampleQuickStart(t *testing.T) {
	readme := quickStartParts(t, "README.md", readmeQuickStart(t), "main")
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	example := quickStartParts(t, "example_test.go", string(src), "Example_quickStart")

	for _, d := range quickStartDiffs {
		at := -1
		for i, l := range readme {
			if l == d.readme {
				if at >= 0 {
					t.Fatalf("quickStartDiffs: the README line %q appears twice", d.readme)
				}
				at = i
			}
		}
		if at < 0 {
			t.Fatalf("quickStartDiffs: the README's quick start has no line %q: update the list", d.readme)
		}
		readme = append(readme[:at], append(strings.Split(d.example, "\n"), readme[at+1:]...)...)
	}
	for i := range max(len(readme), len(example)) {
		var r, e string
		if i < len(readme) {
			r = readme[i]
		}
		if i < len(example) {
			e = example[i]
		}
		if r != e {
			t.Fatalf("the README's quick start and Example_quickStart differ at their line %d (after quickStartDiffs):\nREADME:  %s\nexample: %s\nChange both, or add the difference to quickStartDiffs.", i+1, r, e)
		}
	}
}

// quickStartParts returns the lines of type Account, of the var block that
// declares Balance, and of the body of function fn in src, each trimmed,
// without blank lines.
func quickStartParts(t *testing.T, name, src, fn string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	text := func(from, to token.Pos) string {
		return src[fset.Position(from).Offset:fset.Position(to).Offset]
	}
	var typ, lenses, body string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.Name == "Account" {
						typ = text(d.Pos(), d.End())
					}
				case *ast.ValueSpec:
					if s.Names[0].Name == "Balance" {
						lenses = text(d.Pos(), d.End())
					}
				}
			}
		case *ast.FuncDecl:
			if d.Name.Name == fn {
				body = text(d.Body.Lbrace+1, d.Body.Rbrace)
			}
		}
	}
	if typ == "" || lenses == "" || body == "" {
		t.Fatalf("%s: missing type Account, the var block of Balance, or func %s", name, fn)
	}
	var lines []string
	for _, l := range strings.Split(typ+"\n"+lenses+"\n"+body, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
