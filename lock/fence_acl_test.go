package lock_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// userWithout makes a lock user (lockRules, as FCALL or scripts) without
// the rule drop.
func userWithout(t *testing.T, b *testenv.Backend, drop string) *lockUser {
	t.Helper()
	if err := lua.Library.Load(t.Context(), b.Client); err != nil {
		t.Fatal(err)
	}
	rules := append([]string{"~" + b.Prefix + "*", "&*", "+fcall", "+evalsha", "+eval", "+multi", "+exec"}, connRules...)
	for _, r := range lockRules {
		if r != drop {
			rules = append(rules, r)
		}
	}
	return &lockUser{t: t, b: b, rdb: aclClient(t, b, rules...)}
}

// TestFenceWithoutPExpire: a user who may INCR but not PEXPIRE (one
// command short of the documented line) is either given the lock with the
// next fence, or refused with a typed error that leaves no lock held and
// the fence key as it was; it is never left holding a lock it was told it
// did not get.
func TestFenceWithoutPExpire(t *testing.T) {
	onReal(t, func(t *testing.T, b *testenv.Backend) {
		u := userWithout(t, b, "+pexpire")
		key := lockKey(b, "nopexpire")
		for i, fence := range []int64{1700000000000000, 42} {
			b.Client.Set(t.Context(), lock.FenceKey(key), fence, 0)
			u.acquireOrNothing(i, key, fence)
		}
	})
}

// TestFenceWithoutTime: a user who may not read the server's clock (TIME)
// is refused a lock whose fence key is gone with a typed error, and the
// refusal leaves no lock held and no fence key: the next acquisition, by a
// user who may, gets a fence above every fence given out before (fences
// never go backwards).
func TestFenceWithoutTime(t *testing.T) {
	onReal(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		u := userWithout(t, b, "+time")
		key := lockKey(b, "notime")
		first := mustAcquire(t, b.Client, key, lock.Options{})
		if err := first.Release(ctx); err != nil {
			t.Fatal(err)
		}
		b.Client.Del(ctx, lock.FenceKey(key)) // as if it had expired
		u.acquireOrNothing(0, key, 0)
		next := mustAcquire(t, b.Client, key, lock.Options{})
		defer func() { _ = next.Release(ctx) }()
		if next.Fence() <= first.Fence() {
			t.Fatalf("fence %d after %d: the fences went backwards", next.Fence(), first.Fence())
		}
	})
}

// TestFenceWithoutPTTL: a user who may not read the fence key's PTTL (one
// command short of the documented line) still takes fenced locks, and its
// acquisitions keep the fence key living past the lock: a fenced
// acquisition writes the key's TTL without reading it (session 17).
func TestFenceWithoutPTTL(t *testing.T) {
	onReal(t, func(t *testing.T, b *testenv.Backend) {
		ctx := t.Context()
		u := userWithout(t, b, "+pttl")
		key := lockKey(b, "nopttl")
		b.Client.Set(ctx, lock.FenceKey(key), 42, time.Second)
		u.acquireOrNothing(0, key, 42)
		if got, _ := b.Client.Get(ctx, lock.FenceKey(key)).Int64(); got <= 42 {
			t.Fatalf("the fence key holds %d after the user's acquisition, want above 42", got)
		}
		if ttl := b.Client.PTTL(ctx, lock.FenceKey(key)).Val(); ttl <= time.Minute {
			t.Fatalf("the fence key lives %v after the user's acquisition, want more than the lock's TTL and a minute", ttl)
		}
	})
}

// lockUser is an ACL user's client on a backend.
type lockUser struct {
	t   *testing.T
	b   *testenv.Backend
	rdb redis.UniversalClient
}

// acquireOrNothing acquires key as u: it must get the lock with a fence
// above fence (the fence key's value, 0 for none) and release it, or be
// refused with a typed error that leaves no lock key and the fence key as
// it was (none for 0).
func (u *lockUser) acquireOrNothing(i int, key string, fence int64) {
	t, ctx := u.t, u.t.Context()
	t.Helper()
	l, err := lock.Acquire(ctx, u.rdb, key, lock.Options{Wait: lock.NoWait})
	if err == nil {
		if l.Fence() <= fence {
			t.Fatalf("case %d: fence %d after %d", i, l.Fence(), fence)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("case %d: Release: %v", i, err)
		}
		return
	}
	if !errors.Is(err, errs.NoPermission) {
		t.Fatalf("case %d: %v; want ErrNoPermission", i, err)
	}
	if n := u.b.Client.Exists(ctx, key).Val(); n != 0 {
		t.Fatalf("case %d: the refused acquisition left the lock key held (%q, pttl %v): %v", i,
			u.b.Client.Get(ctx, key).Val(), u.b.Client.PTTL(ctx, key).Val(), err)
	}
	got, gerr := u.b.Client.Get(ctx, lock.FenceKey(key)).Result()
	switch {
	case fence == 0 && !errors.Is(gerr, redis.Nil):
		t.Fatalf("case %d: the refused acquisition left a fence key %q (pttl %v)", i, got, u.b.Client.PTTL(ctx, lock.FenceKey(key)).Val())
	case fence != 0 && got != strconv.FormatInt(fence, 10):
		t.Fatalf("case %d: the fence key holds %q (%v), was %d", i, got, gerr, fence)
	}
}
