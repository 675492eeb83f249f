package shape

import "testing"

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
