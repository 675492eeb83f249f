package ops_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// misfits are calls that must not compile: an op or a predicate on a field
// of a kind it does not fit. Each is one line of a function of its own.
var misfits = []struct{ why, call string }{
	{"Len of a scalar", "ops.Len(balance)"},
	{"Len of a map (Size is its word)", "ops.Len(limits)"},
	{"Size of a list", "ops.Size(history)"},
	{"Clear of a scalar (Set is its word)", "ops.Clear(note)"},
	{"Clear of a set (ClearItems is its word)", "ops.Clear(flags)"},
	{"ClearItems of a list", "ops.ClearItems(history)"},
	{"Append to a map", `ops.Append(limits, "x")`},
	{"Add to a list", `ops.Add(history, "x")`},
	{"Equal on a list", `is.Equal(history, []string{"a"})`},
	{"NotEqual on a map", `is.NotEqual(limits, map[string]int{})`},
	{"Below on a bool", "is.Below(flag, true)"},
	{"AtLeast on a struct", "is.AtLeast(home, Address{})"},
	{"Len of a scalar in a predicate", "is.Len(balance)"},
	{"Len of a set", "is.Len(flags)"},
	{"Size of a list in a predicate", "is.Size(history)"},
	{"TextLen of a number", "is.TextLen(balance)"},
	{"TextLen of a list", "is.TextLen(history)"},
	{"a length compared with a text", `is.Below(is.Len(history), "3")`},
	{"a field compared with another type", `is.Equal(balance, "3")`},
	{"Member of a list", `is.Member(history, "a")`},
	{"Element of a set", `is.Element(flags, "a")`},
	{"Key of a list", `is.Key(history, 1)`},
	{"Member with the wrong element type", `is.Member(flags, 1)`},
	{"Require of a predicate on another model", `ops.Require[Acct](is.Equal(otherBalance, 1))`},
}

// TestMisfitsDoNotCompile writes every misfit into one package and builds
// it once: each must fail on its own line, and no other line may fail (the
// last function of the file uses each word correctly, as a control).
func TestMisfitsDoNotCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a package")
	}
	var src strings.Builder
	src.WriteString(`package misfits

import (
	"time"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
)

type Address struct{ City string }

type Acct struct {
	Balance int
	Note    string
	Flag    bool
	When    time.Time
	Home    Address
	History []string
	Limits  map[string]int
	Flags   map[string]struct{}
}

type Other struct{ Balance int }

var (
	balance      = lens.Of(func(a *Acct) *int { return &a.Balance })
	note         = lens.Of(func(a *Acct) *string { return &a.Note })
	flag         = lens.Of(func(a *Acct) *bool { return &a.Flag })
	when         = lens.Of(func(a *Acct) *time.Time { return &a.When })
	home         = lens.Of(func(a *Acct) *Address { return &a.Home })
	history      = lens.Of(func(a *Acct) *[]string { return &a.History })
	limits       = lens.Of(func(a *Acct) *map[string]int { return &a.Limits })
	flags        = lens.Of(func(a *Acct) *map[string]struct{} { return &a.Flags })
	otherBalance = lens.Of(func(o *Other) *int { return &o.Balance })
)

var _, _, _, _, _, _, _, _, _ = balance, note, flag, when, home, history, limits, flags, otherBalance

`)
	lineOf := map[int]int{} // line -> misfit
	for i, m := range misfits {
		src.WriteString("func f" + strconv.Itoa(i) + "() {\n")
		lineOf[strings.Count(src.String(), "\n")+1] = i
		src.WriteString("\t_ = " + m.call + " // " + m.why + "\n}\n\n")
	}
	src.WriteString(`func fits() {
	_, _, _, _ = ops.Len(history), ops.Size(limits), ops.Size(flags), ops.Clear(history)
	_, _ = ops.ClearItems(limits), ops.ClearItems(flags)
	_ = is.And(is.Equal(balance, 3), is.Below(when, time.Now()), is.Above(note, "a"), is.NotEqual(flag, true))
	_ = is.Or(is.Below(is.Len(history), 3), is.AtMost(is.Size(flags), 2), is.Equal(is.Size(limits), 0), is.Above(is.TextLen(note), 1))
	_ = is.Not(is.And(is.Member(flags, "a"), is.Element(history, "b"), is.Key(limits, "c"), is.In(note, "x", "y")))
	_ = ops.Require(is.Equal(balance, 1))
	_ = ops.Check(is.Equal(otherBalance, 1))
}
`)
	dir, err := os.MkdirTemp(".", ".misfits-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "misfits.go"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "build", "-gcflags=-e", "./"+dir).CombinedOutput()
	if err == nil {
		t.Fatal("the misfits compiled")
	}
	failed := map[int]bool{}
	for _, m := range regexp.MustCompile(`misfits\.go:(\d+):\d+: `).FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[1])
		failed[n] = true
	}
	for line, i := range lineOf {
		if !failed[line] {
			t.Errorf("%s (%s) compiles", misfits[i].call, misfits[i].why)
		}
		delete(failed, line)
	}
	if len(failed) > 0 {
		lines := slices.Sorted(maps.Keys(failed))
		t.Errorf("lines %v, which should compile, fail:\n%s", lines, out)
	}
}
