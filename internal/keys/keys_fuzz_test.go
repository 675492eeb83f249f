package keys_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
)

// refCRC16 is CRC16-CCITT (XMODEM) computed bit by bit, as the polynomial
// is defined, so that the table-driven version in package keys is checked
// against an independent implementation.
func refCRC16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// refSlot is the key-to-slot rule of the Redis Cluster specification,
// written as the specification states it: hash the part between the first
// '{' and the first '}' after it, when that part is not empty.
func refSlot(key string) int {
	b := []byte(key)
	start := -1
	for i, c := range b {
		if c == '{' {
			start = i
			break
		}
	}
	if start >= 0 {
		for j := start + 1; j < len(b); j++ {
			if b[j] == '}' {
				if j > start+1 {
					b = b[start+1 : j]
				}
				break
			}
		}
	}
	return int(refCRC16(b) & 16383)
}

// refValidID is the id rule of DESIGN section 5.12, restated.
func refValidID(id string) bool {
	if id == "" || len(id) > keys.MaxID || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r == '{' || r == '}' || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func TestSlotKnownValues(t *testing.T) {
	for key, want := range map[string]int{
		"123456789":            12739, // CRC16 0x31C3, the check value of the XMODEM CRC
		"foo":                  12182, // CLUSTER KEYSLOT foo
		"{user1000}.following": keys.Slot("user1000"),
		"foo{}{bar}":           keys.Slot("foo{}{bar}"),
		"":                     0,
	} {
		if got := keys.Slot(key); got != want || got != refSlot(key) {
			t.Errorf("Slot(%q) = %d, want %d (reference %d)", key, got, want, refSlot(key))
		}
	}
	if keys.Slot("foo{}{bar}") == keys.Slot("bar") {
		t.Error(`"foo{}{bar}" must hash the whole key: its first tag is empty`)
	}
}

// FuzzKeyLayout checks the key layout against its specification: CheckID
// accepts exactly the ids of the reference rule and refuses the others with
// ErrInvalidID; a valid id survives Root then ID, with and without a hash
// tag; every key of one model (root, collections, locks, batch records)
// hashes to one slot; only root keys parse back to an id; and Slot agrees
// with an independent table-driven CRC16 and the specification's tag rule.
func FuzzKeyLayout(f *testing.F) {
	for _, s := range []struct{ prefix, id, tag, other string }{
		{"account", "alice", "", "x"},
		{"account", "alice", "bank", "123456789"},
		{"user", "a:b:c", "g", "{user1000}.following"},
		{"p", "ünïcödé ✓", "t", "foo{}{bar}"},
		{"p", "", "", ""},
		{"p", "a{b", "", "{"},
		{"p", "a}b", "x}", "}{"},
		{"p", "tab\there", "", "{}"},
		{"p", "nul\x00", "", "a{b}c{d}"},
		{"p", "\xff\xfe", "", "\xff{\xfe}"},
		{"p", strings.Repeat("x", keys.MaxID), "", ""},
		{"p", strings.Repeat("x", keys.MaxID+1), "", ""},
		{"bad prefix", "id", "", ""},
		{"p*", "id", "", ""},
		{"p", "*", "", ""},
		{"p", "}:{", "", ""},
		{"p", " ", "tag", ""},
	} {
		f.Add(s.prefix, s.id, s.tag, s.other)
	}
	f.Fuzz(func(t *testing.T, prefix, id, tag, other string) {
		if got, want := keys.Slot(other), refSlot(other); got != want {
			t.Fatalf("Slot(%q) = %d, reference %d", other, got, want)
		}
		err := keys.CheckID(id)
		if valid := refValidID(id); valid != (err == nil) {
			t.Fatalf("CheckID(%q) = %v, but the reference rule says valid=%v", id, err, valid)
		}
		if err != nil {
			if !errors.Is(err, errs.InvalidID) {
				t.Fatalf("CheckID(%q) = %v, want ErrInvalidID", id, err)
			}
			return
		}
		if keys.CheckPrefix(prefix) != nil {
			return
		}
		layouts := []keys.Layout{{Prefix: prefix}}
		if refValidID(tag) {
			layouts = append(layouts, keys.Layout{Prefix: prefix, Tag: func(string) string { return tag }})
		}
		for _, l := range layouts {
			root := l.Root(id)
			got, ok := l.ID(root)
			if !ok || got != id {
				t.Fatalf("ID(Root(%q)) = %q, %v with prefix %q (root %q)", id, got, ok, prefix, root)
			}
			want := keys.Slot(root)
			if want != refSlot(root) {
				t.Fatalf("Slot(%q) = %d, reference %d", root, want, refSlot(root))
			}
			if l.Tag != nil && want != refSlot("{"+tag+"}") {
				t.Fatalf("root %q is in slot %d, not in the slot of its tag %q", root, want, tag)
			}
			for _, k := range []string{
				keys.Field(root, "history"),
				keys.Field(root, "address.tags"),
				keys.Lock(root, "withdraw"),
				keys.Tx(root, "0123456789abcdef01234567"),
			} {
				if s := keys.Slot(k); s != want {
					t.Fatalf("%q is in slot %d, its root %q in slot %d", k, s, root, want)
				}
				if got, ok := l.ID(k); ok {
					t.Fatalf("ID(%q) = %q: a key that is not a root parsed as one", k, got)
				}
			}
			// A root of another prefix never parses as this one's.
			if got, ok := l.ID(prefix + "x:{" + id + "}"); ok && l.Tag == nil {
				t.Fatalf("ID of another prefix's root gave %q", got)
			}
		}
	})
}

// Every slot has a tag of at most three characters, and the record key of a
// model is in its slot, starts with "tx{" (so no prefix pattern matches it)
// and has the same short length whatever the id.
func TestTxKeyIsShortInTheModelSlotAndOutsideEveryPrefix(t *testing.T) {
	for s := 0; s < 16384; s++ {
		tag := keys.SlotTag(s)
		if len(tag) == 0 || len(tag) > 3 {
			t.Fatalf("slot %d has tag %q", s, tag)
		}
		if got := keys.Slot("{" + tag + "}"); got != s {
			t.Fatalf("tag %q of slot %d hashes to %d", tag, s, got)
		}
	}
	for _, root := range []string{"acct:{a}", "acct:{" + strings.Repeat("x", keys.MaxID) + "}", "p:{t}:{id}"} {
		k := keys.Tx(root, "AbCdEfGhIjKlMnOp")
		if keys.Slot(k) != keys.Slot(root) {
			t.Fatalf("%q is not in the slot of %q", k, root)
		}
		if !strings.HasPrefix(k, "tx{") || len(k) > len("tx{abc}:AbCdEfGhIjKlMnOp") {
			t.Fatalf("record key %q", k)
		}
	}
}

// FuzzHasTag: HasTag holds exactly when the key's slot is its hash tag's
// (by the reference), and then whatever is appended keeps the slot, as the
// lock package's fence, wait and marker keys need; keys of a model's layout
// always have one.
func FuzzHasTag(f *testing.F) {
	for _, k := range []string{"plain", "{a}", "a{}b", "a{}{b}", "a{b", "a}b{c", "x{y}z", "{}", "{", "p:{id}:lock:pay"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		s := strings.IndexByte(k, '{')
		tagged := s >= 0 && strings.IndexByte(k[s+1:], '}') > 0
		if keys.HasTag(k) != tagged {
			t.Fatalf("HasTag(%q) = %v, want %v", k, !tagged, tagged)
		}
		if tagged && (keys.Slot(k) != keys.Slot(k+":fence") || keys.Slot(k) != refSlot(k+":fence:wait")) {
			t.Fatalf("HasTag(%q), but an appended suffix moves its slot", k)
		}
		if keys.CheckID(k) == nil {
			root := keys.Layout{Prefix: "p"}.Root(k)
			if !keys.HasTag(keys.Lock(root, "pay")) {
				t.Fatalf("the lock key of id %q has no hash tag", k)
			}
		}
	})
}
