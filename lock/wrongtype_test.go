package lock_test

import (
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestLockKeyOfTheWrongType: a lock key that holds another Redis type
// (corrupt data, or a key planted under a lock's name) is refused with an
// error wrapping rapyer.ErrWrongType, as every other key of the wrong type
// is (DESIGN 5.12), and the refusal takes nothing: before, it was a bare
// ErrRefused on redis-server and a script-compile error on miniredis.
func TestLockKeyOfTheWrongType(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		for _, plant := range []string{"hash", "list", "set"} {
			k := "{" + b.Prefix + "wrong-" + plant + "}"
			switch plant {
			case "hash":
				b.Client.HSet(ctx, k, "a", "b")
			case "list":
				b.Client.RPush(ctx, k, "x")
			case "set":
				b.Client.SAdd(ctx, k, "x")
			}
			for _, o := range []lock.Options{{Wait: lock.NoWait}, {Wait: lock.NoWait, NoFence: true}} {
				l, err := lock.Acquire(ctx, b.Client, k, o)
				if !errors.Is(err, rapyer.ErrWrongType) {
					t.Fatalf("a lock key holding a %s (NoFence %v): %v, %v; want ErrWrongType", plant, o.NoFence, l, err)
				}
			}
			if ty := b.Client.Type(ctx, k).Val(); ty != plant {
				t.Fatalf("the planted %s became a %s", plant, ty)
			}
		}
	})
}
