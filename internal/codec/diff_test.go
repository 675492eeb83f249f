package codec_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/rapyer-go/rapyer/internal/codec"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
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

// scalars has a field of each kind a diff tells unchanged without encoding
// it (schema.Codec.SameAt), and two it encodes to compare.
type scalars struct {
	S  string
	B  bool
	I  int
	U8 uint8
	F4 float32
	F8 float64
	P  *int64
	T  time.Time
	Bs []byte
}

// TestEmitDiffOfScalars: a diff writes exactly the scalar fields whose
// text changed (one at a time here, each kind), removes a pointer field
// set to nil, and writes nothing for an unchanged value; -0 and 0, equal
// numbers of different texts, are a change.
func TestEmitDiffOfScalars(t *testing.T) {
	m, err := schema.For[scalars]()
	if err != nil {
		t.Fatal(err)
	}
	target := prog.Target{Root: "s:{x}", Model: m}
	seven := int64(7)
	base := func() scalars {
		return scalars{S: "a", B: true, I: 300, U8: 9, F4: 1.5, F8: 2.25, P: &seven, T: time.Unix(1e9, 0).UTC(), Bs: []byte("b")}
	}
	eight := int64(8)
	cases := []struct {
		name string
		edit func(*scalars)
		want []string
	}{
		{"unchanged", func(*scalars) {}, []string{}},
		{"unchanged, copies", func(s *scalars) { s.S = string([]byte("a")); s.Bs = []byte("b"); p := int64(7); s.P = &p }, []string{}},
		{"string", func(s *scalars) { s.S = "z" }, []string{`hset ["s:{x}" "s" "z"]`}},
		{"bool", func(s *scalars) { s.B = false }, []string{`hset ["s:{x}" "b" "false"]`}},
		{"int", func(s *scalars) { s.I = 301 }, []string{`hset ["s:{x}" "i" "301"]`}},
		{"uint8", func(s *scalars) { s.U8 = 10 }, []string{`hset ["s:{x}" "u8" "10"]`}},
		{"float32", func(s *scalars) { s.F4 = 1.75 }, []string{`hset ["s:{x}" "f4" "1.75"]`}},
		{"float64", func(s *scalars) { s.F8 = 2.5 }, []string{`hset ["s:{x}" "f8" "2.5"]`}},
		{"-0 after 0", func(s *scalars) { s.F8 = math.Copysign(0, -1) }, []string{`hset ["s:{x}" "f8" "-0"]`}},
		{"pointee", func(s *scalars) { s.P = &eight }, []string{`hset ["s:{x}" "p" "8"]`}},
		{"pointer to nil", func(s *scalars) { s.P = nil }, []string{`hdel ["s:{x}" "p"]`}},
		{"time", func(s *scalars) { s.T = s.T.Add(time.Second) }, []string{`hset ["s:{x}" "t" "2001-09-09T01:46:41Z"]`}},
		{"bytes", func(s *scalars) { s.Bs = []byte("c") }, []string{`hset ["s:{x}" "bs" "c"]`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, after := base(), base()
			if c.name == "-0 after 0" {
				before.F8 = 0
			}
			c.edit(&after)
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
}
