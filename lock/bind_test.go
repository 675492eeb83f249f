package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestBind: a bound context ends with its parent, on Release, and when the
// lock is known lost (its TTL by the local clock, or an Extend that finds
// another token), with Context's causes.
func TestBind(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		key := lockKey(b, "bind")

		// the parent's cancellation, with its cause; the lock stays held
		l := mustAcquire(t, b.Client, key, lock.Options{TTL: time.Minute})
		parent, cancelParent := context.WithCancelCause(t.Context())
		ctx, stop := l.Bind(parent)
		if ctx.Err() != nil {
			t.Fatalf("bound context of a held lock: %v", ctx.Err())
		}
		why := errors.New("parent gone")
		cancelParent(why)
		<-ctx.Done()
		if c := context.Cause(ctx); c != why {
			t.Fatalf("cause after the parent's cancel = %v", c)
		}
		if l.Context().Err() != nil {
			t.Fatal("the lock's Context ended with a bound parent")
		}
		stop()

		// Release ends a bound context (cause context.Canceled), and Bind
		// after Release gives one ended already
		ctx, stop = l.Bind(t.Context())
		defer stop()
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("bound context after Release: %v", err)
		}
		if after, stop := l.Bind(t.Context()); !errors.Is(after.Err(), context.Canceled) {
			t.Fatalf("Bind after Release: %v", after.Err())
		} else {
			stop()
		}

		// taken over: the Extend that finds it ends every bound context and Context
		l = mustAcquire(t, b.Client, key, lock.Options{TTL: time.Minute})
		c1, stop1 := l.Bind(t.Context())
		defer stop1()
		c2, stop2 := l.Bind(c1)
		defer stop2()
		b.Client.Set(t.Context(), key, "someone else", time.Minute)
		if err := l.Extend(t.Context(), 0); !errors.Is(err, rapyer.ErrNotHeld) {
			t.Fatalf("Extend of a lock taken over = %v", err)
		}
		for i, c := range []context.Context{c1, c2, l.Context()} {
			if cause := context.Cause(c); !errors.Is(cause, rapyer.ErrNotHeld) {
				t.Fatalf("context %d after the loss: cause %v", i, cause)
			}
		}
		b.Client.Del(t.Context(), key)

		// the TTL by the local clock: the bound context ends with ErrNotHeld,
		// and so does Context asked for after Bind; a Bind after that is ended
		l = mustAcquire(t, b.Client, key, lock.Options{TTL: 30 * time.Millisecond})
		defer l.Forget()
		ctx, stop = l.Bind(t.Context())
		defer stop()
		lc := l.Context()
		<-ctx.Done()
		<-lc.Done()
		if c := context.Cause(ctx); !errors.Is(c, rapyer.ErrNotHeld) {
			t.Fatalf("cause after the TTL = %v", c)
		}
		if c := context.Cause(lc); !errors.Is(c, rapyer.ErrNotHeld) {
			t.Fatalf("Context's cause after the TTL = %v", c)
		}
		if after, stop := l.Bind(t.Context()); !errors.Is(context.Cause(after), rapyer.ErrNotHeld) {
			t.Fatalf("Bind after the TTL: %v", context.Cause(after))
		} else {
			stop()
		}
	})
}
