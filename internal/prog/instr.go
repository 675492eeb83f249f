package prog

// The instruction set of the batch interpreter (internal/lua/batch.lua),
// declared once. Every opcode has one entry in table: the word batch.lua's
// branches match, the layout of its arguments, and the Builder method that
// emits it. No package outside prog spells an opcode or an argument
// position: ops and codec call the typed methods below, each a one-line
// call of emit, which lays the arguments out as the table says.
//
// A test (opcodes_test.go) holds the table to batch.lua: every opcode has
// exactly one branch in check, and one in apply and one in sends unless it
// acts in the check phase only; no branch names an opcode the table lacks;
// the arguments batch.lua's comments name and the indexes its code reads
// agree with the declared layout; and every method named in the table has
// the table's arity.

// opcode is an instruction of the batch interpreter.
type opcode uint8

// The opcodes, in the order of table.
const (
	opModel opcode = iota
	opGVer
	opGPred
	opGLock
	opHSet
	opHDel
	opIncr
	opIncrF
	opArith
	opSAppend
	opSRepeat
	opTAdd
	opRPush
	opLPush
	opRPop
	opLPop
	opPopAt
	opLSet
	opLInsert
	opLDelRange
	opLTrim
	opLRem
	opLMove
	opLen
	opClear
	opMSet
	opMDel
	opMPop
	opMPopAny
	opMGet
	opSAdd
	opSRem
	opPred
	opReset
	opDrop
	opUnlock
	// the ops of issue #12 item 8
	opMIncr
	opEnsure
	// issue #14: the indexes of a model (index.go)
	opIndex
	numOpcodes
)

// layout is how an instruction's arguments are laid out in ARGV.
type layout struct {
	// name is the opcode's word in ARGV and in batch.lua.
	name string
	// fixed has one letter per fixed argument: 'k' a key (sent as its
	// index in KEYS), 't' a text.
	fixed string
	// tail is the letters of one repeat of the variadic tail ("" for none):
	// "t" texts, "tt" pairs of texts, "kt" keys each with a text.
	tail string
	// method is the Builder method that emits it ("" for model, which
	// Build emits).
	method string
	// checked: the instruction acts in the check phase only (a model
	// declaration, a guard), so batch.lua's apply and sends have no
	// branch for it.
	checked bool
}

// table is the instruction set. The comments are batch.lua's names of the
// arguments.
var table = [numOpcodes]layout{
	opModel:     {"model", "kttt", "k", "", true},              // root mode ttlmode ttlms colkey...
	opGVer:      {"gver", "kt", "", "GuardVersion", true},      // root version
	opGPred:     {"gpred", "", "ktttttt", "GuardPred", true},   // key tag x kind rel arg zero ...
	opGLock:     {"glock", "kt", "", "GuardLock", true},        // lockkey token
	opHSet:      {"hset", "k", "tt", "HSet", false},            // root field value ...
	opHDel:      {"hdel", "k", "t", "HDel", false},             // root field...
	opIncr:      {"incr", "ktttt", "", "Incr", false},          // root field by lo hi
	opIncrF:     {"incrf", "kttt", "", "IncrFloat", false},     // root field by max
	opArith:     {"arith", "ktttttt", "", "Arith", false},      // root field name kind lo hi operand
	opSAppend:   {"sappend", "ktt", "", "AppendText", false},   // root field text
	opSRepeat:   {"srepeat", "ktt", "", "RepeatText", false},   // root field times
	opTAdd:      {"tadd", "kttt", "", "AddTime", false},        // root field seconds nanos
	opRPush:     {"rpush", "kk", "t", "RPush", false},          // root key v...
	opLPush:     {"lpush", "kk", "t", "LPush", false},          // root key v... (in final order)
	opRPop:      {"rpop", "kk", "", "RPop", false},             // root key
	opLPop:      {"lpop", "kk", "", "LPop", false},             // root key
	opPopAt:     {"popat", "kkt", "", "PopAt", false},          // root key index
	opLSet:      {"lset", "kktt", "", "LSet", false},           // root key index value
	opLInsert:   {"linsert", "kktt", "", "LInsert", false},     // root key index value
	opLDelRange: {"ldelrange", "kktt", "", "LDelRange", false}, // root key start stop
	opLTrim:     {"ltrim", "kktt", "", "LTrim", false},         // root key start stop
	opLRem:      {"lrem", "kktt", "", "LRem", false},           // root key count value
	opLMove:     {"lmove", "kkkktt", "", "LMove", false},       // root src root2 dst from to
	opLen:       {"len", "kkt", "", "Len", false},              // root key type
	opClear:     {"clear", "kkt", "", "Clear", false},          // root key type
	opMSet:      {"mset", "kk", "tt", "MSet", false},           // root key k v ...
	opMDel:      {"mdel", "kk", "t", "MDel", false},            // root key f...
	opMPop:      {"mpop", "kkt", "", "MPop", false},            // root key field
	opMPopAny:   {"mpopany", "kk", "", "MPopAny", false},       // root key
	opMGet:      {"mget", "kkt", "", "MGet", false},            // root key field
	opSAdd:      {"sadd", "kk", "t", "SAdd", false},            // root key member...
	opSRem:      {"srem", "kk", "t", "SRem", false},            // root key member...
	opPred:      {"pred", "", "ktttttt", "Pred", false},        // key tag x kind rel arg zero ...
	opReset:     {"reset", "k", "", "Reset", false},            // root
	opDrop:      {"drop", "k", "kt", "Drop", false},            // root colkey type ...
	opUnlock:    {"unlock", "ktt", "", "Unlock", false},        // lockkey token channel
	// the ops of issue #12 item 8
	opMIncr:  {"mincr", "kkttttt", "", "MIncr", false}, // root key field kind by lo hi
	opEnsure: {"ensure", "kt", "tt", "Ensure", false},  // root ttlms field value ... (ensure.go)
	// issue #14 (index.go)
	opIndex: {"ix", "ktkkk", "ttttkk", "Index", true}, // root id ids back exp name kind use coll zkey aux ...
}

// opWords are the opcodes boxed once: converting a string to an interface
// allocates, and ARGV is mostly the same few opcodes.
var opWords [numOpcodes]any

func init() {
	for i := range table {
		opWords[i] = table[i].name
	}
}

// String is the opcode's word.
func (op opcode) String() string { return table[op].name }

// emit appends one instruction: fixed laid out by the table's fixed
// letters, then the tail by its repeated letters. The typed methods are
// its only callers, so fixed always has the table's length.
func (b *Builder) emit(op opcode, tail []string, fixed ...string) {
	l := &table[op]
	n := len(fixed) + len(tail)
	b.words = append(b.words, opWords[op], number(n))
	from := len(b.shown)
	for i, s := range fixed {
		b.arg(l.fixed[i] == 'k', s)
	}
	for i, s := range tail {
		b.arg(l.tail[i%len(l.tail)] == 'k', s)
	}
	b.instrs = append(b.instrs, Instr{Op: l.name, Args: b.shown[from:len(b.shown):len(b.shown)], Owner: b.owner, Desc: b.desc})
}

// arg appends one argument: a key as its index in KEYS, a text as is.
func (b *Builder) arg(key bool, s string) {
	b.shown = append(b.shown, s)
	if key {
		b.words = append(b.words, number(b.key(s)))
	} else {
		b.words = append(b.words, boxed(&b.shown[len(b.shown)-1]))
	}
}

// Guards: checked against the data as the batch found it, before anything
// is written.

// GuardVersion fails the batch unless the model at root has the version v.
func (b *Builder) GuardVersion(root, v string) { b.emit(opGVer, nil, root, v) }

// GuardPred fails the batch unless the predicate nodes (is.Pred, lowered:
// seven words a node, in prefix order) hold on the data as the batch found
// it.
func (b *Builder) GuardPred(nodes ...string) { b.emit(opGPred, nodes) }

// GuardLock fails the batch with LOCKLOST unless the lock key holds token.
func (b *Builder) GuardLock(key, token string) { b.emit(opGLock, nil, key, token) }

// Scalars of the root hash.

// HSet sets fields of the root hash: pairs is field, value, field, value...
func (b *Builder) HSet(root string, pairs ...string) { b.emit(opHSet, pairs, root) }

// HDel removes fields of the root hash.
func (b *Builder) HDel(root string, fields ...string) { b.emit(opHDel, fields, root) }

// Incr adds the integer by to an integer field, failing the batch when the
// sum leaves [lo, hi]; it yields the sum.
func (b *Builder) Incr(root, field, by, lo, hi string) { b.emit(opIncr, nil, root, field, by, lo, hi) }

// IncrFloat adds the float by to a float field, failing the batch when the
// sum's magnitude passes max.
func (b *Builder) IncrFloat(root, field, by, max string) {
	b.emit(opIncrF, nil, root, field, by, max)
}

// Arith applies the arithmetic function fn with operand to a number field
// read as kind, failing the batch when the result leaves [lo, hi]; it
// yields the result.
func (b *Builder) Arith(root, field, fn, kind, lo, hi, operand string) {
	b.emit(opArith, nil, root, field, fn, kind, lo, hi, operand)
}

// AppendText appends text to a text field and yields the new text.
func (b *Builder) AppendText(root, field, text string) { b.emit(opSAppend, nil, root, field, text) }

// RepeatText repeats a text field times times and yields the new text.
func (b *Builder) RepeatText(root, field, times string) {
	b.emit(opSRepeat, nil, root, field, times)
}

// AddTime adds seconds and nanos to an RFC 3339 time field and yields the
// new time.
func (b *Builder) AddTime(root, field, seconds, nanos string) {
	b.emit(opTAdd, nil, root, field, seconds, nanos)
}

// Lists. root is the model's root key, key the list's.

// RPush appends vals to the list at key.
func (b *Builder) RPush(root, key string, vals ...string) { b.emit(opRPush, vals, root, key) }

// LPush prepends vals to the list at key, given in their final order.
func (b *Builder) LPush(root, key string, vals ...string) { b.emit(opLPush, vals, root, key) }

// RPop removes and yields the last element of the list at key.
func (b *Builder) RPop(root, key string) { b.emit(opRPop, nil, root, key) }

// LPop removes and yields the first element of the list at key.
func (b *Builder) LPop(root, key string) { b.emit(opLPop, nil, root, key) }

// PopAt removes and yields the element at index (Python's: negative from
// the end) of the list at key.
func (b *Builder) PopAt(root, key, index string) { b.emit(opPopAt, nil, root, key, index) }

// LSet sets the element at index of the list at key, failing the batch
// with RANGE when there is none.
func (b *Builder) LSet(root, key, index, value string) { b.emit(opLSet, nil, root, key, index, value) }

// LInsert inserts value before index (clamped) in the list at key.
func (b *Builder) LInsert(root, key, index, value string) {
	b.emit(opLInsert, nil, root, key, index, value)
}

// LDelRange removes the slice [start:stop] (Python's; stop "" for the end)
// of the list at key and yields how many elements went.
func (b *Builder) LDelRange(root, key, start, stop string) {
	b.emit(opLDelRange, nil, root, key, start, stop)
}

// LTrim keeps only the slice [start:stop] of the list at key.
func (b *Builder) LTrim(root, key, start, stop string) {
	b.emit(opLTrim, nil, root, key, start, stop)
}

// LRem removes count occurrences of value (0: all) from the list at key and
// yields how many went.
func (b *Builder) LRem(root, key, count, value string) {
	b.emit(opLRem, nil, root, key, count, value)
}

// LMove moves the element at end from ("LEFT" or "RIGHT") of the list src
// of the model at root to end to of the list dst of the model at root2,
// and yields it.
func (b *Builder) LMove(root, src, root2, dst, from, to string) {
	b.emit(opLMove, nil, root, src, root2, dst, from, to)
}

// Collections of any kind.

// Len yields the length of the collection at key, of Redis type typ.
func (b *Builder) Len(root, key, typ string) { b.emit(opLen, nil, root, key, typ) }

// Clear deletes the collection at key, of Redis type typ.
func (b *Builder) Clear(root, key, typ string) { b.emit(opClear, nil, root, key, typ) }

// Maps.

// MSet sets items of the map at key: pairs is key, value, key, value...
func (b *Builder) MSet(root, key string, pairs ...string) { b.emit(opMSet, pairs, root, key) }

// MDel removes items of the map at key and yields how many went.
func (b *Builder) MDel(root, key string, fields ...string) { b.emit(opMDel, fields, root, key) }

// MPop removes and yields the item field of the map at key.
func (b *Builder) MPop(root, key, field string) { b.emit(opMPop, nil, root, key, field) }

// MPopAny removes and yields some item of the map at key, as {field, value}.
func (b *Builder) MPopAny(root, key string) { b.emit(opMPopAny, nil, root, key) }

// MGet yields the item field of the map at key.
func (b *Builder) MGet(root, key, field string) { b.emit(opMGet, nil, root, key, field) }

// MIncr adds by to the item field of the map at key, read as kind ("int":
// HINCRBY, failing the batch when the sum leaves [lo, hi]; "float": the
// sum as Go computes it (float32 when hi is the largest float32), written
// by HSET, failing it when the sum is not finite or passes hi), a missing
// item counting as 0; it yields the new item.
func (b *Builder) MIncr(root, key, field, kind, by, lo, hi string) {
	b.emit(opMIncr, nil, root, key, field, kind, by, lo, hi)
}

// Sets.

// SAdd adds members to the set at key and yields how many were new.
func (b *Builder) SAdd(root, key string, members ...string) { b.emit(opSAdd, members, root, key) }

// SRem removes members from the set at key and yields how many went.
func (b *Builder) SRem(root, key string, members ...string) { b.emit(opSRem, members, root, key) }

// Predicates.

// Pred yields 1 when the predicate nodes (as GuardPred takes them) hold on
// the data as the batch found it, else 0.
func (b *Builder) Pred(nodes ...string) { b.emit(opPred, nodes) }

// The model as a whole.

// Reset empties the root hash but for its version (a replace).
func (b *Builder) Reset(root string) { b.emit(opReset, nil, root) }

// Drop deletes the model: its root and its collection keys, given each with
// its Redis type (keyTypes is key, type, key, type...); a key of another
// type fails the batch before anything is deleted.
func (b *Builder) Drop(root string, keyTypes ...string) { b.emit(opDrop, keyTypes, root) }

// Unlock releases the lock at key if it holds token, and publishes the
// release on channel.
func (b *Builder) Unlock(key, token, channel string) { b.emit(opUnlock, nil, key, token, channel) }
