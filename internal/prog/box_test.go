package prog

import (
	"fmt"
	"testing"
	"unsafe"
)

// TestBoxedWordsSurviveGrowth holds the words boxed in place (box.go) to
// the texts they were made of: a one-op builder whose words, texts and
// keys outgrow the room in the builder, and Grow in the middle, must still
// send every text, key and batch id as given.
func TestBoxedWordsSurviveGrowth(t *testing.T) {
	for _, grow := range []int{0, 6, 100} {
		at := accountTarget(t, "account:{ada}")
		b := NewBuilderFor(1)
		b.Declare(at, Need)
		var pairs []string
		for i := range 30 {
			pairs = append(pairs, fmt.Sprintf("f%d", i), fmt.Sprintf("value %d", i))
		}
		b.HSet(at.Root, pairs[:10]...)
		b.Grow(grow)
		b.HSet(at.Root, pairs[10:]...)
		for i := range 10 { // keys past the builder's room
			b.RPush(at.Root, fmt.Sprintf("account:{ada}:k%d", i), "v")
		}
		p := b.Build(Header{ID: fmt.Sprint("id", grow)})
		if p.Argv[0] != fmt.Sprint("id", grow) {
			t.Fatalf("grow %d: batch id %v", grow, p.Argv[0])
		}
		for i, k := range p.Keys {
			if got := p.Command()[3+i]; got != k {
				t.Fatalf("grow %d: KEYS[%d] sent as %v, want %s", grow, i+1, got, k)
			}
		}
		// after the header and the declaration: hset n root pairs...
		w := p.Argv[5+6:]
		for j, s := range pairs[:10] {
			if w[3+j] != s {
				t.Fatalf("grow %d: word %d of the first hset is %v, want %s", grow, j, w[3+j], s)
			}
		}
		w = w[3+10:]
		for j, s := range pairs[10:] {
			if w[3+j] != s {
				t.Fatalf("grow %d: word %d of the second hset is %v, want %s", grow, j, w[3+j], s)
			}
		}
		if got := p.Instrs[1].Args[1:]; fmt.Sprint(got) != fmt.Sprint(pairs[10:]) {
			t.Fatalf("grow %d: Args %q", grow, got)
		}
	}
}

// TestBuilderSizeClass holds the builder, with its malloc header, to the
// 1,792-byte size class every compiled batch allocates: the next class is
// 2,048 bytes (a field of one word more cost a model Lock's save 256).
func TestBuilderSizeClass(t *testing.T) {
	const header = 8 // Go's malloc header of an object over 512 bytes with pointers
	if n := unsafe.Sizeof(Builder{}) + header; n > 1792 {
		t.Fatalf("a Builder takes %d bytes with its header, over the 1,792-byte size class", n)
	}
}

// TestBuildTwice: the first program is made in the builder's room, and a
// second Build of the same builder makes a program of its own: the first
// keeps its batch id, which its command points at.
func TestBuildTwice(t *testing.T) {
	at := accountTarget(t, "account:{ada}")
	b := NewBuilderFor(1)
	b.Declare(at, Need)
	b.HSet(at.Root, "f", "v")
	p1 := b.Build(Header{ID: "one"})
	p2 := b.Build(Header{ID: "two"})
	if p1 == p2 || p1.Argv[0] != "one" || p2.Argv[0] != "two" || p1.Command()[3+len(p1.Keys)] != "one" {
		t.Fatalf("two builds: %v and %v", p1.Argv[0], p2.Argv[0])
	}
	if n := testing.AllocsPerRun(50, func() {
		b := NewBuilderFor(1)
		b.Declare(at, Need)
		b.HSet(at.Root, "f", "v")
		_ = b.Build(Header{ID: "one"})
	}); n != 2 {
		t.Fatalf("a one-op program: %v allocations, want 2 (the builder and the command)", n)
	}
}
