package lua

import "github.com/rapyer-go/rapyer/internal/shape"

// The compiled shapes (package shape) define the helpers of batch.lua
// they call (integer arithmetic on text, the byte order of strings, the
// float and time parsers) and encode indexed values with index.lua's
// encoding, in the interpreter's own text: shape cuts it out between the
// "-- shape:" marks of these sources. One source, so that a compiled
// script computes what the interpreter does, and an index entry it writes
// is the one the interpreter, its purges and the queries look for.
func init() { shape.SetLua(batchSource, indexSource) }
