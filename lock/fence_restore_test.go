package lock_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// fenceRun takes and releases the lock at key n times, checking that every
// fence is above *prev (the highest given out so far), and moves *prev up.
func fenceRun(t *testing.T, rdb redis.UniversalClient, key, what string, n int, prev *int64) {
	t.Helper()
	for i := range n {
		l := mustAcquire(t, rdb, key, lock.Options{Wait: lock.NoWait})
		if l.Fence() <= *prev {
			t.Fatalf("%s (%d): fence %d, not above %d given out before", what, i, l.Fence(), *prev)
		}
		*prev = l.Fence()
		if err := l.Release(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// A fence key that goes back to an older value with its TTL, as a server
// restarted from a snapshot (an RDB file, or an append-only file that lost
// its last second: appendfsync everysec) or a promoted replica that missed
// the last writes has it: the fences given out after that value must not
// be given out again. They were from an INCR of the stored value alone
// (session 8 of issue #13): the next acquisitions repeated them, one for
// one, whatever the clock. Every fence is at most the clock of its call,
// so the clock, read with the stored value, is above them all.
func TestFenceSurvivesAnOlderFenceKey(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		key := lockKey(b, "fenceold")
		fk := lock.FenceKey(key)
		var prev int64
		fenceRun(t, b.Client, key, "before", 3, &prev)
		old, err := b.Client.Get(ctx, fk).Result()
		if err != nil {
			t.Fatal(err)
		}
		ttl := b.Client.PTTL(ctx, fk).Val()
		fenceRun(t, b.Client, key, "after the snapshot", 5, &prev)
		b.Client.Set(ctx, fk, old, ttl) // the snapshot comes back
		fenceRun(t, b.Client, key, "after the fence key went back", 5, &prev)
	})
}

// The same on a real server restarted from its RDB snapshot after SIGKILL:
// the fence key, the lock key and all come back as they were at SAVE.
func TestFenceSurvivesARestartFromASnapshot(t *testing.T) {
	s := testenv.StartServer(t)
	rdb := s.Client(t)
	ctx := t.Context()
	key := "fence:{restart}:lock:test"
	var prev int64
	fenceRun(t, rdb, key, "before", 3, &prev)
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	fenceRun(t, rdb, key, "after SAVE", 5, &prev)
	s.Restart(t) // SIGKILL, then load dump.rdb
	if n := rdb.Exists(ctx, lock.FenceKey(key)).Val(); n != 1 {
		t.Fatalf("the fence key was not restored from the snapshot (EXISTS %d): the test proves nothing", n)
	}
	fenceRun(t, rdb, key, fmt.Sprintf("after the restart (%v)", time.Now().Format(time.TimeOnly)), 5, &prev)
}
