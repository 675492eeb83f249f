package lua

import "github.com/rapyer-go/rapyer/internal/script"

// queryFunc is the query entry the tests of query.lua call.
func queryFunc() *script.Func { return Query }
