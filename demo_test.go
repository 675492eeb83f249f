package rapyer_test

import (
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The narrator of `make demo` (RAPYER_DEMO=1 go test -run '^Example'). Each
// example of this directory calls connect, which calls narrate: it copies
// what the example prints and, when the example is done, tells on stderr its
// name, what it does and why its output is right, from the example's doc
// comment. go test checks the output against the // Output: line as always:
// the narration goes to stderr, never into what go test compares.

// scenario is an example of this directory, from its source.
type scenario struct {
	n     int    // its place in go test's order, from 1
	name  string // Example_bankTransfer
	file  string
	does  string // the doc comment but its "It prints" paragraph
	why   string // the "It prints" paragraph
	want  string // the text of its // Output: comment
	title string // "bank transfer"
}

var tour struct {
	once      sync.Once
	scenarios map[string]scenario
	total     int
	err       error

	mu          sync.Mutex
	told, right int
}

// loadScenarios reads every example of the *_test.go files of this directory,
// in go test's order: files by name, then declarations in source order.
func loadScenarios() (map[string]scenario, int, error) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		return nil, 0, err
	}
	fset := token.NewFileSet()
	out := map[string]scenario{}
	n := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, 0, err
		}
		for _, ex := range doc.Examples(f) { // sorted by name: put back in source order
			if ex.Output == "" && !ex.EmptyOutput {
				continue // compiled, not run
			}
			s := scenario{name: "Example" + ex.Name, file: name, want: ex.Output}
			if ex.Suffix != "" {
				s.name += "_" + ex.Suffix
			}
			s.does, s.why = splitWhy(ex.Doc)
			s.title = title(strings.TrimPrefix(s.name, "Example_"))
			out[s.name] = s
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok {
				if s, ok := out[fn.Name.Name]; ok && s.n == 0 {
					n++
					s.n = n
					out[fn.Name.Name] = s
				}
			}
		}
	}
	return out, n, nil
}

// splitWhy cuts an example's doc comment into what it does and the paragraph
// that starts "It prints".
func splitWhy(comment string) (does, why string) {
	var rest []string
	for _, p := range strings.Split(strings.TrimSpace(comment), "\n\n") {
		if strings.HasPrefix(p, "It prints") {
			why = p
		} else {
			rest = append(rest, p)
		}
	}
	return strings.Join(rest, "\n\n"), why
}

// title turns "bankTransfer" into "bank transfer".
func title(suffix string) string {
	var b strings.Builder
	for _, r := range suffix {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// callingExample is the name of the Example function on the stack.
func callingExample() string {
	pc := make([]uintptr, 32)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	for {
		f, more := frames.Next()
		name := f.Function[strings.LastIndex(f.Function, ".")+1:]
		if strings.HasPrefix(name, "Example") {
			return name
		}
		if !more {
			return ""
		}
	}
}

// narrate, under RAPYER_DEMO=1, starts copying what the calling example
// prints; told ends the copy and tells the scenario on stderr.
func narrate() (told func()) {
	if os.Getenv("RAPYER_DEMO") != "1" {
		return func() {}
	}
	name := callingExample()
	tour.once.Do(func() {
		tour.scenarios, tour.total, tour.err = loadScenarios()
		where := "an embedded miniredis, fresh for each (set REDIS_URL to use a server of yours)"
		if url := os.Getenv("REDIS_URL"); url != "" {
			where = "the server of REDIS_URL, each under a key prefix of its own (tour_*), deleted after it " +
				"(the batch records, tx{...}, expire on their own within seconds)"
		}
		intro := fmt.Sprintf("The tour of rapyer-go: %d scenarios, each an Example function of this "+
			"directory that go test runs and checks, on %s. For each: what it does, "+
			"what it printed, and why that is the right answer.", tour.total, where)
		fmt.Fprintln(os.Stderr, strings.Join(wrap(intro, 78), "\n"))
	})
	captured := os.Stdout
	r, w, err := os.Pipe()
	if err != nil {
		return func() {}
	}
	os.Stdout = w
	done := make(chan string)
	go func() {
		buf, _ := io.ReadAll(r)
		_, _ = captured.Write(buf) // for go test to compare
		done <- string(buf)
	}()
	return func() {
		w.Close()
		printed := <-done
		r.Close()
		os.Stdout = captured
		tell(os.Stderr, name, printed)
	}
}

// tell writes the narration of one scenario.
func tell(out io.Writer, name, printed string) {
	s, ok := tour.scenarios[name]
	if tour.err != nil || !ok {
		fmt.Fprintf(out, "\n--- %s (no narration: %v)\n%s", name, tour.err, printed)
		return
	}
	tour.mu.Lock()
	defer tour.mu.Unlock()
	tour.told++
	right := strings.TrimSpace(printed) == strings.TrimSpace(s.want)
	if right {
		tour.right++
	}
	fmt.Fprintf(out, "\n[%d/%d] %s  (%s in %s)\n", s.n, tour.total, s.title, s.name, s.file)
	column(out, "what it does", s.does)
	column(out, "it printed", strings.TrimRight(printed, "\n"))
	column(out, "why right", because(s))
	if right {
		column(out, "checked", "ok: what its // Output: comment expects")
	} else {
		column(out, "checked", "NO: its // Output: comment expects\n"+s.want+"go test reports it as FAIL below")
	}
	if tour.told == tour.total {
		if tour.right == tour.total {
			fmt.Fprintf(out, "\nAll %d scenarios printed what their // Output: comments expect.\n", tour.total)
		} else {
			fmt.Fprintf(out, "\n%d of %d scenarios printed something else than their // Output: comments.\n", tour.total-tour.right, tour.total)
		}
		fmt.Fprintf(out, "Read one in %s; run it alone with go test -v -run '^%s$' .\n", s.file, s.name)
	}
}

// because is the "It prints" paragraph without its "It prints <output>:",
// which the narration has just shown.
func because(s scenario) string {
	why := strings.Join(strings.Fields(s.why), " ")
	rest, ok := strings.CutPrefix(why, "It prints "+strings.Join(strings.Fields(s.want), " ")+":")
	if !ok {
		return s.why
	}
	return strings.TrimSpace(rest)
}

// column writes text under a label, the text rewrapped to fit 80 columns
// (but for what the example printed, which is shown as it is).
func column(out io.Writer, label, text string) {
	const indent = 16
	pad := strings.Repeat(" ", indent)
	var lines []string
	if label == "it printed" || strings.HasPrefix(text, "NO:") {
		lines = strings.Split(text, "\n")
	} else {
		lines = wrap(text, 80-indent)
	}
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintf(out, "  %-*s%s\n", indent-2, label, l)
		} else if l == "" {
			fmt.Fprintln(out)
		} else {
			fmt.Fprintf(out, "%s%s\n", pad, l)
		}
	}
}

// wrap fills paragraphs to width; paragraphs stay apart by an empty line.
func wrap(text string, width int) []string {
	var lines []string
	for i, p := range strings.Split(text, "\n\n") {
		if i > 0 {
			lines = append(lines, "")
		}
		line := ""
		for _, w := range strings.Fields(p) {
			if line != "" && len(line)+1+len(w) > width {
				lines = append(lines, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		lines = append(lines, line)
	}
	return lines
}

// TestEveryExampleIsNarrated fails when an example of the tour lacks what
// make demo tells: a doc comment saying what it does and a paragraph starting
// "It prints" that gives its output and why that output is right.
func TestEveryExampleIsNarrated(t *testing.T) {
	scenarios, total, err := loadScenarios()
	if err != nil {
		t.Fatal(err)
	}
	if total < 10 || len(scenarios) != total {
		t.Fatalf("found %d examples (%d in order); the tour has more than 10", len(scenarios), total)
	}
	for name, s := range scenarios {
		if s.does == "" {
			t.Errorf("%s: no doc comment saying what it does", name)
		}
		want := "It prints " + strings.TrimSpace(s.want)
		if strings.Contains(strings.TrimSpace(s.want), "\n") {
			want = "It prints" // several lines: the paragraph explains them
		}
		if !strings.HasPrefix(strings.Join(strings.Fields(s.why), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("%s: its doc comment needs a last paragraph starting %q and saying why that is right; it has %q", name, want, s.why)
		}
	}
	if s := scenarios["Example_quickStart"]; s.n != 1 {
		t.Errorf("the quick start is scenario %d of the tour, want the first", s.n)
	}
}
