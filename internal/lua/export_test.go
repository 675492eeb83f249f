package lua

// BatchSource is the interpreter's text, for the tests of package lua_test.
var BatchSource = batchSource
