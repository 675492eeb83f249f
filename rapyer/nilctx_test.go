package rapyer_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/rapyertest"
	"github.com/rapyer-go/rapyer/tx"
)

// nilCtxPackages are the public packages whose ctx-taking entry points
// TestNilContextFailsTypedEverywhere calls, as directories of the module.
var nilCtxPackages = []string{"rapyer", "tx", "lock", "rapyertest", "query", "index", "lens", "ops", "is"}

// entryPointsTakingAContext lists the exported functions and methods of
// the public packages that take a context.Context, as "pkg.Name" or
// "pkg.Recv.Name", read from the source so that a new one cannot be
// forgotten by the table.
func entryPointsTakingAContext(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range nilCtxPackages {
		fset := token.NewFileSet()
		files, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
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
			af, err := parser.ParseFile(fset, f, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range af.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.IsExported() && takesAContext(fd) {
					out = append(out, dir+"."+receiverOf(fd)+fd.Name.Name)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func takesAContext(fd *ast.FuncDecl) bool {
	for _, p := range fd.Type.Params.List {
		if s, ok := p.Type.(*ast.SelectorExpr); ok && s.Sel.Name == "Context" {
			return true
		}
	}
	return false
}

func receiverOf(fd *ast.FuncDecl) string {
	if fd.Recv == nil {
		return ""
	}
	typ := fd.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	switch x := typ.(type) {
	case *ast.IndexExpr:
		typ = x.X
	case *ast.IndexListExpr:
		typ = x.X
	}
	if id, ok := typ.(*ast.Ident); ok && id.IsExported() {
		return id.Name + "."
	}
	return "?."
}

// TestNilContextFailsTypedEverywhere: every exported function and method
// that takes a context.Context, given a nil one, fails with ErrInvalid: no
// panic (go-redis dereferenced the nil context), nothing sent, the model,
// its indexes and a held lock as they were; a Lock.Release refused so can
// be done again with a context. Lock.Bind, which returns no error, gives a
// context already ended with a cause wrapping ErrInvalid. The table is
// checked against the source, so a new entry point cannot be left out.
func TestNilContextFailsTypedEverywhere(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		bg := context.Background()
		m := rapyer.MustNew[Account](b.Client, rapyer.Options{Prefix: b.Prefix + "acct", Indexes: []index.Spec{index.On(BalanceL)}})
		if err := m.Save(bg, "a", Account{Balance: 5, History: []string{"h"}, Limits: map[string]int{"d": 1}}); err != nil {
			t.Fatal(err)
		}
		l, err := lock.Acquire(bg, b.Client, b.Prefix+"held:{x}", lock.Options{TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = l.Release(bg) }()
		before := dumpMatching(bg, t, b, b.Prefix+"*", false)
		var nilCtx context.Context
		calls := map[string]func() error{}
		for name, call := range everyModelCallOf(nilCtx, m) {
			calls["rapyer.Model."+name] = call
		}
		delete(calls, "rapyer.Model.Key")    // no ctx
		delete(calls, "rapyer.Model.Keys")   // no ctx
		delete(calls, "rapyer.Model.Target") // no ctx
		calls["rapyer.LockAll"] = calls["rapyer.Model.LockAll"]
		delete(calls, "rapyer.Model.LockAll")
		calls["tx.Exec"] = func() error {
			_, err := tx.Exec(nilCtx, b.Client, tx.Of(ops.Incr(BalanceL, 1)).On(m.Target("a")), tx.Options{})
			return err
		}
		calls["tx.Optimistic"] = func() error {
			read := func(redis.Pipeliner) func() (tx.Batch, error) { return nil }
			_, err := tx.Optimistic(nilCtx, b.Client, []string{b.Prefix + "w"}, read, tx.Options{})
			return err
		}
		calls["lock.Acquire"] = func() error { _, err := lock.Acquire(nilCtx, b.Client, b.Prefix+"l:{y}", lock.Options{}); return err }
		calls["lock.Lock.Extend"] = func() error { return l.Extend(nilCtx, time.Hour) }
		calls["lock.Lock.Release"] = func() error { return l.Release(nilCtx) }
		calls["lock.Lock.Bind"] = func() error {
			c, cancel := l.Bind(nilCtx)
			defer cancel()
			if c == nil || c.Err() == nil {
				return errors.New("Bind(nil) gave a live context")
			}
			return context.Cause(c)
		}
		calls["rapyertest.DeletePrefix"] = func() error { return rapyertest.DeletePrefix(nilCtx, b.Client, b.Prefix) }

		var names []string
		for name := range calls {
			names = append(names, name)
		}
		slices.Sort(names)
		if want := entryPointsTakingAContext(t); !slices.Equal(names, want) {
			t.Fatalf("the table calls\n%v\nthe packages export\n%v", names, want)
		}
		counter := testenv.CountRoundTrips(b.Client)
		for _, name := range names {
			err := callRecovered(calls[name])
			var p *panicked
			switch {
			case errors.As(err, &p):
				t.Errorf("%s(nil ctx) panicked: %v", name, p.v)
			case !errors.Is(err, rapyer.ErrInvalid):
				t.Errorf("%s(nil ctx): %v, want ErrInvalid", name, err)
			case !strings.Contains(err.Error(), "nil context.Context"):
				t.Errorf("%s(nil ctx): %v, want it to name the nil context", name, err)
			}
		}
		if n := counter.Count(); n != 0 {
			t.Errorf("%d round trips sent (%s), want 0", n, counter)
		}
		if after := dumpMatching(bg, t, b, b.Prefix+"*", false); after != before {
			t.Errorf("the data changed:\n%s\nbecame\n%s", before, after)
		}
		if err := l.Extend(bg, 0); err != nil {
			t.Errorf("the lock after the refused calls: Extend: %v", err)
		}
		if err := l.Release(bg); err != nil {
			t.Errorf("Release with a context after Release(nil): %v", err)
		}
	})
}

func callRecovered(call func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicked{r}
		}
	}()
	return call()
}
