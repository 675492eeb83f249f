package prog

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/internal/index"
	"github.com/rapyer-go/rapyer/internal/schema"
)

// The golden programs: programs built with the typed emitters, rendered
// (instructions, KEYS, ARGV as the interpreter reads it) and compared with
// testdata/<name>.golden. No server: what the interpreter does with them is
// tested in package transport and above. Run with -update to rewrite the
// files after a deliberate change of the layout, and read the diff.

var update = flag.Bool("update", false, "rewrite the golden programs of testdata/")

// account is a model with one collection of each kind.
type account struct {
	Owner   string
	Balance int64
	History []string
	Limits  map[string]int
	Roles   map[string]struct{}
}

func accountTarget(t *testing.T, root string) Target {
	t.Helper()
	m, err := schema.For[account]()
	if err != nil {
		t.Fatal(err)
	}
	return Target{Root: root, Model: m}
}

// described is an Op for the golden programs' owners.
type described string

func (d described) String() string                 { return string(d) }
func (d described) Compile(*Builder, Target) error { return nil }

// render writes a program as the golden files hold it: the instructions
// (Program.String), then the command as sent, one ARGV word a line, each
// instruction's opcode and argument count marked, keys resolved.
func render(p *Program) string {
	var sb strings.Builder
	sb.WriteString("# instructions\n")
	sb.WriteString(p.String())
	cmd := p.Command()
	fmt.Fprintf(&sb, "# command: numkeys %v\n", cmd[2])
	for i, k := range p.Keys {
		fmt.Fprintf(&sb, "KEYS[%d] %s\n", i+1, quote(k))
	}
	a := p.Argv
	fmt.Fprintf(&sb, "ARGV[1..5] id=%s record=%s recordms=%s bytes=%s moves=%s\n", text(a[0]), text(a[1]), text(a[2]), text(a[3]), text(a[4]))
	for i := 5; i < len(a); {
		n := 0
		fmt.Sscan(text(a[i+1]), &n)
		fmt.Fprintf(&sb, "ARGV[%d] %s/%d:", i+1, text(a[i]), n)
		for _, w := range a[i+2 : i+2+n] {
			sb.WriteString(" " + text(w))
		}
		sb.WriteByte('\n')
		i += 2 + n
	}
	for i, in := range p.Instrs {
		if in.Owner != nil || in.Desc != "" {
			fmt.Fprintf(&sb, "# instruction %d belongs to %s\n", i+1, in.Describe())
		}
	}
	return sb.String()
}

func text(w any) string {
	s, ok := w.(string)
	if !ok {
		return fmt.Sprintf("<%T %v>", w, w)
	}
	return quote(s)
}

// goldenCases builds one program per emitter, and programs of the modes,
// lifetimes, records, budgets and several models.
func goldenCases(t *testing.T) map[string]func() *Program {
	const root = "account:{ada}"
	at := accountTarget(t, root)
	hist, lim, roles := at.CollectionKeys()[0], at.CollectionKeys()[1], at.CollectionKeys()[2]
	one := func(emit func(b *Builder)) func() *Program {
		return func() *Program {
			b := NewBuilder()
			b.Declare(at, Need)
			emit(b)
			return b.Build(Header{})
		}
	}
	cases := map[string]func() *Program{
		"GuardVersion": one(func(b *Builder) { b.GuardVersion(root, "7") }),
		"GuardPred": one(func(b *Builder) {
			// And(AtLeast(balance, 10), Not(Member(roles, "admin")), AtMost(Size(limits), 50), Below(TextLen(owner), 64))
			b.GuardPred(root, "and", "4", "", "", "", "",
				root, "cmp", "balance", "int", "ge", "10", "0",
				root, "not", "1", "", "", "", "",
				roles, "has", "set", "", "", "admin", "",
				lim, "len", "hash", "", "le", "50", "",
				root, "len", "text", "owner", "lt", "64", "")
		}),
		"Pred": one(func(b *Builder) {
			// Or(Element(history, "x"), Below(Len(history), 50))
			b.Pred(root, "or", "2", "", "", "", "",
				hist, "has", "list", "", "", "x", "",
				hist, "len", "list", "", "lt", "50", "")
		}),
		"GuardLock": one(func(b *Builder) { b.GuardLock("lock:account:{ada}", "tok") }),
		"HSet":      one(func(b *Builder) { b.HSet(root, "owner", "Ada Lovelace", "balance", "10") }),
		"HDel":      one(func(b *Builder) { b.HDel(root, "owner", "balance") }),
		"Incr":      one(func(b *Builder) { b.Incr(root, "balance", "-5", "-9223372036854775808", "9223372036854775807") }),
		"IncrFloat": one(func(b *Builder) { b.IncrFloat(root, "balance", "0.5", "1.7976931348623157e+308") }),
		"Arith": one(func(b *Builder) {
			b.Arith(root, "balance", "floordiv", "int", "-9223372036854775808", "9223372036854775807", "3")
		}),
		"AppendText": one(func(b *Builder) { b.AppendText(root, "owner", " (1815)") }),
		"RepeatText": one(func(b *Builder) { b.RepeatText(root, "owner", "2") }),
		"AddTime":    one(func(b *Builder) { b.AddTime(root, "owner", "3600", "500") }),
		"RPush":      one(func(b *Builder) { b.RPush(root, hist, "a", "b", "") }),
		"LPush":      one(func(b *Builder) { b.LPush(root, hist, "z") }),
		"RPop":       one(func(b *Builder) { b.RPop(root, hist) }),
		"LPop":       one(func(b *Builder) { b.LPop(root, hist) }),
		"PopAt":      one(func(b *Builder) { b.PopAt(root, hist, "-2") }),
		"LSet":       one(func(b *Builder) { b.LSet(root, hist, "0", "first") }),
		"LInsert":    one(func(b *Builder) { b.LInsert(root, hist, "1", "second") }),
		"LDelRange":  one(func(b *Builder) { b.LDelRange(root, hist, "1", "") }),
		"LTrim":      one(func(b *Builder) { b.LTrim(root, hist, "0", "10") }),
		"LRem":       one(func(b *Builder) { b.LRem(root, hist, "0", "a") }),
		"LMove":      one(func(b *Builder) { b.LMove(root, hist, root, hist, "LEFT", "RIGHT") }),
		"Len":        one(func(b *Builder) { b.Len(root, lim, "hash") }),
		"Clear":      one(func(b *Builder) { b.Clear(root, roles, "set") }),
		"MSet":       one(func(b *Builder) { b.MSet(root, lim, "daily", "100", "weekly", "500") }),
		"MDel":       one(func(b *Builder) { b.MDel(root, lim, "daily") }),
		"MPop":       one(func(b *Builder) { b.MPop(root, lim, "daily") }),
		"MPopAny":    one(func(b *Builder) { b.MPopAny(root, lim) }),
		"MGet":       one(func(b *Builder) { b.MGet(root, lim, "weekly") }),
		"SAdd":       one(func(b *Builder) { b.SAdd(root, roles, "admin", "ops") }),
		"SRem":       one(func(b *Builder) { b.SRem(root, roles, "ops") }),
		"Reset":      one(func(b *Builder) { b.Reset(root) }),
		"Drop":       one(func(b *Builder) { b.Drop(root, hist, "list", lim, "hash", roles, "set") }),
		"Unlock":     one(func(b *Builder) { b.Unlock("lock:account:{ada}", "tok", "rapyer:wake:lock:account:{ada}") }),
		// the ops of issue #12 item 8
		"MIncr": one(func(b *Builder) {
			b.MIncr(root, lim, "daily", "int", "5", "-9223372036854775808", "9223372036854775807")
		}),
	}
	// the modes of a model
	cases["mode-skip"] = func() *Program {
		b := NewBuilder()
		b.Declare(at, Skip)
		b.Incr(root, "balance", "1", "0", "100")
		return b.Build(Header{})
	}
	cases["mode-fresh"] = func() *Program {
		b := NewBuilder()
		b.Declare(at, Fresh)
		b.HSet(root, "owner", "ada")
		return b.Build(Header{})
	}
	cases["mode-create"] = func() *Program {
		// a replace: the model need not exist, and every collection key is
		// listed
		b := NewBuilder()
		b.Declare(at, Need)
		b.Creates(root)
		b.Reset(root)
		b.HSet(root, "owner", "ada", "balance", "0")
		b.Clear(root, hist, "list")
		return b.Build(Header{})
	}
	cases["mode-create-required"] = func() *Program {
		b := NewBuilder()
		b.Declare(at, Need)
		b.Creates(root)
		b.Require(root)
		b.Reset(root)
		return b.Build(Header{})
	}
	cases["ttl-set"] = func() *Program {
		b := NewBuilder()
		b.Declare(at, Need)
		b.Lifetime(root, SetTTL, 60000)
		b.HSet(root, "owner", "ada")
		return b.Build(Header{})
	}
	cases["ttl-persist"] = func() *Program {
		b := NewBuilder()
		b.Declare(at, Need)
		b.Lifetime(root, Persist, 0)
		return b.Build(Header{})
	}
	cases["record-and-budget"] = func() *Program {
		b := NewBuilder()
		b.Declare(at, Need)
		b.Owner(described("Incr(balance, 1)"), "")
		b.Incr(root, "balance", "1", "0", "100")
		b.Owner(nil, "Append(history, \"x\")")
		b.RPush(root, hist, "x")
		return b.Build(Header{ID: "b1d", Record: "account:{ada}:tx:b1d", RecordMS: 10000, Bytes: 1 << 20, Moves: 50000})
	}
	cases["Ensure"] = func() *Program {
		// CreateIfMissing after a guard and an increment: its instruction
		// goes before them, and the model need not exist (mode create);
		// a second model's instructions keep their order
		bt := accountTarget(t, "account:{ada}:bob")
		b := NewBuilder()
		b.Declare(at, Need)
		b.Owner(described("Require(AtMost(balance, 9))"), "")
		b.GuardPred(root, "cmp", "balance", "int", "le", "9", "0")
		b.Declare(bt, Need)
		b.Owner(described("Incr(balance, 1)"), "")
		b.Incr(bt.Root, "balance", "1", "0", "100")
		b.Declare(at, Need)
		b.Owner(described("Incr(balance, 1)"), "")
		b.Incr(root, "balance", "1", "0", "100")
		b.Owner(described("CreateIfMissing(account)"), "")
		b.Ensure(root, "10000", "owner", "", "balance", "0")
		b.Declare(bt, Need)
		b.Owner(described("CreateIfMissing(account)"), "")
		b.Ensure(bt.Root, "0")
		return b.Build(Header{})
	}
	cases["Index"] = func() *Program {
		// a model of an indexed type: its ix instruction follows its
		// declaration, before its ops
		set := index.NewSet("account", []index.Field{{Name: "owner", Kind: 's', Use: 'u'}, {Name: "balance", Kind: 'i', Use: 'o'}, {Name: "roles", Kind: 's', Use: 'm', Coll: "set"}}, 1, nil)
		it := accountTarget(t, "account:{account#0}:{ada}")
		it.Index = set.Of("ada")
		b := NewBuilder()
		b.Declare(it, Need)
		b.Owner(described("Incr(balance, 1)"), "")
		b.Incr(it.Root, "balance", "1", "0", "100")
		return b.Build(Header{})
	}
	cases["multi-model"] = func() *Program {
		// two models of one slot: a transfer, and a move between them;
		// the second declaration of a root is ignored
		bt := accountTarget(t, "account:{ada}:bob")
		b := NewBuilder()
		b.Declare(at, Need)
		b.Declare(bt, Skip)
		b.Declare(at, Skip)
		b.GuardPred(root, "cmp", "balance", "int", "ge", "10", "0")
		b.Incr(root, "balance", "-10", "0", "1000")
		b.Incr(bt.Root, "balance", "10", "0", "1000")
		b.LMove(root, hist, bt.Root, bt.CollectionKeys()[0], "RIGHT", "LEFT")
		return b.Build(Header{ID: "t1", Record: "account:{ada}:tx:t1", RecordMS: 5000})
	}
	return cases
}

// TestGoldenPrograms compares every golden program with its file, and
// makes sure each opcode's emitter has one.
func TestGoldenPrograms(t *testing.T) {
	cases := goldenCases(t)
	for _, l := range table {
		if l.method != "" && cases[l.method] == nil {
			t.Errorf("no golden program for %s (%q)", l.method, l.name)
		}
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			got := render(build())
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("program %s differs from %s:\ngot:\n%s\nwant:\n%s", name, path, got, want)
			}
		})
	}
}

// TestLargeProgram: past manyKeys keys the builder indexes them; the layout
// is the same as a linear search gives.
func TestLargeProgram(t *testing.T) {
	at := accountTarget(t, "account:{ada}")
	b := NewBuilderFor(40)
	b.Declare(at, Need)
	for i := range 40 {
		key := fmt.Sprintf("account:{ada}:k%d", i%20)
		b.RPush(at.Root, key, "v")
	}
	p := b.Build(Header{})
	if len(p.Keys) != 21 {
		t.Fatalf("%d keys, want 21: %q", len(p.Keys), p.Keys)
	}
	for i, in := range p.Instrs {
		idx := p.Argv[5+6+i*5+3] // after the header and the model declaration: rpush 3 root key v
		if want := fmt.Sprint(2 + i%20); idx != want {
			t.Fatalf("instruction %d (%v) sends key index %v, want %s", i, in.Args, idx, want)
		}
	}
}
