package shape

import (
	"os"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// TestMain hands the shapes the interpreter's Lua as package lua does at
// init (package lua imports this one, so its tests cannot), from the files
// package lua embeds.
func TestMain(m *testing.M) {
	batch, err := os.ReadFile("../lua/batch.lua")
	if err != nil {
		panic(err)
	}
	index, err := os.ReadFile("../lua/index.lua")
	if err != nil {
		panic(err)
	}
	SetLua(string(batch), string(index))
	testenv.Main(m)
}
