package index

import (
	"hash/fnv"
	"strings"
	"testing"
)

// TestGroupIsStable pins the group of a few ids: stored models live where
// Group says, so it may never change.
func TestGroupIsStable(t *testing.T) {
	for _, c := range []struct {
		id         string
		g16, g1000 int
	}{{"", 5, 261}, {"a", 12, 220}, {"alice", 7, 479}, {"0123456789abcdef01234567", 5, 269}} {
		if g := Group(c.id, 16); g != c.g16 {
			t.Errorf("Group(%q, 16) = %d, want %d", c.id, g, c.g16)
		}
		if g := Group(c.id, 1000); g != c.g1000 {
			t.Errorf("Group(%q, 1000) = %d, want %d", c.id, g, c.g1000)
		}
		h := fnv.New32a()
		h.Write([]byte(c.id))
		if g := Group(c.id, 16); g != int(h.Sum32()%16) {
			t.Errorf("Group(%q) is not FNV-1a 32", c.id)
		}
	}
}

// TestKeys: the keys of a group, and the tags of ids.
func TestKeys(t *testing.T) {
	s := NewSet("user", []Field{{Name: "email", Kind: KindString, Use: UseUnique}, {Name: "tags", Kind: KindString, Use: UseMembers, Coll: "set"}}, 16, nil)
	x := s.Of("alice")
	if x.Base != "user:{user#7}" {
		t.Fatalf("base %q", x.Base)
	}
	for got, want := range map[string]string{
		IDs(x.Base): "user:{user#7}:@ids", Index(x.Base, "email"): "user:{user#7}:@i:email",
		Unique(x.Base, "email"): "user:{user#7}:@u:email", Back(x.Base): "user:{user#7}:@back",
		Exp(x.Base): "user:{user#7}:@exp", Meta(x.Base): "user:{user#7}:@meta", Root(x.Base, "alice"): "user:{user#7}:{alice}",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	w := x.Words(func(n string) string { return "C:" + n })
	want := []string{"email", "s", "u", "", "user:{user#7}:@i:email", "user:{user#7}:@u:email", "tags", "s", "m", "set", "user:{user#7}:@i:tags", "C:tags"}
	if len(w) != len(want) {
		t.Fatalf("words %q", w)
	}
	for i := range w {
		if w[i] != want[i] {
			t.Fatalf("words %q, want %q", w, want)
		}
	}
	if b := s.Bases(); len(b) != 16 || b[7] != x.Base {
		t.Fatalf("bases %q", b)
	}
	tagged := NewSet("user", nil, 0, func(id string) string { return "t" + id[:1] })
	if tagged.Of("alice").Base != "user:{ta}" || tagged.Bases() != nil {
		t.Fatal("tagged set")
	}
}

// TestKeysAreNamedAfterBack: the compiled shapes (internal/shape, ix.go,
// saveix.go) make the names of @exp and @ids from @back's, so that a call
// sends neither key: the three differ only in their last word.
func TestKeysAreNamedAfterBack(t *testing.T) {
	for _, base := range []string{"p:{p#0}", "a:b:{tag}", ""} {
		g := strings.TrimSuffix(Back(base), "back")
		if Exp(base) != g+"exp" || IDs(base) != g+"ids" {
			t.Errorf("base %q: @back %q, @exp %q, @ids %q", base, Back(base), Exp(base), IDs(base))
		}
	}
}
