package rapyer_test

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestDocsSnippetsCompile compiles every ```go block of docs/*.md and of the
// README. A block that starts with a package clause is built as the file it
// is. Any other block is compiled in a package of its own, with
//
//   - the top-level declarations of the blocks before it in the same page
//     (a block's types and lenses serve the blocks after it),
//   - docsPrelude: the names the pages use without declaring them (ctx, rdb,
//     accounts, players, ...), each group left out when a page declares one
//     of its names itself,
//
// its declarations at top level and its statements in the body of a function
// returning error. Variables a fragment declares and does not use are used
// for it, as a reader would expect of a fragment. //line directives make the
// compiler's messages point into the .md file. A block that is not meant to
// compile is fenced as ```go-fragment and skipped.
func TestDocsSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the documentation's snippets")
	}
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, "README.md")
	dir, err := os.MkdirTemp(".", ".docs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	var pkgs []string
	blocks := 0
	for _, page := range pages {
		src, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		var earlier []chunk // top-level declarations of the page's earlier blocks
		for i, b := range goBlocks(string(src)) {
			blocks++
			pkg := filepath.Join(dir, fmt.Sprintf("%s_%02d", strings.NewReplacer(".", "_", "/", "_").Replace(page), i+1))
			if err := os.Mkdir(pkg, 0o755); err != nil {
				t.Fatal(err)
			}
			file, code := "snippet.go", ""
			if strings.HasPrefix(strings.TrimSpace(b.text), "package ") {
				code = lineDirective(page, b.line) + b.text
				if name := packageName(b.text); strings.HasSuffix(name, "_test") {
					file = "snippet_test.go"
				}
			} else {
				chunks, err := split(page, b)
				if err != nil {
					t.Errorf("%s:%d: a go block that is neither declarations nor statements: %v", page, b.line, err)
					continue
				}
				code = assemble(earlier, chunks)
				for _, c := range chunks {
					if c.decl {
						earlier = append(earlier, c)
					}
				}
			}
			if err := os.WriteFile(filepath.Join(pkg, file), []byte(code), 0o644); err != nil {
				t.Fatal(err)
			}
			pkgs = append(pkgs, "./"+filepath.ToSlash(pkg))
		}
	}
	if blocks == 0 {
		t.Fatal("found no go blocks in docs/*.md")
	}
	args := append([]string{"vet", "-unreachable=false"}, pkgs...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		// Positions read "<dir>/<package>/docs/page.md:12": keep the page's.
		msg := regexp.MustCompile(`(?m)(^|\s)\.?/?`+regexp.QuoteMeta(filepath.Base(dir))+`/[^/\s]+/`).ReplaceAllString(string(out), "$1")
		t.Fatalf("%d go blocks of the documentation; these do not compile:\n%s", blocks, msg)
	}
	t.Logf("%d go blocks in %d pages compile", blocks, len(pages))
}

type block struct {
	line int // the line of the block's first line of code in the page
	text string
}

// goBlocks returns the ```go blocks of a Markdown page, with the indentation
// of their fence (a block inside a list item) taken off.
func goBlocks(md string) []block {
	var out []block
	var cur *block
	indent := ""
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case cur == nil && strings.TrimSpace(trimmed) == "```go":
			indent = line[:len(line)-len(trimmed)]
			cur = &block{line: n + 1}
		case cur != nil && strings.HasPrefix(trimmed, "```"):
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += strings.TrimPrefix(line, indent) + "\n"
		}
	}
	return out
}

// chunk is a run of lines of a block that is either top-level declarations or
// statements.
type chunk struct {
	decl  bool
	names []string // the top-level names a declaration chunk declares
	text  string   // with a //line directive in front
}

// split cuts a block into declaration and statement chunks: the whole block
// if it is declarations, else runs of paragraphs (split at blank lines), each
// grown until it parses, as declarations if it can (a type declared in a
// block of statements serves the blocks after it), else as statements.
func split(page string, b block) ([]chunk, error) {
	if c, ok := asChunk(page, b.line, b.text); ok && c.decl {
		return []chunk{c}, nil
	}
	lines := strings.SplitAfter(b.text, "\n")
	var out []chunk
	start := 0
	for start < len(lines) {
		for start < len(lines) && strings.TrimSpace(lines[start]) == "" {
			start++
		}
		if start == len(lines) {
			break
		}
		end := start
		found := false
		for end < len(lines) {
			end++
			for end < len(lines) && strings.TrimSpace(lines[end]) != "" {
				end++
			}
			if c, ok := asChunk(page, b.line+start, strings.Join(lines[start:end], "")); ok {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			_, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+strings.Join(lines[start:], "")+"\n}", 0)
			return nil, err
		}
		start = end
	}
	return out, nil
}

// asChunk reports whether text parses as top-level declarations or as
// statements, and makes the chunk.
func asChunk(page string, line int, text string) (chunk, bool) {
	fset := token.NewFileSet()
	if f, err := parser.ParseFile(fset, "", "package p\n"+text, 0); err == nil {
		var names []string
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names = append(names, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						names = append(names, s.Name.Name)
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names = append(names, n.Name)
						}
					}
				}
			}
		}
		return chunk{decl: true, names: names, text: lineDirective(page, line) + useDeclared(fset, f, len("package p\n"), text)}, true
	}
	const head = "package p\nfunc _() {\n"
	fset = token.NewFileSet()
	f, err := parser.ParseFile(fset, "", head+text+"\n}", 0)
	if err != nil {
		return chunk{}, false
	}
	return chunk{text: lineDirective(page, line) + useDeclared(fset, f, len(head), text)}, true
}

// useDeclared adds "_ = v" after each statement that declares v, so that a
// fragment may declare what it does not go on to use.
func useDeclared(fset *token.FileSet, f *ast.File, head int, text string) string {
	type edit struct {
		at   int
		text string
	}
	var edits []edit
	after := func(n ast.Node, names []string) {
		var uses []string
		for _, name := range names {
			if name != "_" {
				uses = append(uses, "_ = "+name)
			}
		}
		if len(uses) > 0 {
			edits = append(edits, edit{fset.Position(n.End()).Offset - head, "; " + strings.Join(uses, "; ")})
		}
	}
	stmts := func(list []ast.Stmt) {
		for _, s := range list {
			switch s := s.(type) {
			case *ast.AssignStmt:
				if s.Tok == token.DEFINE {
					var names []string
					for _, l := range s.Lhs {
						if id, ok := l.(*ast.Ident); ok {
							names = append(names, id.Name)
						}
					}
					after(s, names)
				}
			case *ast.DeclStmt:
				if g, ok := s.Decl.(*ast.GenDecl); ok && g.Tok == token.VAR {
					var names []string
					for _, spec := range g.Specs {
						for _, n := range spec.(*ast.ValueSpec).Names {
							names = append(names, n.Name)
						}
					}
					after(s, names)
				}
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BlockStmt:
			stmts(n.List)
		case *ast.CaseClause:
			stmts(n.Body)
		case *ast.CommClause:
			stmts(n.Body)
		}
		return true
	})
	sort.Slice(edits, func(i, j int) bool { return edits[i].at > edits[j].at })
	for _, e := range edits {
		if e.at >= 0 && e.at <= len(text) {
			text = text[:e.at] + e.text + text[e.at:]
		}
	}
	return text
}

// assemble makes the file of one block: imports, the prelude groups and
// earlier declarations it does not shadow, its own declarations, and its
// statements in a function.
func assemble(earlier, chunks []chunk) string {
	own := map[string]bool{}
	for _, c := range chunks {
		for _, n := range c.names {
			own[n] = true
		}
	}
	var decls []chunk
	// Earlier declarations, unless the block or a later earlier block
	// declares one of their names again.
	for i, c := range earlier {
		shadowed := slices.ContainsFunc(c.names, func(n string) bool { return own[n] })
		for _, later := range earlier[i+1:] {
			shadowed = shadowed || slices.ContainsFunc(c.names, func(n string) bool { return slices.Contains(later.names, n) })
		}
		if !shadowed {
			decls = append(decls, c)
		}
	}
	declared := map[string]bool{}
	for _, c := range decls {
		for _, n := range c.names {
			declared[n] = true
		}
	}
	var sb strings.Builder
	sb.WriteString(docsImports)
	for _, g := range docsPrelude {
		if !slices.ContainsFunc(g.names, func(n string) bool { return own[n] || declared[n] }) {
			sb.WriteString(g.code)
			sb.WriteString("\n")
		}
	}
	for _, c := range decls {
		sb.WriteString(c.text)
		sb.WriteString("\n")
	}
	var body strings.Builder
	for _, c := range chunks {
		if c.decl {
			sb.WriteString(c.text)
			sb.WriteString("\n")
		} else {
			body.WriteString(c.text)
			body.WriteString("\n")
		}
	}
	if body.Len() > 0 {
		sb.WriteString("\nfunc snippet() error {\n")
		sb.WriteString(body.String())
		sb.WriteString("\treturn nil\n}\n")
	}
	return sb.String()
}

func lineDirective(page string, line int) string {
	return fmt.Sprintf("//line %s:%d\n", filepath.ToSlash(page), line)
}

func packageName(src string) string {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.PackageClauseOnly)
	if err != nil {
		return ""
	}
	return f.Name.Name
}

const docsImports = `package docs

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/query"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/rapyertest"
	"github.com/rapyer-go/rapyer/tx"
)

var (
	_ = context.Background
	_ = errors.Is
	_ = fmt.Sprint
	_ = log.Print
	_ = os.Getenv
	_ = strconv.Itoa
	_ = strings.Cut
	_ sync.Mutex
	_ testing.TB
	_ = time.Second
	_ redis.UniversalClient
	_ = testenv.Each
	_ index.Spec
	_ = query.All[struct{}]
	_ = is.And[struct{}]
	_ = lens.Of[struct{ X int }, int]
	_ = lock.NoWait
	_ ops.Op
	_ = rapyer.ErrNotFound
	_ = rapyertest.Prefix
	_ tx.Batch
)

`

// docsPrelude declares what the documentation uses without declaring: a
// group is left out of a block's package when the page declares one of its
// names.
var docsPrelude = []struct {
	names []string
	code  string
}{
	{[]string{"ctx", "rdb", "t", "err", "id"}, `
var (
	ctx = context.Background()
	rdb redis.UniversalClient = redis.NewClient(&redis.Options{})
	t   *testing.T
	err error
	id  = "o1"
)`},
	{[]string{"Account", "Balance", "History", "Limits", "Flags"}, `
type Account struct {
	Owner   string
	Balance int
	History []string
	Limits  map[string]int
	Flags   map[string]struct{}
}

var (
	Balance = lens.Of(func(a *Account) *int { return &a.Balance })
	History = lens.Of(func(a *Account) *[]string { return &a.History })
	Limits  = lens.Of(func(a *Account) *map[string]int { return &a.Limits })
	Flags   = lens.Of(func(a *Account) *map[string]struct{} { return &a.Flags })
)`},
	// Whichever Account the page has.
	{[]string{"accounts", "errInsufficient"}, `
var (
	accounts        = rapyer.MustNew[Account](rdb, rapyer.Options{Prefix: "account"})
	errInsufficient = errors.New("insufficient funds")
)`},
	{[]string{"Player", "Score", "Level", "Achievements", "Stats", "players"}, `
type Player struct {
	Name         string
	Score        int
	Level        int
	Achievements []string
	Stats        map[string]int
}

var (
	Score        = lens.Of(func(p *Player) *int { return &p.Score })
	Level        = lens.Of(func(p *Player) *int { return &p.Level })
	Achievements = lens.Of(func(p *Player) *[]string { return &p.Achievements })
	Stats        = lens.Of(func(p *Player) *map[string]int { return &p.Stats })
	players      = rapyer.MustNew[Player](rdb, rapyer.Options{})
)`},
	{[]string{"Product", "Order", "Stock", "OrderStatus", "products", "orders", "qty"}, `
type Product struct {
	Name  string
	Stock int
}

type Order struct {
	Product string
	Qty     int
	Status  string
}

var (
	Stock       = lens.Of(func(p *Product) *int { return &p.Stock })
	OrderStatus = lens.Of(func(o *Order) *string { return &o.Status })
	shop        = func(string) string { return "shop-1" }
	products    = rapyer.MustNew[Product](rdb, rapyer.Options{HashTag: shop})
	orders      = rapyer.MustNew[Order](rdb, rapyer.Options{HashTag: shop})
	qty         = 1
)`},
	{[]string{"Limiter", "Hits", "limiters", "now", "window", "limit"}, `
type Limiter struct{ Hits []int64 }

var (
	Hits     = lens.Of(func(l *Limiter) *[]int64 { return &l.Hits })
	limiters = rapyer.MustNew[Limiter](rdb, rapyer.Options{})
	now      = time.Now().UnixMilli()
	window   = int64(60_000)
	limit    = 3
)`},
	{[]string{"Queue", "Pending", "Processing", "queues"}, `
type Queue struct {
	Pending    []string
	Processing []string
}

var (
	Pending    = lens.Of(func(q *Queue) *[]string { return &q.Pending })
	Processing = lens.Of(func(q *Queue) *[]string { return &q.Processing })
	queues     = rapyer.MustNew[Queue](rdb, rapyer.Options{})
)`},
	{[]string{"Session", "sessions"}, `
type Session struct {
	User  string
	Pages []string
}

var sessions = rapyer.MustNew[Session](rdb, rapyer.Options{TTL: time.Hour})`},
}

// TestDocsNameTestsThatExist: every `pkg.TestName` the docs and the README
// cite as evidence names a test function of a package of that name, so a
// renamed or removed test cannot leave a promise pinned by nothing.
func TestDocsNameTestsThatExist(t *testing.T) {
	tests := map[string]bool{} // "pkg.TestName", pkg the directory's name
	testFunc := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := filepath.Base(filepath.Dir(path))
		for _, m := range testFunc.FindAllStringSubmatch(string(src), -1) {
			tests[pkg+"."+m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob("docs/*.md")
	cited := regexp.MustCompile("`([a-z]+)\\.(Test[A-Za-z0-9_]+)`")
	for _, page := range append(pages, "README.md") {
		src, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range cited.FindAllStringSubmatch(string(src), -1) {
			if !tests[m[1]+"."+m[2]] {
				t.Errorf("%s cites %s.%s, which no test of a package %s defines", page, m[1], m[2], m[1])
			}
		}
	}
}
