package prog

import (
	"fmt"
	"testing"
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
