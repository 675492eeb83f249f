// Package lua is the Lua rapyer-go runs on the server: the batch
// interpreter, the lock entry points and the model read, as one function
// library (package script runs it as Redis Functions where the server has
// them, as scripts where it does not).
//
// One library for everything means one thing to load, one name in
// FUNCTION LIST, and one permission for a least-privilege user: FCALL.
package lua

import (
	_ "embed"

	"github.com/rapyer-go/rapyer/internal/script"
)

//go:embed batch.lua
var batchSource string

//go:embed index.lua
var indexSource string

//go:embed query.lua
var querySource string

// interpreter is the batch part: batch.lua, then index.lua, then
// query.lua (which uses the interpreter's pred and index.lua's IX).
var interpreter = batchSource + "\n" + indexSource + "\n" + querySource

//go:embed lock.lua
var lockSource string

//go:embed read.lua
var readSource string

//go:embed move.lua
var moveSource string

// Library is every entry point rapyer-go calls on the server.
var Library = script.NewParts("rapyer",
	// index.lua is appended to batch.lua: its code shares the
	// interpreter's helpers, and its entries the interpreter's part.
	script.Part{Source: interpreter, Entries: []string{"batch", "reindex", "ixask", "ixenc", "query"}},
	// A release frees memory and an extension takes none: a server out of
	// memory (maxmemory, noeviction) still runs them, so that a held lock
	// does not outlive its work until its TTL. Scripts (servers without
	// functions) are let through until their first write that needs memory.
	script.Part{Source: lockSource, Entries: []string{"acquire", "acquiref", "release", "extend", "pass"},
		Flags: map[string][]string{"release": {"allow-oom"}, "extend": {"allow-oom"}}},
	// The read writes nothing: flagged so, a server out of memory runs it
	// (FCALL of a function without flags is refused there), and a Get that
	// MULTI/EXEC could not read (Redis refuses every command queued in a
	// transaction while out of memory) reads through it.
	script.Part{Source: readSource, Entries: []string{"read"}, Flags: map[string][]string{"read": {"no-writes"}}},
	// mvfree deletes a claim: it frees memory, and runs out of memory too.
	script.Part{Source: moveSource, Entries: []string{"mvread", "mvcopy", "mvdrop", "mvfree"},
		Flags: map[string][]string{"mvfree": {"allow-oom"}}},
)

// The entry points.
var (
	// Batch runs one program of the batch interpreter (package prog).
	Batch = Library.Func("batch")
	// Acquire, Release and Extend are the lock's (package lock).
	Acquire = Library.Func("acquire")
	Release = Library.Func("release")
	Extend  = Library.Func("extend")
	// Pass is a release that hands the lock to a waiter of the same client.
	Pass = Library.Func("pass")
	// AcquireFenced is Acquire for a caller that will not wait and wants
	// a fence: keys[1] the lock key, args token, TTL and the fence key's
	// life.
	AcquireFenced = Library.Func("acquiref")
	// Read reads one model atomically, for pipelines that cannot use
	// MULTI/EXEC (several slots of a cluster).
	Read = Library.Func("read")
	// Reindex syncs the index entries of models of one group
	// (index.lua's reindex); IxEnc encodes values as indexes do.
	Reindex = Library.Func("reindex")
	IxEnc   = Library.Func("ixenc")
	// IxAsk asks the ACL, before the first write of Model.Reindex,
	// DropIndex or Sweep, for every command they may send in one group
	// (index.lua's ixask): OK, or the refusal as an error.
	IxAsk = Library.Func("ixask")
	// Query runs one query in one slot group (query.lua; package query).
	Query = Library.Func("query")
	// MoveRead, MoveCopy and MoveDrop move one model stored before its type
	// declared its first index into its slot group (move.lua;
	// rapyer/move.go).
	MoveRead = Library.Func("mvread")
	MoveCopy = Library.Func("mvcopy")
	MoveDrop = Library.Func("mvdrop")
	// MoveFree deletes the claim of a mover whose copy was refused.
	MoveFree = Library.Func("mvfree")
)
