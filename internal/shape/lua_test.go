package shape

import (
	"os"
	"strings"
	"testing"
)

// TestLuaPieces: each piece a script is assembled from holds the
// functions it is named for, cut from package lua's files.
func TestLuaPieces(t *testing.T) {
	p := luaText()
	want := map[string][]string{
		"isint":  {"local function isint("},
		"ints":   {"local B = ", "local function limbs(", "local function cmpint(", "local function addint(", "local function within("},
		"strs":   {"local function cmpstr("},
		"floats": {"local INF = ", "local function parsefloat("},
		"time":   {"local function days_from_civil(", "local function parsetime("},
		"IX.enc": {"function IX.enc("},
		"IX.pk":  {"function IX.pk("},
	}
	for k, fs := range want {
		for _, f := range fs {
			if !strings.Contains(p[k], f) {
				t.Errorf("piece %s lacks %q:\n%s", k, f, p[k])
			}
		}
	}
	if strings.Contains(p["ints"], "local function fmtfloat(") || strings.Contains(p["time"], "local function fmttime(") {
		t.Error("a piece runs past its end mark")
	}
}

// TestLuaMarkGone: SetLua panics when a mark it cuts at is gone.
func TestLuaMarkGone(t *testing.T) {
	batch, err := os.ReadFile("../lua/batch.lua")
	if err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile("../lua/index.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ batch, index string }{
		{strings.Replace(string(batch), "-- shape: strs end", "", 1), string(index)},
		{strings.Replace(string(batch), "-- shape: ints begin", "", 1), string(index)},
		{string(batch), strings.Replace(string(index), "-- shape: enc begin", "", 1)},
		{string(batch), strings.Replace(string(index), "function IX.pk(", "function pk(", 1)},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic for a missing mark or piece")
				}
			}()
			luaPieces(c.batch, c.index)
		}()
	}
}
