package shape

import (
	"strings"
	"testing"
)

// TestLuaStr: a field name goes into a script as a Lua literal that
// reads back as the name, whatever bytes it holds.
func TestLuaStr(t *testing.T) {
	for in, want := range map[string]string{
		"age":       `'age'`,
		"addr.city": `'addr\046city'`,
		"a'b\\c\n1": `'a\039b\092c\0101'`,
		"\x00\xff":  `'\000\255'`,
	} {
		if got := luaStr(in); got != want {
			t.Errorf("luaStr(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestIxZero: the zero values and the digit complement the compiled
// indexed save writes inline (saveix.go) are index.lua's IX.ZERO and
// IX.COMP.
func TestIxZero(t *testing.T) {
	head := luaText()["head"] + luaText()["IX.encint"]
	zero := "IX.ZERO = {i = '" + ixZero["i"] + "', f = '" + ixZero["f"] + "', s = '" + ixZero["s"] + "', b = '" + ixZero["b"] + "', t = '" + ixZero["t"] + "'}"
	if !strings.Contains(head, zero) {
		t.Errorf("index.lua's IX.ZERO is not %s", zero)
	}
	flat := strings.Join(strings.Fields(head), " ")
	if !strings.Contains(flat, "IX.COMP = "+ixComp) {
		t.Errorf("index.lua's IX.COMP is not %s", ixComp)
	}
}
