// Package script runs the library's Lua on the server, the fastest way the
// server allows.
//
// A Library is one Lua text that defines local functions, some of which are
// entry points called with (keys, args). Where the server has Redis
// Functions (Redis and Valkey 7.0 and later) the text is loaded once with
// FUNCTION LOAD and every call is an FCALL: the text's top level (its
// helpers, constants and closures) runs once per load, not per call. Where
// the server has no functions (miniredis, Redis before 7.0, a user whose ACL
// forbids FUNCTION LOAD) every entry point runs as its own EVALSHA script,
// the text followed by a call of the entry point, and EVAL when the script
// cache is empty (NOSCRIPT).
//
// Which way a client goes is found out on its first call and remembered per
// client. A call that meets a server without the library (a restart, a
// FUNCTION FLUSH, a slot moved to a new node) loads it and is sent again:
// such a reply means nothing ran, so sending again is safe.
package script
