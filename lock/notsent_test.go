package lock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestExtendAndReleaseTypeARequestNotSent: an Extend with a context that
// ended first, and an Extend or a Release on a closed client, fail with
// ErrNotSent (and the cause) and leave the lock's key as it was; on every
// tier.
func TestExtendAndReleaseTypeARequestNotSent(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		rdb := b.NewClient(t, nil)
		key := "{" + b.Prefix + "lk}"
		l, err := lock.Acquire(ctx, rdb, key, lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		held := func(what string) {
			t.Helper()
			if n, err := b.Client.Exists(ctx, key).Result(); err != nil || n != 1 {
				t.Fatalf("after %s the lock's key: %d %v, want it held", what, n, err)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := l.Extend(cctx, 0); !errors.Is(err, rapyer.ErrNotSent) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Extend with a cancelled context: %v, want ErrNotSent and context.Canceled", err)
		}
		held("Extend with a cancelled context")
		if err := rdb.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.Extend(ctx, 0); !errors.Is(err, rapyer.ErrNotSent) || !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("Extend on a closed client: %v, want ErrNotSent and redis.ErrClosed", err)
		}
		held("Extend on a closed client")
		if err := l.Release(ctx); !errors.Is(err, rapyer.ErrNotSent) || !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("Release on a closed client: %v, want ErrNotSent and redis.ErrClosed", err)
		}
		held("Release on a closed client")
	})
}
