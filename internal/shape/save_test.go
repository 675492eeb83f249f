package shape

import (
	"fmt"
	"strings"
	"testing"
)

// saveArgv lays out the ARGV of a lean save of one model without
// collections, as prog builds it.
func saveArgv(mode, ttl string, fields ...string) argv {
	a := argv{"id", "2", "10000", "0", "0", "save", "4", "1", mode, ttl, "60000", "reset", "1", "1", "hset", "", "1"}
	for _, f := range fields {
		a = append(a, f, "value of "+f)
	}
	a[15] = itoa(1 + 2*len(fields))
	return a
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// TestSaveKeys: programs of one shape share its key; another field name,
// mode, TTL action or number of keys makes another; a program of another
// layout, naming the version field, or with a record lifetime that is not
// whole ms is not compiled; a shape is told from one of another shape
// with the same hash.
func TestSaveKeys(t *testing.T) {
	base := saveArgv("create", "keep", "name", "age")
	k, ok := saveKey(base, 2)
	if !ok {
		t.Fatal("a save is not compiled")
	}
	same := saveArgv("create", "keep", "name", "age")
	same[18], same[20] = "other", "values"
	if k2, _ := saveKey(same, 2); k2 != k {
		t.Fatal("the values changed the key")
	}
	for name, a := range map[string]argv{
		"a field":   saveArgv("create", "keep", "name", "agE"),
		"the order": saveArgv("create", "keep", "age", "name"),
		"the mode":  saveArgv("fresh", "keep", "name", "age"),
		"the TTL":   saveArgv("create", "set", "name", "age"),
	} {
		if k2, ok := saveKey(a, 2); !ok || k2 == k {
			t.Fatalf("%s: key %v (compiled %v), the same as the base's", name, k2, ok)
		}
	}
	if k2, _ := saveKey(base, 3); k2 == k {
		t.Fatal("the number of keys did not change the key")
	}
	bad := map[string]argv{
		"the version":      saveArgv("create", "keep", "name", "__v"),
		"a short program":  base[:len(base)-1],
		"another mode":     saveArgv("maybe", "keep", "name"),
		"record ms 0":      append(argv{"id", "2", "0"}, base[3:]...),
		"record ms 1.5":    append(argv{"id", "2", "1.5"}, base[3:]...),
		"not a save":       append(argv{"id", "2", "10000", "0", "0", "model"}, base[6:]...),
		"ttl ms not whole": append(append(argv{}, saveArgv("create", "set", "name")[:10]...), append(argv{"-1"}, saveArgv("create", "set", "name")[11:]...)...),
	}
	for name, a := range bad {
		if _, ok := saveKey(a, 2); ok {
			t.Fatalf("%s: compiled", name)
		}
	}
	s := &Shape{save: true, saveKeys: 2, steer: steerOf(base)}
	if !sameSave(s, base, 2) || !sameSave(s, same, 2) {
		t.Fatal("a shape is not the same as its program's")
	}
	if sameSave(s, saveArgv("create", "keep", "name", "agE"), 2) || sameSave(s, base, 3) || sameSave(s, saveArgv("create", "keep", "name"), 2) {
		t.Fatal("a shape is the same as another shape's")
	}
}

// TestSaveNamesTwice: a program that names a field twice is not compiled
// (the script counts the fields it writes).
func TestSaveNamesTwice(t *testing.T) {
	if _, _, ok := compileSave(saveArgv("create", "keep", "name", "name")); ok {
		t.Fatal("compiled")
	}
	if _, _, ok := compileSave(saveArgv("create", "keep", "name", "age")); !ok {
		t.Fatal("not compiled")
	}
}

func TestLuaQuote(t *testing.T) {
	for in, want := range map[string]string{
		"name":          "'name'",
		"a'b\\c\x001":   `'a\039b\092c\0001'`,
		"caf\xc3\xa9\n": `'caf\195\169\010'`,
	} {
		if got := luaQuote(in); got != want {
			t.Fatalf("luaQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestLookSaveLast: the compiled save found last (lastSave, tried before
// the hash and the map) is found again for a program of its shape only:
// another field, order, mode, TTL action or number of keys, and a program
// that saveKey refuses, find another shape or none, before and after it.
func TestLookSaveLast(t *testing.T) {
	base := saveArgv("create", "keep", "lname", "lage")
	s := lookSave(base, 2)
	if s == nil || s.Text == "" || lastSave.Load() != s {
		t.Fatalf("a save is not compiled, or not kept as the last: %+v", s)
	}
	same := saveArgv("create", "keep", "lname", "lage")
	same[18], same[20] = "other", "values"
	if lookSave(same, 2) != s {
		t.Fatal("a program of the last shape found another")
	}
	others := map[string]argv{
		"a field":      saveArgv("create", "keep", "lname", "lagE"),
		"the order":    saveArgv("create", "keep", "lage", "lname"),
		"the mode":     saveArgv("fresh", "keep", "lname", "lage"),
		"the TTL":      saveArgv("create", "set", "lname", "lage"),
		"a field less": saveArgv("create", "keep", "lname"),
	}
	for name, a := range others {
		o := lookSave(a, 2)
		if o == nil || o == s || !sameSave(o, a, 2) {
			t.Fatalf("%s: found %p, the base's is %p", name, o, s)
		}
		if lookSave(base, 2) != s {
			t.Fatalf("%s: the base's shape is not found again", name)
		}
	}
	if o := lookSave(base, 3); o == s {
		t.Fatal("another number of keys found the last shape")
	}
	bad := map[string]argv{
		"the version":     saveArgv("create", "keep", "lname", "__v"),
		"a short program": base[:len(base)-1],
		"record ms 1.5":   append(argv{"id", "2", "1.5"}, base[3:]...),
		"not a save":      append(argv{"id", "2", "10000", "0", "0", "model"}, base[6:]...),
		"not an hset":     append(append(argv{}, base[:14]...), append(argv{"hdel"}, base[15:]...)...),
		"a number field":  append(append(argv{}, base[:17]...), append(argv{int64(1)}, base[18:]...)...),
	}
	for name, a := range bad {
		lookSave(base, 2)
		if o := lookSave(a, 2); o != nil {
			t.Fatalf("%s: found %p", name, o)
		}
	}
}

// BenchmarkLookSave: finding the compiled save of an 8-field program, the
// last found (lastSave) and, alternating between two shapes, by saveKey's
// hash and the map (each look-up also tries the other shape first).
//
//	go test -run '^$' -bench BenchmarkLookSave -benchmem ./internal/shape/
func BenchmarkLookSave(b *testing.B) {
	fields := []string{"Name", "Email", "City", "Age", "Score", "Active", "Visits", "Balance"}
	a1 := saveArgv("need", "keep", fields...)
	a2 := saveArgv("create", "keep", fields...)
	if lookSave(a1, 2) == nil || lookSave(a2, 2) == nil {
		b.Fatal("not compiled")
	}
	b.Run("last", func(b *testing.B) {
		for b.Loop() {
			lookSave(a1, 2)
		}
	})
	b.Run("alternating", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if i++; i%2 == 0 {
				lookSave(a1, 2)
			} else {
				lookSave(a2, 2)
			}
		}
	})
}

// TestSaveReplies: a compiled save answers 1 when it went through (an
// integer, which the client reads without allocating), and Reply makes it
// the interpreter's {'OK'}; its other answers (tables) and a string 'OK'
// are left as they are; the script's text ends its writes with return 1.
func TestSaveReplies(t *testing.T) {
	a := saveArgv("create", "keep", "name", "age")
	text, _, ok := compileSave(a)
	if !ok {
		t.Fatal("not compiled")
	}
	if !strings.Contains(text, "\n  return 1\nuntil true\n") {
		t.Fatalf("the body does not answer 1:\n%s", text)
	}
	s := &Shape{save: true}
	if r, ok := s.Reply(int64(1)).([]any); !ok || len(r) != 1 || r[0] != "OK" {
		t.Fatalf("Reply(1) = %v, want [OK]", s.Reply(int64(1)))
	}
	for _, v := range []any{"OK", int64(0), int64(2), []any{Again}, []any{"DUP"}} {
		if r := s.Reply(v); fmt.Sprint(r) != fmt.Sprint(v) {
			t.Fatalf("Reply(%v) = %v, want it unchanged", v, r)
		}
	}
}
