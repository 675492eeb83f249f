package tx

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/transport"
)

// Built is one program of a batch, built once (one batch id), that a test
// sends by each path the library has: so that the same batch, and its
// resends, can be compared across them.
type Built struct {
	p    *prog.Program
	b    Batch
	opts Options
}

// BuildProgram builds b's program as Exec does.
func BuildProgram(rdb redis.UniversalClient, b Batch, opts Options) (*Built, error) {
	p, err := build(mustCompile(b, opts), rdb, opts)
	if err != nil {
		return nil, err
	}
	return &Built{p: p, b: b, opts: opts}, nil
}

// Direct sends the batch by a Save's direct path (Exec's path for a plain
// Save) with the program's batch id, as Exec sends it; direct is false when the batch
// is not a plain Save, and nothing was sent.
func (b *Built) Direct(ctx context.Context, rdb redis.UniversalClient) (res *Result, direct bool, err error) {
	id, _ := b.p.Argv[0].(string)
	res, direct, err = saveDirect(ctx, rdb, b.b, b.opts, id)
	return res, direct, err
}

// Record is the program's record key ("" for none).
func (b *Built) Record() string { return b.p.Record() }

// Exec sends the program as Exec does (its compiled shape first), once.
func (b *Built) Exec(ctx context.Context, rdb redis.UniversalClient) (*Result, error) {
	return b.decode(transport.RunTx(ctx, rdb, b.p))
}

// Lean sends the program as the interpreter's FCALL, which runs a lean
// program on its lean form (save in batch.lua).
func (b *Built) Lean(ctx context.Context, rdb redis.UniversalClient) (*Result, error) {
	return b.decode(transport.Run(ctx, rdb, b.p))
}

// Interpreter sends the program to the generic interpreter, lean or not.
func (b *Built) Interpreter(ctx context.Context, rdb redis.UniversalClient) (*Result, error) {
	w := b.p.Argv[5]
	if b.p.Lean() {
		b.p.Argv[5] = "model"
	}
	defer func() { b.p.Argv[5] = w }()
	return b.decode(transport.Run(ctx, rdb, b.p))
}

func (b *Built) decode(reply any, err error) (*Result, error) {
	if err != nil {
		return nil, err
	}
	out, err := transport.Decode(b.p, reply)
	if err != nil {
		return nil, err
	}
	return newResult(b.p, out), nil
}

// DirectShapes counts the shapes the direct path found for t's model: of
// a compiled save, and those that go by a program.
func DirectShapes(t Target) (compiled, program int) {
	return countShapes(saveShapes.load(), t, func(e *saveShape) (*schema.Model, bool) { return e.model, e.shape != nil })
}

// countShapes counts the shapes of l for t's model (of says whose each is,
// and whether it is compiled): of a compiled call, and those that go by a
// program.
func countShapes[E any](l []E, t Target, of func(E) (*schema.Model, bool)) (compiled, program int) {
	for _, e := range l {
		switch m, ok := of(e); {
		case m != t.t.Model:
		case ok:
			compiled++
		default:
			program++
		}
	}
	return compiled, program
}

// SetAsideSaveShapes empties the direct path's list of shapes for a test
// that fills it, and returns what puts the list back as it was.
func SetAsideSaveShapes() (restore func(), count func() int) {
	old := saveShapes.p.Load()
	saveShapes.p.Store(nil)
	count = func() int { return len(saveShapes.load()) }
	return func() { saveShapes.p.Store(old) }, count
}

// LockDirect sends the batch by a model Lock save's direct path (Exec's
// path for such a save) with the program's batch id, as Exec sends it;
// direct is false when the batch is not such a save, and nothing was sent.
func (b *Built) LockDirect(ctx context.Context, rdb redis.UniversalClient) (res *Result, direct bool, err error) {
	id, _ := b.p.Argv[0].(string)
	return lockDirect(ctx, rdb, b.b, b.opts, id)
}

// LockShapes counts the shapes the lock save's direct path found for t's
// model: of a compiled batch, and those that go by a program.
func LockShapes(t Target) (compiled, program int) {
	return countShapes(lockShapes.load(), t, func(e *lockShape) (*schema.Model, bool) { return e.model, e.shape != nil })
}

// LockDirectSent is how many model Lock saves the direct path sent.
func LockDirectSent() int64 { return lockDirectSent.Load() }

// ID is the program's batch id.
func (b *Built) ID() string { id, _ := b.p.Argv[0].(string); return id }

// CompiledSave is the program's compiled save, when it has one: its
// script's text, and the keys and ARGV words of its call (Shape.Command's).
func (b *Built) CompiledSave() (text string, keys []string, args []any, ok bool) {
	s := shape.For(b.p)
	if s == nil || s.Text == "" {
		return "", nil, nil, false
	}
	cmd := s.Command(b.p)
	nk, _ := strconv.Atoi(fmt.Sprint(cmd[2]))
	for _, k := range cmd[3 : 3+nk] {
		keys = append(keys, fmt.Sprint(k))
	}
	return s.Text, keys, cmd[3+nk:], true
}
