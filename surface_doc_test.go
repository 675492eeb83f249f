package rapyer_test

import (
	"go/ast"
	"go/doc"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryPublicNameHasADocCommentStartingWithIt checks DESIGN section 6:
// every exported name of every public package (types, functions, methods,
// constants and variables, each name of a group by its own comment) has a
// doc comment whose first word is the name and that names no internal
// package (rapyer.ErrUnsupported, not errs.Unsupported), and every public
// package has a doc.go that holds its package comment.
func TestEveryPublicNameHasADocCommentStartingWithIt(t *testing.T) {
	for _, dir := range publicPackages(t) {
		if _, err := os.Stat(dir + "/doc.go"); err != nil {
			t.Errorf("%s has no doc.go", dir)
		}
		for _, bad := range undocumentedNames(t, dir) {
			t.Errorf("%s: %s", dir, bad)
		}
	}
}

// internalName finds a doc comment that sends the reader to a name of an
// internal package, which go doc readers cannot import.
var internalName = regexp.MustCompile(`\b(errs|optcheck|codec|schema|prog|plan|reply)\.[A-Z]\w*`)

// undocumentedNames lists the exported names of the package in dir whose
// doc comment is missing or does not start with the name.
func undocumentedNames(t *testing.T, dir string) []string {
	t.Helper()
	pkgs := parsePackages(t, dir)
	var bad []string
	check := func(name, comment string) {
		if !ast.IsExported(name[strings.LastIndex(name, ".")+1:]) {
			return
		}
		first, _, _ := strings.Cut(strings.TrimSpace(comment), " ")
		first = strings.TrimRight(first, ":,.")
		if first != name[strings.LastIndex(name, ".")+1:] {
			bad = append(bad, name+": doc comment does not start with its name: "+firstLine(comment))
		}
		if internalName.MatchString(comment) {
			bad = append(bad, name+": doc comment names an internal package ("+internalName.FindString(comment)+"); a user sees rapyer.Err*")
		}
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			for _, spec := range v.Decl.Specs {
				vs := spec.(*ast.ValueSpec)
				comment := v.Doc
				if vs.Doc != nil {
					comment = vs.Doc.Text()
				} else if len(v.Decl.Specs) > 1 || len(vs.Names) > 1 {
					comment = groupComment(vs, comment)
				}
				for _, n := range vs.Names {
					check(n.Name, comment)
				}
			}
		}
	}
	for _, p := range pkgs {
		d := doc.New(p, dir, 0)
		if strings.TrimSpace(d.Doc) == "" {
			bad = append(bad, "package "+d.Name+" has no package comment")
		}
		walkDoc(d, check, values)
	}
	return bad
}

// groupComment is the comment that documents a name of a group without a
// comment of its own: the group's, when it names the first name of the spec
// first (a group documented as one, "DefaultA and DefaultB are ..."), else
// none, so that the name is reported.
func groupComment(vs *ast.ValueSpec, group string) string {
	if strings.HasPrefix(strings.TrimSpace(group), vs.Names[0].Name) {
		return vs.Names[0].Name + " " + group
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
