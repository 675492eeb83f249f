package lua

import (
	_ "embed"

	"github.com/rapyer-go/rapyer/internal/script"
)

//go:embed query.lua
var querySourceStub string

// ixStub is IX.enc for ints and texts, until index.lua comes.
const ixStub = `
local IX = {}
function IX.enc(kind, s)
  if kind == 'i' then
    if string.sub(s, 1, 1) == '-' then
      local d = string.sub(s, 2)
      return '\1' .. string.char(255 - #d) .. (string.gsub(d, '%d', function(c) return string.char(105 - string.byte(c)) end))
    end
    return '\2' .. string.char(#s) .. s
  end
  return (string.gsub(s, '%z', '\0\255')) .. '\0\1'
end
`

func queryFunc() *script.Func {
	return script.NewParts("rapyerq", script.Part{Source: batchSource + ixStub + querySourceStub, Entries: []string{"batch", "query"}}).Func("query")
}
