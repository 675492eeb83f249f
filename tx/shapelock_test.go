package tx_test

import (
	"context"
	"fmt"
	"github.com/rapyer-go/rapyer/internal/shape"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/internal/transport"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// prepareLock stores a random state of the lock key: held by token, held
// by another, absent, or of another type; with or without a waiter's flag.
func prepareLock(ctx context.Context, b *testenv.Backend, key, token string, r *rand.Rand) {
	b.Client.Del(ctx, key, key+":fence:wait")
	switch r.IntN(6) {
	case 0, 1, 2:
		b.Client.Set(ctx, key, token, time.Minute)
	case 3:
		b.Client.Set(ctx, key, "another holder", time.Minute)
	case 4:
		b.Client.HSet(ctx, key, "not", "a lock")
	}
	if r.IntN(2) == 0 {
		b.Client.Set(ctx, key+":fence:wait", "someone", time.Minute)
	}
}

// wakes is how many wake-ups reached the subscription ps of channel since
// the last call: a marker published now comes after all of them.
func wakes(ctx context.Context, t *testing.T, b *testenv.Backend, ps *redis.PubSub, channel string) int {
	t.Helper()
	if err := b.Client.Publish(ctx, channel, "marker").Err(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Payload == "marker" {
			return n
		}
		n++
	}
}

// TestLockShapesAgreeWithTheInterpreter: a model lock's save (Fenced, the
// ops, Unlock) and random batches with Fenced or Unlock among their ops,
// on random states of the model and of the lock, leave the same results,
// errors, stored state, lock key and wake-ups whether they run on their
// compiled shape or on the interpreter, on every tier.
func TestLockShapesAgreeWithTheInterpreter(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[Wallet](b.Client, rapyer.Options{Prefix: b.Prefix + "wallet"})
		target := m.Target("w")
		key := target.Root() + ":lock:eq"
		l, err := lock.Acquire(ctx, b.Client, key, lock.Options{TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Forget()
		ps := b.Client.Subscribe(ctx, lock.WakeChannel(key))
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(seed), 17))
		shape.Forget() // the tests before may have filled the process's shapes
		settled0, again0 := transport.ShapeRuns()
		for i := range 300 {
			o := randomOps(r)
			switch r.IntN(4) {
			case 0: // a model lock's save
				o = append(append([]ops.Op{ops.Fenced(l)}, o...), ops.Unlock(l))
			case 1:
				o = append([]ops.Op{ops.Fenced(l)}, o...)
			case 2:
				o = append(o, ops.Unlock(l))
			default: // the lock alone
				o = []ops.Op{ops.Fenced(l), ops.Unlock(l)}
			}
			opts := tx.Options{IfMissing: []tx.Missing{tx.FailIfMissing, tx.FailIfMissing, tx.SkipIfMissing, tx.MustBeNew}[r.IntN(4)]}
			if r.IntN(4) == 0 {
				opts.Record = tx.NoRecord
			}
			state := r.Uint64()
			run := func(exec func(context.Context, redis.UniversalClient, tx.Batch, tx.Options) (*tx.Result, error)) string {
				pr := rand.New(rand.NewPCG(state, 1))
				prepare(ctx, b, target, pr)
				prepareLock(ctx, b, key, l.Token(), pr)
				res, err := exec(ctx, b.Client, tx.Of(o...).On(target), opts)
				lk, _ := b.Client.Get(ctx, key).Result()
				return outcome(ctx, b, target, o, res, err) + fmt.Sprintf("lock %q, %d wake-ups\n", lk, wakes(ctx, t, b, ps, lock.WakeChannel(key)))
			}
			want := run(tx.ExecOnInterpreter)
			if got := run(tx.Exec); got != want {
				t.Fatalf("batch %d %v (%+v): compiled\n%s\ninterpreter\n%s", i, o, opts, got, want)
			}
		}
		settled, again := transport.ShapeRuns()
		t.Logf("%d of 300 batches settled on a compiled shape, %d left to the interpreter", settled-settled0, again-again0)
		if settled-settled0 < 50 {
			t.Fatalf("only %d of 300 batches ran on a compiled shape", settled-settled0)
		}
	})
}
