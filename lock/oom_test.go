package lock_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestReleaseWhenOutOfMemory: a server at its maxmemory with noeviction
// refuses commands that need memory, and refuses Redis Functions that are
// not flagged allow-oom. A held lock must still be released and extended
// then (both only free memory or need none), so that it does not outlive
// its work until its TTL; a new acquisition is refused with the server's
// OOM error and leaves nothing held.
func TestReleaseWhenOutOfMemory(t *testing.T) {
	srv := testenv.StartServer(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	rdb := srv.Client(t)
	ctx := context.Background()
	l, err := lock.Acquire(ctx, rdb, "oom:{x}:lock", lock.Options{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	fillUntilOOM(t, rdb)
	if err := l.Extend(ctx, time.Minute); err != nil {
		t.Fatalf("Extend on a full server: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release on a full server: %v", err)
	}
	if n, err := rdb.Exists(ctx, "oom:{x}:lock").Result(); err != nil || n != 0 {
		t.Fatalf("the lock key after Release: exists=%d err=%v", n, err)
	}
	// The release freed a little memory: fill again, so the acquisition
	// meets a full server (without this, it can fit under the limit).
	fillUntilOOM(t, rdb)
	_, err = lock.Acquire(ctx, rdb, "oom:{y}:lock", lock.Options{Wait: lock.NoWait})
	if err == nil || errors.Is(err, rapyer.ErrNotAcquired) {
		t.Fatalf("Acquire on a full server: %v, want the server's refusal", err)
	}
	if n, _ := rdb.Exists(ctx, "oom:{y}:lock").Result(); n != 0 {
		t.Fatal("a refused acquisition left its lock key")
	}
}

// fillUntilOOM writes values until the server refuses them with OOM: 64 KiB
// ones, then 1 KiB, then 16 bytes. A refused write's own arguments count
// toward the limit while it is parsed, so a server that refused a 64 KiB
// value may still take a small one; the last, small values leave it over
// the limit for every command that needs memory.
func fillUntilOOM(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	for _, size := range []int{64 << 10, 1 << 10, 16} {
		value := strings.Repeat("x", size)
		for i := 0; ; i++ {
			if i == 100000 {
				t.Fatalf("the server never refused a value of %d bytes", size)
			}
			err := rdb.Set(ctx, fmt.Sprintf("oom:fill:%d:%d", size, i), value, 0).Err()
			if err == nil {
				continue
			}
			if !strings.HasPrefix(err.Error(), "OOM") {
				t.Fatalf("filling: %v", err)
			}
			break
		}
	}
}
