package rapyer_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var draftConcepts = flag.Bool("draft-concepts", false,
	"print a draft row, from the doc comment's first sentence, for every public name the table of docs/concepts.md lacks")

// publicPackages are the directories whose exported names are the library's
// surface: every directory with non-test Go files, outside internal/, the
// module root and the test-only trees.
func publicPackages(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		base := d.Name()
		if path != "." && (strings.HasPrefix(base, ".") || base == "internal" || base == "testdata" ||
			base == "examples" || base == "bench" || base == "reliability") {
			return filepath.SkipDir
		}
		if path == "." {
			return nil
		}
		files, _ := filepath.Glob(filepath.Join(path, "*.go"))
		if slices.ContainsFunc(files, func(f string) bool { return !strings.HasSuffix(f, "_test.go") }) {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// publicName is one exported name of a package: a type, function, variable,
// constant, or a method of an exported type (Type.Method).
type publicName struct {
	pkg, name, synopsis string
}

func exportedNames(t *testing.T, dir string) []publicName {
	t.Helper()
	pkgs := parsePackages(t, dir)
	var out []publicName
	for name, p := range pkgs {
		d := doc.New(p, dir, 0)
		add := func(n, comment string) {
			if ast.IsExported(n[strings.LastIndex(n, ".")+1:]) {
				out = append(out, publicName{pkg: name, name: n, synopsis: d.Synopsis(comment)})
			}
		}
		values := func(vs []*doc.Value) {
			for _, v := range vs {
				for _, spec := range v.Decl.Specs {
					vs := spec.(*ast.ValueSpec)
					comment := v.Doc
					if vs.Doc != nil {
						comment = vs.Doc.Text() // a name's own comment in a group
					}
					for _, n := range vs.Names {
						add(n.Name, comment)
					}
				}
			}
		}
		walkDoc(d, add, values)
	}
	return out
}

// conceptRow is a row of the table "Every public name" of docs/concepts.md:
// | `package` | `Name` | its one job |
var conceptRow = regexp.MustCompile("^\\|\\s*`([a-z]+)`\\s*\\|\\s*`([A-Za-z0-9_.]+)`\\s*\\|\\s*(.*?)\\s*\\|\\s*$")

func conceptsTable(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile("docs/concepts.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(src), "\n## Every public name")
	if !ok {
		t.Fatal(`docs/concepts.md has no section "## Every public name"`)
	}
	if i := strings.Index(table, "\n## "); i >= 0 {
		table = table[:i]
	}
	rows := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		m := conceptRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := m[1] + "." + m[2]
		if _, dup := rows[key]; dup {
			t.Errorf("docs/concepts.md lists %s twice", key)
		}
		rows[key] = m[3]
	}
	return rows
}

// sharedNames are the names more than one package exports, each with the one
// meaning it has in all of them. Any other name in two packages is a second
// meaning, and fails the test.
var sharedNames = map[string]string{
	"Options":       "the configuration struct of its package; the zero value works",
	"Model":         "a rapyer.Model (rapyertest.Model makes one for a test, on a fresh prefix)",
	"Len":           "the length of a list field (is.Len as a predicate's operand, ops.Len as a yield)",
	"Size":          "the number of items of a map or set field (is.Size as a predicate's operand, ops.Size as a yield)",
	"SkipIfMissing": "a call on a missing model does nothing and reports Result.Skipped (tx: the value of Options.IfMissing; rapyer: the per-call option that sets it)",
	"Of":            "makes the package's value from its parts (a lens from an accessor, a batch from ops)",
	"Prefix":        "the start of texts (rapyertest.Prefix: a test's key prefix; index.Prefix: an index finding strings by their start)",
	"On":            "names the field or model a value is on (tx.On: ops bound to a model; index.On: an index on a field)",
}

// TestConceptsTableListsEveryPublicName checks that docs/concepts.md has a
// row, with a job, for every exported name of every public package and for
// no other, and that no name is exported by two packages with two meanings.
func TestConceptsTableListsEveryPublicName(t *testing.T) {
	rows := conceptsTable(t)
	seen := map[string]bool{}
	byName := map[string][]string{}
	var missing []string
	for _, dir := range publicPackages(t) {
		for _, n := range exportedNames(t, dir) {
			key := n.pkg + "." + n.name
			seen[key] = true
			if !strings.Contains(n.name, ".") {
				byName[n.name] = append(byName[n.name], n.pkg)
			}
			job, ok := rows[key]
			switch {
			case !ok:
				missing = append(missing, fmt.Sprintf("| `%s` | `%s` | %s |", n.pkg, n.name, n.synopsis))
			case strings.TrimSpace(job) == "":
				t.Errorf("docs/concepts.md: %s has no job", key)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		if *draftConcepts {
			fmt.Println(strings.Join(missing, "\n"))
		}
		t.Errorf("docs/concepts.md lacks %d public names (go test -run %s -draft-concepts drafts them):\n%s",
			len(missing), t.Name(), strings.Join(missing, "\n"))
	}
	for key := range rows {
		if !seen[key] {
			t.Errorf("docs/concepts.md lists %s, which no public package exports", key)
		}
	}
	for name, pkgs := range byName {
		if len(pkgs) > 1 && sharedNames[name] == "" {
			t.Errorf("%s is exported by %v: one name, one meaning (or add it to sharedNames with the meaning it has in all)", name, pkgs)
		}
	}
}

// walkDoc calls name with every exported-or-not func, type and method of
// d and its doc comment (a method as Type.Method), and values with every
// group of constants and variables, the package's and each type's.
func walkDoc(d *doc.Package, name func(n, comment string), values func([]*doc.Value)) {
	values(d.Consts)
	values(d.Vars)
	for _, f := range d.Funcs {
		name(f.Name, f.Doc)
	}
	for _, ty := range d.Types {
		name(ty.Name, ty.Doc)
		values(ty.Consts)
		values(ty.Vars)
		for _, f := range ty.Funcs {
			name(f.Name, f.Doc)
		}
		for _, m := range ty.Methods {
			name(ty.Name+"."+m.Name, m.Doc)
		}
	}
}

// parsePackages parses the non-test Go files of dir, with their comments.
func parsePackages(t *testing.T, dir string) map[string]*ast.Package {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}
