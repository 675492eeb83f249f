// Package transport sends the programs package prog builds to the batch
// interpreter and reads what comes back: the go-redis side of a batch. It
// runs a program as one FCALL (or EVALSHA on servers without functions)
// inside MULTI/EXEC, queues one in an optimistic transaction, decodes the
// interpreter's replies into typed errors and results, and decodes batch
// records. Package prog stays pure: it builds and lays out, and knows no
// client.
package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/reply"
)

// Interpreter is the batch interpreter's entry point (package lua).
var Interpreter = lua.Batch

// Script is the interpreter as a script, as servers without functions run
// it.
var Script = Interpreter.Script()

// Run sends the program as one FCALL, or one EVALSHA on servers without
// functions, loading the library or the script first when the server lacks
// it (Interpreter.Run).
func Run(ctx context.Context, c redis.UniversalClient, p *prog.Program) (any, error) {
	return Interpreter.Run(ctx, c, p.Command()).Result()
}

// RunTx sends the program as Run does, each send inside MULTI/EXEC, which
// go-redis never resends after writing it (script.Func.RunTx). A program
// of a compiled shape (package shape) goes to its script first, and to the
// interpreter when the script leaves it there (runShape).
func RunTx(ctx context.Context, c redis.UniversalClient, p *prog.Program) (any, error) {
	if res, done, err := runShape(ctx, c, p); done {
		return res, err
	}
	r, err := Interpreter.RunTx(ctx, c, p.Command(), emptyProgram)
	if err != nil {
		return nil, err
	}
	return r.Result()
}

// RunInterpreter is RunTx without the compiled shape: for a program whose
// shape answered {'AGAIN'} already (a Save's direct path in tx).
func RunInterpreter(ctx context.Context, c redis.UniversalClient, p *prog.Program) (any, error) {
	r, err := Interpreter.RunTx(ctx, c, p.Command(), emptyProgram)
	if err != nil {
		return nil, err
	}
	return r.Result()
}

// MayRunTx sends the interpreter's empty program (it writes nothing) in
// MULTI/EXEC, as RunTx sends a batch: a caller that runs several batches
// learns before the first that this user may not send MULTI, EXEC or the
// call (the server's refusal, its error), rather than after some applied
// (a compiled shape's batch needs no MULTI, the interpreter's does).
func MayRunTx(ctx context.Context, c redis.UniversalClient) error {
	_, err := Interpreter.RunTx(ctx, c, emptyProgram(), emptyProgram)
	if re := redis.Error(nil); errors.As(err, &re) && reply.MultiRefused(re) {
		// the empty program ran unqueued, and it writes nothing: a refusal
		return re
	}
	return err
}

// emptyProgram is a call of the interpreter that does nothing (no keys, no
// record, no instruction): how RunTx learns how a server runs it.
func emptyProgram() []any { return []any{nil, nil, "0", "", "0", "0", "0", "0"} }

// Queue queues the program on pipe, a transaction of c. If the reply is an
// error, Interpreter.Recover says whether to queue it again.
func Queue(ctx context.Context, c redis.UniversalClient, pipe redis.Pipeliner, p *prog.Program) *redis.Cmd {
	return Interpreter.Queue(ctx, c, pipe, p.Command())
}

// Outcome is a decoded reply.
type Outcome struct {
	// Skipped: a model was missing and the batch ran in Skip mode.
	Skipped bool
	// Duplicate: the batch id had been applied before; Results are the first run's.
	Duplicate bool
	// NotKept: a duplicate whose first run's results were larger than
	// RecordCap, so its record kept only that it was applied.
	NotKept bool
	// Results holds one raw reply per instruction (nil for none).
	Results []any
}

// Decode reads the interpreter's reply to p. Failures come back as errors wrapping
// the sentinel of their code and naming the op that failed: every reply
// gives a typed error. A failure after the batch's first write (which the
// interpreter's checks are there to prevent) wraps errs.PartlyApplied; a
// refusal of the server before it, the sentinel of its cause, or
// errs.Refused. A reply of no known shape (another interpreter answered?)
// wraps errs.UnknownOutcome: what ran is not known.
func Decode(p *prog.Program, reply any) (*Outcome, error) {
	out := new(Outcome)
	if err := DecodeInto(out, p, reply); err != nil {
		return nil, err
	}
	return out, nil
}

// DecodeInto is Decode into out, which the caller may keep on its stack
// (one allocation a batch fewer); out is left as it was on an error.
func DecodeInto(out *Outcome, p *prog.Program, reply any) error {
	o, err := decode(p, reply)
	if err == nil {
		*out = o
	}
	return err
}

func decode(p *prog.Program, reply any) (Outcome, error) {
	arr, ok := reply.([]any)
	if !ok || len(arr) == 0 {
		return Outcome{}, fmt.Errorf("%w: unexpected reply from the batch interpreter: %v", errs.UnknownOutcome, reply)
	}
	status, _ := arr[0].(string)
	switch status {
	case "OK", "DUP":
		res := arr[1:]
		if len(res) > p.Decls() {
			res = res[p.Decls():]
		} else {
			// A record of a batch whose instructions yielded nothing.
			res = nil
		}
		return Outcome{Duplicate: status == "DUP", Results: res}, nil
	case "DUPX":
		return Outcome{Duplicate: true, NotKept: true}, nil
	case "SKIP":
		return Outcome{Skipped: true}, nil
	case "ERR":
		code, _ := at(arr, 1).(string)
		n, _ := strconv.Atoi(fmt.Sprint(at(arr, 2)))
		msg, _ := at(arr, 3).(string)
		if code == "PRECOND" && len(arr) > 4 {
			return Outcome{}, guardFailure(p, n, msg, arr[4:])
		}
		return Outcome{}, failure(p, code, n, msg)
	}
	return Outcome{}, fmt.Errorf("%w: unexpected reply from the batch interpreter: %v", errs.UnknownOutcome, reply)
}

func at(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// codes are the error codes of the interpreter (fail in batch.lua) and
// their sentinels. A code not here maps to errs.Refused.
var codes = map[string]error{
	"NOTFOUND":  errs.NotFound,
	"EXISTS":    errs.Exists,
	"PRECOND":   errs.Precondition,
	"WRONGTYPE": errs.WrongType,
	"CORRUPT":   errs.Corrupt,
	"OVERFLOW":  errs.Overflow,
	"RANGE":     errs.OutOfRange,
	"ARG":       errs.Invalid,
	"PARTIAL":   errs.PartlyApplied,
	"NOPERM":    errs.NoPermission,
	"UNSUP":     errs.Unsupported,
	"LIMIT":     errs.TooLarge,
	"REFUSED":   errs.Refused,
	"LOCKLOST":  errs.LockLost,
	"DUPLICATE": errs.Duplicate,
}

func failure(p *prog.Program, code string, n int, msg string) error {
	sentinel, ok := codes[code]
	if !ok {
		sentinel, msg = errs.Refused, code+": "+msg
	}
	if i := n - 1 - p.Decls(); i >= 0 && i < len(p.Instrs) {
		return fmt.Errorf("%w: %s: %s", sentinel, p.Instrs[i].Describe(), msg)
	}
	// a check of a model the batch declares (its message names the key),
	// or of the batch as a whole
	return fmt.Errorf("%w: %s", sentinel, msg)
}

// guardFailure is the error of guard instruction n that did not hold:
// what the interpreter read comes apart from its message, as
// {field, seen}, seen absent (or nil) when it found nothing.
func guardFailure(p *prog.Program, n int, msg string, read []any) error {
	ge := &errs.GuardError{Op: "guard", Index: -1, Detail: msg, Missing: true}
	if f, ok := read[0].(string); ok {
		ge.Field = keys.FieldPath(f)
	}
	if len(read) > 1 && read[1] != nil {
		ge.Seen, ge.Missing = fmt.Sprint(read[1]), false
	}
	if i := n - 1 - p.Decls(); i >= 0 && i < len(p.Instrs) {
		ge.Op, ge.Index = p.Instrs[i].Describe(), p.Instrs[i].Item
	}
	return ge
}

// RecordCap is the largest encoding of a batch's results that its record
// keeps (batch.lua RECORD_CAP); a larger one is recorded as "applied, results
// not kept". 1 KiB holds the results of every batch of counters, lengths,
// flags and small values (a typical record is 10-60 bytes), while a batch
// that yields a large text or element (an AppendText on a 10 MB field) no
// longer copies it into a record: the worst record costs about 1.2 KB
// instead of the size of its reply.
const RecordCap = 1024

// DecodeRecord reads a batch record (what batch.lua's recorded() stored)
// back into the shape of the script's reply to a resend: {"DUP", results...}
// or {"DUPX"} when the results were not kept. Anything else recorded()
// never writes ('[]', '{}', an object, text) is errs.Corrupt.
func DecodeRecord(s string) (any, error) {
	switch s {
	case "1":
		return []any{"DUP"}, nil
	case "0":
		return []any{"DUPX"}, nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("%w: batch record: %v", errs.Corrupt, err)
	}
	var conv func(any) any
	conv = func(x any) any {
		switch t := x.(type) {
		case bool:
			return nil
		case []any:
			for i := range t {
				t[i] = conv(t[i])
			}
			return t
		case float64:
			return int64(t)
		}
		return x
	}
	res, ok := conv(v).([]any)
	if !ok || len(res) == 0 {
		return nil, fmt.Errorf("%w: batch record is not a list of results", errs.Corrupt)
	}
	return append([]any{"DUP"}, res...), nil
}
