package ops_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// renders is what every op constructor of package ops renders to, bound to
// the model at m:{1}: its String, and the interpreter instructions
// tx.Batch.Commands shows (one a line, keys resolved). No server is involved.
var renders = []struct {
	op   ops.Op
	str  string
	cmds string
}{
	// numbers
	{ops.Set(Balance, 3), `Set(balance, 3)`, "hset m:{1} balance 3\n"},
	{ops.Set(Note, "two words"), `Set(note, "two words")`, "hset m:{1} note \"two words\"\n"},
	{ops.Set(Nick, nil), `Set(nick, <nil>)`, "hdel m:{1} nick\n"},
	{ops.Set(Nick, ptr("n")), `Set(nick, "n")`, "hset m:{1} nick n\n"},
	{ops.Set(Home, Address{Street: "Main", City: "Oslo"}), `Set(home, {Main Oslo})`,
		"hdel m:{1} home.street home.city\nhset m:{1} home.street Main home.city Oslo\n"},
	{ops.Set(History, []string{"a", "b"}), `Set(history, [a b])`,
		"clear m:{1} m:{1}:history list\nrpush m:{1} m:{1}:history a b\n"},
	{ops.Set(Limits, map[string]int{"day": 1}), `Set(limits, map[day:1])`,
		"clear m:{1} m:{1}:limits hash\nmset m:{1} m:{1}:limits day 1\n"},
	{ops.Set(Flags, set("x")), `Set(flags, map[x:{}])`,
		"clear m:{1} m:{1}:flags set\nsadd m:{1} m:{1}:flags x\n"},
	{ops.Incr(Balance, 10), `Incr(balance, 10)`, "incr m:{1} balance 10 -9223372036854775808 9223372036854775807\n"},
	{ops.Incr(Small, 1), `Incr(small, 1)`, "incr m:{1} small 1 -128 127\n"},
	{ops.Incr(Ratio, 0.5), `Incr(ratio, 0.5)`, "incrf m:{1} ratio 0.5 1.7976931348623157e+308\n"},
	{ops.Decr(Balance, 2), `Decr(balance, 2)`, "incr m:{1} balance -2 -9223372036854775808 9223372036854775807\n"},
	{ops.Decr(Count, 2), `Decr(count, 2)`, "incr m:{1} count -2 0 9223372036854775807\n"},
	{ops.Decr(Ratio, 0.25), `Decr(ratio, 0.25)`, "incrf m:{1} ratio -0.25 1.7976931348623157e+308\n"},
	{ops.Mul(Balance, 3), `Mul(balance, 3)`, "arith m:{1} balance mul int -9223372036854775808 9223372036854775807 3\n"},
	{ops.FloorDiv(Balance, -2), `FloorDiv(balance, -2)`, "arith m:{1} balance floordiv int -9223372036854775808 9223372036854775807 -2\n"},
	{ops.Mod(Small, 3), `Mod(small, 3)`, "arith m:{1} small mod int -128 127 3\n"},
	{ops.Pow(Ratio, 0.5), `Pow(ratio, 0.5)`, "arith m:{1} ratio pow float 0 1.7976931348623157e+308 0.5\n"},
	{ops.Max(Big, 10), `Max(big, 10)`, "arith m:{1} big max int -9223372036854775808 9223372036854775807 10\n"},
	{ops.Min(Count, 1), `Min(count, 1)`, "arith m:{1} count min int 0 9223372036854775807 1\n"},
	// text
	{ops.AppendText(Note, "x y"), `AppendText(note, "x y")`, "sappend m:{1} note \"x y\"\n"},
	{ops.AppendText(Blob, []byte("\x00b")), `AppendText(blob, "\x00b")`, "sappend m:{1} blob \"\\x00b\"\n"},
	{ops.Repeat(Note, 3), `Repeat(note, 3)`, "srepeat m:{1} note 3\n"},
	{ops.Repeat(Blob, 0), `Repeat(blob, 0)`, "srepeat m:{1} blob 0\n"},
	// time
	{ops.AddDuration(When, 36*time.Hour+5), `AddDuration(when, 36h0m0.000000005s)`, "tadd m:{1} when 129600 5\n"},
	{ops.AddDuration(When, -1500*time.Millisecond), `AddDuration(when, -1.5s)`, "tadd m:{1} when -1 -500000000\n"},
	// lists
	{ops.Append(History, "a", "b"), `Append(history, "a", "b")`, "rpush m:{1} m:{1}:history a b\n"},
	{ops.Append(Items, Item{SKU: "s", Qty: 2}), `Append(items, {s 2})`, "rpush m:{1} m:{1}:items \"{\\\"sku\\\":\\\"s\\\",\\\"qty\\\":2}\"\n"},
	{ops.Prepend(History, "x", "y"), `Prepend(history, "x", "y")`, "lpush m:{1} m:{1}:history x y\n"},
	{ops.InsertAt(History, -1, "z"), `InsertAt(history, -1, "z")`, "linsert m:{1} m:{1}:history -1 z\n"},
	{ops.PopLast(History), `PopLast(history)`, "rpop m:{1} m:{1}:history\n"},
	{ops.PopFirst(History), `PopFirst(history)`, "lpop m:{1} m:{1}:history\n"},
	{ops.PopAt(History, -2), `PopAt(history, -2)`, "popat m:{1} m:{1}:history -2\n"},
	{ops.SetAt(History, 1, "B"), `SetAt(history, 1, "B")`, "lset m:{1} m:{1}:history 1 B\n"},
	{ops.RemoveRange(History, 1, ops.End), `RemoveRange(history, 1, End)`, "ldelrange m:{1} m:{1}:history 1 \"\"\n"},
	{ops.RemoveRange(History, -3, -1), `RemoveRange(history, -3, -1)`, "ldelrange m:{1} m:{1}:history -3 -1\n"},
	{ops.Trim(History, -2, 10), `Trim(history, -2, 10)`, "ltrim m:{1} m:{1}:history -2 10\n"},
	{ops.Trim(History, 0, ops.End), `Trim(history, 0, End)`, "ltrim m:{1} m:{1}:history 0 \"\"\n"},
	{ops.Remove(History, "a"), `Remove(history, "a")`, "lrem m:{1} m:{1}:history 1 a\n"},
	{ops.RemoveAll(History, "a"), `RemoveAll(history, "a")`, "lrem m:{1} m:{1}:history 0 a\n"},
	{ops.Len(History), `Len(history)`, "len m:{1} m:{1}:history list\n"},
	{ops.Size(Limits), `Size(limits)`, "len m:{1} m:{1}:limits hash\n"},
	{ops.Size(Flags), `Size(flags)`, "len m:{1} m:{1}:flags set\n"},
	{ops.Clear(History), `Clear(history)`, "clear m:{1} m:{1}:history list\n"},
	{ops.ClearItems(Flags), `ClearItems(flags)`, "clear m:{1} m:{1}:flags set\n"},
	{ops.Move(History, ops.Last, Queue, ops.First), `Move(history RIGHT -> queue LEFT)`,
		"lmove m:{1} m:{1}:history m:{1} m:{1}:queue RIGHT LEFT\n"},
	// maps
	{ops.SetItem(Limits, "day", 5), `SetItem(limits, "day", 5)`, "mset m:{1} m:{1}:limits day 5\n"},
	{ops.SetItems(Limits, map[string]int{"a": 1}), `SetItems(limits, "a", 1)`, "mset m:{1} m:{1}:limits a 1\n"},
	{ops.DeleteItems(Limits, "a", "b"), `DeleteItems(limits, "a", "b")`, "mdel m:{1} m:{1}:limits a b\n"},
	{ops.PopItem(Limits, "a", -1), `PopItem(limits, "a")`, "mpop m:{1} m:{1}:limits a\n"},
	{ops.GetItem(Limits, "a"), `GetItem(limits, "a")`, "mget m:{1} m:{1}:limits a\n"},
	{ops.PopAnyItem(Limits), `PopAnyItem(limits)`, "mpopany m:{1} m:{1}:limits\n"},
	// sets
	{ops.Add(Flags, "x", "y"), `Add(flags, "x", "y")`, "sadd m:{1} m:{1}:flags x y\n"},
	{ops.Discard(Flags, "x"), `Discard(flags, "x")`, "srem m:{1} m:{1}:flags x\n"},
	// variadic ops given nothing do nothing
	{ops.Add(Flags), `Add(flags)`, ""},
	{ops.Discard(Flags), `Discard(flags)`, ""},
	{ops.Append(History), `Append(history)`, ""},
	{ops.Prepend(History), `Prepend(history)`, ""},
	{ops.DeleteItems(Limits), `DeleteItems(limits)`, ""},
	{ops.SetItems(Limits, nil), `SetItems(limits)`, ""},
	// the model
	{ops.Replace(Acct{Owner: "o", History: []string{"h"}, Flags: set("f")}), `Replace(Acct)`,
		"reset m:{1}\n" +
			"hset m:{1} owner o balance 0 small 0 big 0 count 0 ratio 0 note \"\" blob \"\" when 0001-01-01T00:00:00Z flag false home.street \"\" home.city \"\"\n" +
			"clear m:{1} m:{1}:history list\n" +
			"clear m:{1} m:{1}:queue list\n" +
			"clear m:{1} m:{1}:items list\n" +
			"clear m:{1} m:{1}:limits hash\n" +
			"clear m:{1} m:{1}:flags set\n" +
			"rpush m:{1} m:{1}:history h\n" +
			"sadd m:{1} m:{1}:flags f\n"},
	{ops.Delete[Acct](), `Delete(Acct)`, "drop m:{1} m:{1}:history list m:{1}:queue list m:{1}:items list m:{1}:limits hash m:{1}:flags set\n"},
	// Expire, Persist and Exists change how the model is declared to the
	// interpreter (its lifetime, whether it must exist), not its data: they
	// emit no instruction.
	{ops.Expire[Acct](time.Second), `Expire(Acct, 1s)`, ""},
	{ops.Persist[Acct](), `Persist(Acct)`, ""},
	// guards and checks: predicates of package is
	{ops.Require(is.Equal(Owner, "ann")), `Require(Equal(owner, "ann"))`, "gpred m:{1} cmp owner string eq ann \"\"\n"},
	{ops.Require(is.NotEqual(Flag, true)), `Require(NotEqual(flag, true))`, "gpred m:{1} cmp flag string ne true false\n"},
	{ops.Require(is.Below(Ratio, 1.5)), `Require(Below(ratio, 1.5))`, "gpred m:{1} cmp ratio float lt 1.5 0\n"},
	{ops.Require(is.AtMost(When, time.Date(2024, 2, 29, 0, 0, 0, 5, time.UTC))), `Require(AtMost(when, 2024-02-29T00:00:00.000000005Z))`, "gpred m:{1} cmp when time le 2024-02-29T00:00:00.000000005Z 0001-01-01T00:00:00Z\n"},
	{ops.Require(is.Above(Note, "m")), `Require(Above(note, "m"))`, "gpred m:{1} cmp note string gt m \"\"\n"},
	{ops.Require(is.AtLeast(Balance, 100)), `Require(AtLeast(balance, 100))`, "gpred m:{1} cmp balance int ge 100 0\n"},
	{ops.Require(is.In(Owner, "ann", "bob")), `Require(In(owner, "ann", "bob"))`, "gpred m:{1} or 2 \"\" \"\" \"\" \"\" m:{1} cmp owner string eq ann \"\" m:{1} cmp owner string eq bob \"\"\n"},
	{ops.Require(is.Below(is.Len(History), 5)), `Require(Below(Len(history), 5))`, "gpred m:{1}:history len list \"\" lt 5 \"\"\n"},
	{ops.Require(is.AtLeast(is.Size(Flags), 1)), `Require(AtLeast(Size(flags), 1))`, "gpred m:{1}:flags len set \"\" ge 1 \"\"\n"},
	{ops.Require(is.Key(Limits, "k")), `Require(Key(limits, "k"))`, "gpred m:{1}:limits has hash \"\" \"\" k \"\"\n"},
	{ops.Require(is.Not(is.Member(Flags, "x"))), `Require(Not(Member(flags, "x")))`, "gpred m:{1} not 1 \"\" \"\" \"\" \"\" m:{1}:flags has set \"\" \"\" x \"\"\n"},
	{ops.Require(is.Element(History, "q")), `Require(Element(history, "q"))`, "gpred m:{1}:history has list \"\" \"\" q \"\"\n"},
	{ops.Require(is.Or(is.And(is.Above(Balance, 0), is.Member(Flags, "x")), is.Equal(Owner, "root"))),
		`Require(Or(And(Above(balance, 0), Member(flags, "x")), Equal(owner, "root")))`, "gpred m:{1} or 2 \"\" \"\" \"\" \"\" m:{1} and 2 \"\" \"\" \"\" \"\" m:{1} cmp balance int gt 0 0 m:{1}:flags has set \"\" \"\" x \"\" m:{1} cmp owner string eq root \"\"\n"},
	{ops.Check(is.Key(Limits, "k")), `Check(Key(limits, "k"))`, "pred m:{1}:limits has hash \"\" \"\" k \"\"\n"},
	{ops.Check(is.Not(is.Element(History, "q"))), `Check(Not(Element(history, "q")))`, "pred m:{1} not 1 \"\" \"\" \"\" \"\" m:{1}:history has list \"\" \"\" q \"\"\n"},
	{ops.VersionIs[Acct](4), `VersionIs(4)`, "gver m:{1} 4\n"},
	{ops.Exists[Acct](), `Exists()`, ""},
}

func TestEveryOpRendersWithoutAServer(t *testing.T) {
	target := tx.At[Acct]("m:{1}")
	for _, r := range renders {
		t.Run(r.str, func(t *testing.T) {
			if got := r.op.String(); got != r.str {
				t.Errorf("String() = %s, want %s", got, r.str)
			}
			got, err := tx.Of(r.op).On(target).Commands()
			if err != nil {
				t.Fatalf("Commands: %v", err)
			}
			if got != r.cmds {
				t.Errorf("Commands() =\n%s\nwant\n%s", got, r.cmds)
			}
		})
	}
}

// TestRenderTableCoversEveryConstructor reads the source of package ops and
// fails when an exported function that makes an op has no row in renders,
// so that a new op cannot go without a rendering test.
func TestRenderTableCoversEveryConstructor(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// Ops tested with the locks they fence or release (package rapyer).
	elsewhere := []string{"Diff", "Fenced", "Unlock"}
	fset := token.NewFileSet()
	var missing []string
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !fn.Name.IsExported() || fn.Type.Results == nil || slices.Contains(elsewhere, fn.Name.Name) {
				continue
			}
			found++
			name := fn.Name.Name
			covered := slices.ContainsFunc(renders, func(r struct {
				op   ops.Op
				str  string
				cmds string
			}) bool {
				return strings.HasPrefix(r.str, name+"(")
			})
			if !covered {
				missing = append(missing, name)
			}
		}
	}
	if found < 40 {
		t.Fatalf("found only %d exported constructors in package ops: is the test running in its directory?", found)
	}
	if len(missing) > 0 {
		t.Fatalf("ops without a row in the render table: %v", missing)
	}
}

func TestBatchRendersInOrderWithItsTargets(t *testing.T) {
	b := tx.Join(
		tx.Of(ops.Require(is.AtLeast(Balance, 100)), ops.Decr(Balance, 100), ops.Append(History, "withdraw:100")),
		tx.On(tx.At[Acct]("m:{2}"), ops.Incr(Balance, 100)),
	)
	if got, want := b.String(), "Require(AtLeast(balance, 100))\nDecr(balance, 100)\nAppend(history, \"withdraw:100\")\nm:{2}: Incr(balance, 100)\n"; got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	got, err := b.On(tx.At[Acct]("m:{1}")).Commands()
	if err != nil {
		t.Fatal(err)
	}
	want := "gpred m:{1} cmp balance int ge 100 0\n" +
		"incr m:{1} balance -100 -9223372036854775808 9223372036854775807\n" +
		"rpush m:{1} m:{1}:history withdraw:100\n" +
		"incr m:{2} balance 100 -9223372036854775808 9223372036854775807\n"
	if got != want {
		t.Errorf("Commands() =\n%s\nwant\n%s", got, want)
	}
	// Batches are values: rendering twice, or after Then, changes nothing.
	again, _ := b.On(tx.At[Acct]("m:{1}")).Commands()
	more := b.Then(ops.Len(History))
	if again != got || b.Len() != 4 || more.Len() != 5 {
		t.Errorf("rendering or Then changed the batch: %d ops, %d after Then", b.Len(), more.Len())
	}
}

// TestBadOpsFailWithTypedErrors: ops that cannot run fail when the batch is
// compiled, before anything is sent, with errors errors.Is can tell apart;
// Commands returns the error Exec would.
func TestBadOpsFailWithTypedErrors(t *testing.T) {
	acct := tx.At[Acct]("m:{1}")
	var zeroInt lens.Field[Acct, int]
	var zeroList lens.Field[Acct, []string]
	cases := []struct {
		name   string
		batch  tx.Batch
		target tx.Target
		err    error
		text   string // the message names the op and the reason
	}{
		// fields of the wrong kind (most do not compile: see compile_test.go)
		{"Equal on a pointer via Or", tx.Of(ops.Incr(Balance, 1), ops.Require(is.Or(is.Equal(Nick, ptr("n"))))), acct, rapyer.ErrInvalid, "Require(Or(Equal(nick"},
		{"Equal on a pointer", tx.Of(ops.Require(is.Equal(Nick, ptr("n")))), acct, rapyer.ErrInvalid, "non-pointer"},
		{"Move with a bad side", tx.Of(ops.Move(History, ops.Side("MIDDLE"), Queue, ops.First)), acct, rapyer.ErrInvalid, "First or Last"},
		// invalid (zero) lenses
		{"Incr on a zero lens", tx.Of(ops.Incr(zeroInt, 1)), acct, rapyer.ErrInvalid, "Incr"},
		{"Append on a zero lens", tx.Of(ops.Append(zeroList, "x")), acct, rapyer.ErrInvalid, "Append"},
		{"Set on a zero lens", tx.Of(ops.Set(zeroInt, 1)), acct, rapyer.ErrInvalid, "Set"},
		{"AtLeast on a zero lens", tx.Of(ops.Require(is.AtLeast(zeroInt, 1))), acct, rapyer.ErrInvalid, "AtLeast"},
		// ops of another model type
		{"Incr of Other on Acct", tx.Of(ops.Incr(OtherBalance, 1)), acct, rapyer.ErrInvalid, "ops_test.Other is bound to a ops_test.Acct model"},
		{"Delete of Other on Acct", tx.Of(ops.Delete[Other]()), acct, rapyer.ErrInvalid, "ops_test.Other is bound to another model"},
		{"Replace of Other on Acct", tx.Of(ops.Replace(Other{Balance: 1})), acct, rapyer.ErrInvalid, "another model"},
		{"VersionIs of Other on Acct", tx.Of(ops.VersionIs[Other](1)), acct, rapyer.ErrInvalid, "another model"},
		{"Acct op bound to an Other target", tx.On(tx.At[Other]("o:{1}"), ops.Append(History, "x")), acct, rapyer.ErrInvalid, "Acct is bound to a ops_test.Other model"},
		// arguments out of their domain
		{"Repeat negative", tx.Of(ops.Repeat(Note, -1)), acct, rapyer.ErrInvalid, "negative count"},
		{"Incr by NaN", tx.Of(ops.Incr(Ratio, math.NaN())), acct, rapyer.ErrInvalid, "must be finite"},
		{"Mul by +Inf", tx.Of(ops.Mul(Ratio, math.Inf(1))), acct, rapyer.ErrInvalid, "must be finite"},
		{"Max with -Inf", tx.Of(ops.Max(Ratio, math.Inf(-1))), acct, rapyer.ErrInvalid, "must be finite"},
		{"Decr by NaN", tx.Of(ops.Decr(Ratio, math.NaN())), acct, rapyer.ErrInvalid, "must be finite"},
		{"Equal to NaN", tx.Of(ops.Require(is.Equal(Ratio, math.NaN()))), acct, rapyer.ErrInvalid, "NaN compares to nothing"},
		{"Below NaN", tx.Of(ops.Require(is.Below(Ratio, math.NaN()))), acct, rapyer.ErrInvalid, "NaN"},
		{"Expire negative", tx.Of(ops.Expire[Acct](-time.Second)), acct, rapyer.ErrInvalid, "at least a millisecond"},
		{"Expire under a millisecond", tx.Of(ops.Expire[Acct](time.Microsecond)), acct, rapyer.ErrInvalid, "at least a millisecond"},
		// a zero TTL (one left unset) is no Persist: it was run as one
		{"Expire zero", tx.Of(ops.Expire[Acct](0)), acct, rapyer.ErrInvalid, "at least a millisecond; use Persist"},
		{"Append a non-UTF-8 JSON element", tx.Of(ops.Append(Items, Item{SKU: "\xff"})), acct, rapyer.ErrInvalid, "not UTF-8"},
		{"Set a time of year 10000", tx.Of(ops.Set(When, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))), acct, rapyer.ErrInvalid, "year 10000"},
		// steps the server cannot take
		{"Decr by MinInt64", tx.Of(ops.Decr(Big, math.MinInt64)), acct, rapyer.ErrOverflow, "Decr(big"},
		{"Incr uint by more than MaxInt64", tx.Of(ops.Incr(Count, math.MaxInt64+1)), acct, rapyer.ErrOverflow, "HINCRBY"},
		{"Decr uint by more than MaxInt64", tx.Of(ops.Decr(Count, math.MaxUint64)), acct, rapyer.ErrOverflow, "Decr(count"},
		// batches and targets
		{"nil op", tx.Of(ops.Len(History), nil), acct, rapyer.ErrInvalid, "op 2 of the batch is nil"},
		{"empty root", tx.Of(ops.Len(History)), tx.At[Acct](""), rapyer.ErrInvalid, "empty root"},
		{"no target", tx.Of(ops.Len(History)), tx.Target{}, rapyer.ErrInvalid, "no target"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.batch.On(c.target).Commands()
			if !errors.Is(err, c.err) {
				t.Fatalf("Commands() = %q, %v; want an error wrapping %v", got, err, c.err)
			}
			if got != "" {
				t.Errorf("a failing batch rendered %q", got)
			}
			if !strings.Contains(err.Error(), c.text) {
				t.Errorf("error %q does not say %q", err, c.text)
			}
			if !strings.HasPrefix(err.Error(), c.err.Error()+": ") {
				t.Errorf("error %q does not start with %q", err, c.err.Error()+": ")
			}
			for _, op := range c.batch.Ops() {
				if n := strings.Count(err.Error(), fmt.Sprint(op)); op != nil && n > 1 {
					t.Errorf("error %q names %s %d times", err, op, n)
				}
			}
		})
	}
}
