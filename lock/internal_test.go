package lock

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

// TestAcquireReplayIsIdempotent sends the same attempt twice, as go-redis
// does when a reply is lost: the second one must report the same
// acquisition, not a failure and not a new fence. Both the plain script and
// the transaction of Options.Load.
func TestAcquireReplayIsIdempotent(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := b.Prefix + ":{replay}:lock:x"
		for _, opts := range []Options{{}, {Load: func(redis.Pipeliner) {}}, {Wait: NoWait}, {Wait: NoWait, Load: func(redis.Pipeliner) {}}} {
			o, err := opts.resolve()
			if err != nil {
				t.Fatal(err)
			}
			a := newAcquirer(b.Client, key, o)
			if o.noWait && (a.fn != lua.AcquireFenced || len(a.cmd) != 7) {
				t.Fatalf("a fenced attempt that will not wait sends %v to %s, want token, TTL and fence life to acquiref", a.cmd[4:], a.fn.Name())
			}
			first, err := a.try(t.Context())
			if err != nil || !first.ok {
				t.Fatalf("first attempt: %+v, %v", first, err)
			}
			again, err := a.try(t.Context())
			if err != nil || !again.ok || again.fence != first.fence {
				t.Fatalf("replayed attempt: %+v, %v; first had fence %d", again, err, first.fence)
			}
			other := newAcquirer(b.Client, key, o)
			lost, err := other.try(t.Context())
			if err != nil || lost.ok || lost.pttl <= 0 {
				t.Fatalf("another token's attempt: %+v, %v; want not ok with the holder's PTTL", lost, err)
			}
			b.Client.Del(t.Context(), key)
		}
	})
}

// TestLateAttemptAfterGiveUp: Acquire gives up an acquisition whose
// outcome it does not know; a request of it that reaches the server after
// that clean-up (sent on a connection abandoned at a deadline, so nothing
// orders it after the clean-up) must not take the lock, whether or not an
// earlier request of it had taken the lock. Other tokens are not affected.
func TestLateAttemptAfterGiveUp(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := b.Prefix + ":{late}:lock:x"
		for _, opts := range []Options{{}, {Load: func(redis.Pipeliner) {}}, {Wait: NoWait}, {Wait: NoWait, Load: func(redis.Pipeliner) {}}} {
			o, err := opts.resolve()
			if err != nil {
				t.Fatal(err)
			}
			for _, landedFirst := range []bool{false, true} {
				a := newAcquirer(b.Client, key, o)
				if landedFirst {
					if at, err := a.try(t.Context()); err != nil || !at.ok {
						t.Fatalf("first attempt: %+v, %v", at, err)
					}
				}
				a.giveUp(t.Context())
				if n := b.Client.Exists(t.Context(), key).Val(); n != 0 {
					t.Fatal("giving up left the lock held")
				}
				late, err := a.try(t.Context())
				if late.ok || !errors.Is(err, errVoid) {
					t.Fatalf("a late attempt after giving up: %+v, %v; want refused with errVoid", late, err)
				}
				if n := b.Client.Exists(t.Context(), key).Val(); n != 0 {
					t.Fatal("a late attempt after giving up took the lock")
				}
				if ttl := b.Client.PTTL(t.Context(), voidKey(key, a.token)).Val(); ttl <= 0 {
					t.Fatalf("the marker of a given-up token has TTL %v, want a finite one", ttl)
				}
				other := newAcquirer(b.Client, key, o)
				if at, err := other.try(t.Context()); err != nil || !at.ok {
					t.Fatalf("another token after the give-up: %+v, %v", at, err)
				}
				b.Client.Del(t.Context(), key)
			}
		}
	})
}

func TestOptionDefaults(t *testing.T) {
	o, err := Options{}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if o.ttl != 10*time.Second || o.wait != 10*time.Second || o.retryMin != time.Millisecond ||
		o.retryMax != 50*time.Millisecond || o.noWait || o.autoExtend || o.load != nil {
		t.Fatalf("defaults: %+v", o)
	}
	o, _ = Options{TTL: 1500 * time.Microsecond, Wait: NoWait, RetryMin: time.Second}.resolve()
	if o.ttl != 2*time.Millisecond || !o.noWait || o.retryMax != time.Second {
		t.Fatalf("rounding and clamping: %+v", o)
	}
	if _, err := (Options{RetryMin: time.Second, RetryMax: time.Millisecond}).resolve(); !errors.Is(err, errs.Invalid) {
		t.Fatalf("RetryMin longer than the RetryMax given: %v; want ErrInvalid", err)
	}
}

// A fence counter that is not a fence (not a whole number, one below
// zero, one at or above 2^53) fails the acquisition with ErrCorrupt, leaves no lock behind,
// and is left as it was, text and TTL, also where INCR could count it up.
func TestCorruptFenceCounter(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for i, v := range []string{"not a number", "1.5", "-3", "-1", "-10", "-9007199254740993",
			"99999999999999999", "9007199254740992", "9007199254741000", "9223372036854775807"} {
			key := b.Prefix + ":{corrupt}:lock:" + strconv.Itoa(i)
			b.Client.Set(t.Context(), FenceKey(key), v, 10*time.Minute)
			if _, err := Acquire(t.Context(), b.Client, key, Options{}); !errors.Is(err, errs.Corrupt) {
				t.Fatalf("Acquire with a fence counter %q: %v, want ErrCorrupt", v, err)
			}
			if n := b.Client.Exists(t.Context(), key).Val(); n != 0 {
				t.Fatalf("fence counter %q: the lock key was left behind", v)
			}
			if got := b.Client.Get(t.Context(), FenceKey(key)).Val(); got != v {
				t.Fatalf("fence counter %q: now %q, want it left as it was", v, got)
			}
			if ttl := b.Client.PTTL(t.Context(), FenceKey(key)).Val(); ttl <= 0 {
				t.Fatalf("fence counter %q: its TTL is gone (%v)", v, ttl)
			}
		}
	})
}

// TestRefusedSubscriptionPolls: a waiter whose SUBSCRIBE the server refuses
// (a Redis 7 user without channel permission) does not wait for a
// confirmation that never comes: it polls from RetryMin. With RetryMax a
// minute, waiting for the confirmation would outlast the test's patience.
func TestRefusedSubscriptionPolls(t *testing.T) {
	b := testenv.On(t, testenv.Server)
	ctx := t.Context()
	name := "lock_refused_" + b.Prefix
	if err := b.Client.Do(ctx, "ACL", "SETUSER", name, "reset", "on", ">pw", "~"+b.Prefix+"*", "resetchannels", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Client.Do(context.Background(), "ACL", "DELUSER", name) })
	rdb := b.NewClient(t, func(o *redis.UniversalOptions) { o.Username, o.Password = name, "pw" })
	key := b.Prefix + ":{refused}:lock:x"
	held, err := Acquire(ctx, rdb, key, Options{TTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := Acquire(ctx, rdb, key, Options{Wait: 10 * time.Minute, RetryMin: time.Millisecond, RetryMax: time.Minute})
		if err == nil {
			err = l.Release(ctx)
		}
		got <- err
	}()
	refused := func() bool {
		wake.mu.Lock()
		defer wake.mu.Unlock()
		h := wake.hubs[rdb]
		if h == nil {
			return false
		}
		wc := h.chans[WakeChannel(key)]
		return wc != nil && wc.refused
	}
	deadline := time.Now().Add(20 * time.Second)
	for !refused() {
		if time.Now().After(deadline) {
			t.Fatal("the waiter's SUBSCRIBE was never refused")
		}
		time.Sleep(time.Millisecond)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatalf("Release as a user without channels: %v", err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiter whose subscription was refused did not get the lock")
	}
}
