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

// TestUntaggedKeyOnACluster: on a cluster a lock key without a hash tag
// would put its fence and wait keys in other slots, and every attempt was
// refused by the server with an obscure script error (ErrRefused); it is
// refused before anything is sent with rapyer.ErrCrossSlot, as a batch
// across slots is (DESIGN 5.11). On one server such a key works.
func TestUntaggedKeyOnACluster(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		c := testenv.CountRoundTrips(b.Client)
		l, err := lock.Acquire(ctx, b.Client, b.Prefix+"plain", lock.Options{Wait: lock.NoWait})
		if b.Kind != testenv.Cluster {
			if err != nil {
				t.Fatalf("an untagged lock key on one server: %v", err)
			}
			_ = l.Release(ctx)
			return
		}
		if !errors.Is(err, rapyer.ErrCrossSlot) {
			t.Fatalf("an untagged lock key on a cluster: %v, %v; want ErrCrossSlot", l, err)
		}
		if n := c.Count(); n != 0 {
			t.Fatalf("the refusal sent %d round trips (%s), want 0", n, c)
		}
		tagged, err := lock.Acquire(ctx, b.Client, "{"+b.Prefix+"plain}", lock.Options{Wait: lock.NoWait})
		if err != nil {
			t.Fatalf("a tagged lock key on a cluster: %v", err)
		}
		_ = tagged.Release(ctx)
	})
}
