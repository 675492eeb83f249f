package codec_test

import (
	"fmt"
	"slices"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/prog"
)

// TestEmitDiffOfLists: a lock save writes a changed list by the cheapest
// form that gives the same list: an unchanged list nothing, a list that
// grew at its end RPUSH of the tail, one cut at its end LTRIM, a few changed
// elements LSET each (a lock save that changed one element of a 2M-element
// list rewrote it whole, holding the server 1.1-1.3 s); only a list with
// many changed elements is replaced.
func TestEmitDiffOfLists(t *testing.T) {
	target := profileTarget(t)
	key := target.Root + ":tags"
	tags := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("t%d", i)
		}
		return out
	}
	edit := func(l []string, f func(l []string) []string) []string { return f(slices.Clone(l)) }
	hundred := tags(100)
	lset := func(i int, v string) string {
		return fmt.Sprintf("lset [%q %q %q %q]", target.Root, key, fmt.Sprint(i), v)
	}
	cases := []struct {
		name          string
		before, after []string
		want          []string
	}{
		{"unchanged", hundred, tags(100), []string{}},
		{"one element changed", hundred, edit(hundred, func(l []string) []string { l[50] = "x"; return l }), []string{lset(50, "x")}},
		{"the first and the last changed", hundred, edit(hundred, func(l []string) []string { l[0], l[99] = "a", "z"; return l }),
			[]string{lset(0, "a"), lset(99, "z")}},
		{"grew at the end", hundred, append(tags(100), "n1", "n2"), []string{fmt.Sprintf("rpush [%q %q \"n1\" \"n2\"]", target.Root, key)}},
		{"cut at the end", hundred, tags(60), []string{fmt.Sprintf("ltrim [%q %q \"0\" \"60\"]", target.Root, key)}},
		{"one changed and grew", hundred, edit(hundred, func(l []string) []string { l[3] = "x"; return append(l, "n") }),
			[]string{lset(3, "x"), fmt.Sprintf("rpush [%q %q \"n\"]", target.Root, key)}},
		{"one changed and cut", hundred, edit(hundred, func(l []string) []string { l[3] = "x"; return l[:10] }),
			[]string{lset(3, "x"), fmt.Sprintf("ltrim [%q %q \"0\" \"10\"]", target.Root, key)}},
		{"six of a hundred changed", hundred, edit(hundred, func(l []string) []string {
			for i := range 6 {
				l[i*10] = "x"
			}
			return l
		}), []string{lset(0, "x"), lset(10, "x"), lset(20, "x"), lset(30, "x"), lset(40, "x"), lset(50, "x")}},
		{"an insert at the front shifts every element: replaced", tags(7), append([]string{"x"}, tags(7)...),
			[]string{fmt.Sprintf("clear [%q %q \"list\"]", target.Root, key),
				fmt.Sprintf("rpush [%q %q \"x\" \"t0\" \"t1\" \"t2\" \"t3\" \"t4\" \"t5\" \"t6\"]", target.Root, key)}},
		{"in a short list, up to 4 set one by one", tags(3), []string{"x", "t0", "t1", "t2"},
			[]string{lset(0, "x"), lset(1, "t0"), lset(2, "t1"), fmt.Sprintf("rpush [%q %q \"t2\"]", target.Root, key)}},
		{"emptied", hundred, nil, []string{fmt.Sprintf("clear [%q %q \"list\"]", target.Root, key)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, after := newProfile(), newProfile()
			before.Tags, after.Tags = c.before, c.after
			b := prog.NewBuilder()
			b.Declare(target, prog.Need)
			if err := codec.EmitDiff(b, target, unsafe.Pointer(&before), unsafe.Pointer(&after)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, render(b.Instrs())); diff != "" {
				t.Errorf("EmitDiff (-want +got):\n%s", diff)
			}
		})
	}
	// The threshold: ListSetMax(100) = 6 changed elements are set one by
	// one, 7 replace the list.
	if codec.ListSetMax(100) != 6 || codec.ListSetMax(10) != 4 {
		t.Fatalf("ListSetMax(100) = %d, ListSetMax(10) = %d", codec.ListSetMax(100), codec.ListSetMax(10))
	}
	before, after := newProfile(), newProfile()
	before.Tags = hundred
	after.Tags = edit(hundred, func(l []string) []string {
		for i := range 7 {
			l[i] = "x"
		}
		return l
	})
	b := prog.NewBuilder()
	b.Declare(target, prog.Need)
	if err := codec.EmitDiff(b, target, unsafe.Pointer(&before), unsafe.Pointer(&after)); err != nil {
		t.Fatal(err)
	}
	if got := render(b.Instrs()); len(got) != 2 || got[0] != fmt.Sprintf("clear [%q %q \"list\"]", target.Root, key) {
		t.Fatalf("7 of 100 changed: %q; want the list replaced", got)
	}
}
