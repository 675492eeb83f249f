package shape

import (
	"strings"
	"sync/atomic"
)

// The Lua a compiled script shares with the interpreter (its helpers:
// integer arithmetic on decimal text, the byte order of strings, the
// float and time parsers; and index.lua's encoding of indexed values) is
// the interpreter's own text, cut out of batch.lua and index.lua between
// their "-- shape: NAME begin" and "-- shape: NAME end" marks: one text,
// so that a compiled batch computes what the interpreter does.

// lua is the pieces SetLua cut, by name (luaPieces).
var lua atomic.Pointer[map[string]string]

// SetLua gives the shapes the interpreter's Lua, batch.lua and index.lua
// (package lua calls it at init): until then, no program is compiled. It
// panics when a mark it cuts at is gone (every test then fails, rather
// than every batch quietly leaving its shape).
func SetLua(batch, index string) {
	p := luaPieces(batch, index)
	lua.Store(&p)
}

// luaPieces cuts the pieces a script is assembled from: "isint", "ints"
// (limbs, cmpint, addint, within), "strs" (cmpstr), "floats" (INF,
// parsefloat) and "time" (days_from_civil, parsetime) of batch.lua; of
// index.lua's "enc" region "head", its text before the first function
// (IX.MAX, IX.ZERO), and "IX.<name>", each function (with what follows it
// up to the next), so that a script defines only the functions it calls
// (each costs every call). The index pieces assign to a table IX and call
// isint, which the script declares.
func luaPieces(batch, index string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"isint", "ints", "strs", "floats", "time"} {
		out[k] = marked(batch, k)
	}
	parts := strings.Split(marked(index, "enc"), "\nfunction IX.")
	out["head"] = parts[0] + "\n"
	for _, p := range parts[1:] {
		name := p[:strings.IndexByte(p, '(')]
		out["IX."+name] = "function IX." + p + "\n"
	}
	for _, k := range []string{"IX.encint", "IX.encfloat", "IX.escape", "IX.enc", "IX.pk", "IX.now"} {
		if out[k] == "" {
			panic("shape: index.lua's encoding lacks " + k)
		}
	}
	return out
}

// marked is the text of src from its "-- shape: name begin" mark up to
// its end mark.
func marked(src, name string) string {
	from, to := "-- shape: "+name+" begin", "-- shape: "+name+" end"
	i := strings.Index(src, from)
	if i < 0 {
		panic("shape: the Lua lacks the mark " + from)
	}
	j := strings.Index(src[i:], to)
	if j < 0 {
		panic("shape: the Lua lacks the mark " + to)
	}
	return src[i : i+j]
}

// luaText is the pieces, or nil before SetLua.
func luaText() map[string]string {
	if p := lua.Load(); p != nil {
		return *p
	}
	return nil
}
