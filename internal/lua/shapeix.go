package lua

import (
	"strings"

	"github.com/rapyer-go/rapyer/internal/shape"
)

// The compiled shapes of indexed batches (package shape, ix.go) encode
// indexed values as index.lua does, with index.lua's own text: the part
// of it between its "shape: enc" marks, and the helpers of batch.lua it
// calls (the float and time parsers). One source, so that an entry a
// compiled script writes is the one the interpreter, its purges and the
// queries look for.
func init() { shape.SetIndexLua(IndexEncLua()) }

// IndexEncLua is the Lua text a compiled shape needs to encode indexed
// values, in pieces, so that a script defines only the functions its
// kinds call (each costs every call): "head", the text of index.lua's
// region before its first function (IX.MAX, IX.ZERO); "IX.<name>", each
// function of the region (with what follows it up to the next); "floats",
// INF and parsefloat, and "time", days_from_civil and parsetime, from
// batch.lua. The text assigns to a table IX and calls isint, which the
// script declares. It panics when a mark it cuts at is gone (every test
// then fails).
func IndexEncLua() map[string]string {
	region := cut(indexSource, "-- shape: enc begin", "-- shape: enc end")
	out := map[string]string{
		"floats": cut(batchSource, "local INF = 1 / 0\n", "local function fmtfloat("),
		"time": cut(batchSource, "local function days_from_civil(", "local function civil_from_days(") +
			cut(batchSource, "-- parsetime returns", "local function fmttime("),
	}
	parts := strings.Split(region, "\nfunction IX.")
	out["head"] = parts[0] + "\n"
	for _, p := range parts[1:] {
		name := p[:strings.IndexByte(p, '(')]
		out["IX."+name] = "function IX." + p + "\n"
	}
	return out
}

// cut is the text of src from the line of from up to the line of to.
func cut(src, from, to string) string {
	i := strings.Index(src, from)
	if i < 0 {
		panic("lua: no " + from + " to cut at")
	}
	j := strings.Index(src[i:], to)
	if j < 0 {
		panic("lua: no " + to + " after " + from)
	}
	return src[i : i+j]
}
