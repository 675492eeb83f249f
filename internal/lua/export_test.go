package lua

// BatchSource is the interpreter's text (batch.lua and index.lua), for the tests of package lua_test.
var BatchSource = interpreter
