package lock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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
	// Fill the server until it refuses a write.
	big := strings.Repeat("x", 64<<10)
	full := false
	for i := 0; i < 10000 && !full; i++ {
		err := rdb.Set(ctx, "oom:fill:"+string(rune('a'+i%26))+strings.Repeat("y", i%7)+time.Now().Format("150405.000000000"), big, 0).Err()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "OOM") {
				t.Fatalf("filling: %v", err)
			}
			full = true
		}
	}
	if !full {
		t.Fatal("the server never reported OOM")
	}
	if err := l.Extend(ctx, time.Minute); err != nil {
		t.Fatalf("Extend on a full server: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release on a full server: %v", err)
	}
	if n, err := rdb.Exists(ctx, "oom:{x}:lock").Result(); err != nil || n != 0 {
		t.Fatalf("the lock key after Release: exists=%d err=%v", n, err)
	}
	_, err = lock.Acquire(ctx, rdb, "oom:{y}:lock", lock.Options{Wait: lock.NoWait})
	if err == nil || errors.Is(err, rapyer.ErrNotAcquired) {
		t.Fatalf("Acquire on a full server: %v, want the server's refusal", err)
	}
	if n, _ := rdb.Exists(ctx, "oom:{y}:lock").Result(); n != 0 {
		t.Fatal("a refused acquisition left its lock key")
	}
}
