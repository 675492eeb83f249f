package tx

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/transport"
)

// ExecOnInterpreter is Exec with the program sent to the batch interpreter
// even when it is lean, and no resend: the lean form's tests compare the two.
func ExecOnInterpreter(ctx context.Context, rdb redis.UniversalClient, b Batch, opts Options) (*Result, error) {
	pb, err := compile(b, opts.mode())
	if err != nil {
		return nil, err
	}
	p, err := build(pb, rdb, opts)
	if err != nil {
		return nil, err
	}
	if p.Lean() {
		p.Argv[5] = "model" // the interpreter's own declaration
	}
	reply, err := transport.Run(ctx, rdb, p)
	if err != nil {
		return nil, err
	}
	out, err := transport.Decode(p, reply)
	if err != nil {
		return nil, err
	}
	return newResult(p, out), nil
}

// IsLean reports whether Exec runs b on the lean form.
func IsLean(rdb redis.UniversalClient, b Batch, opts Options) bool {
	p, err := build(mustCompile(b, opts), rdb, opts)
	return err == nil && p.Lean()
}

// Keys are the keys of t: its root and every collection key.
func Keys(t Target) []string { return append([]string{t.t.Root}, t.t.CollectionKeys()...) }

func mustCompile(b Batch, opts Options) *prog.Builder {
	pb, err := compile(b, opts.mode())
	if err != nil {
		panic(err)
	}
	return pb
}
