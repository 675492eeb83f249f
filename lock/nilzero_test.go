package lock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// TestNilAndZeroLocksFailTyped: a Lock not made by Acquire (nil or zero)
// gives ErrInvalid from Release and Extend, a Context and a Bind cancelled
// with that cause, and no panic anywhere.
func TestNilAndZeroLocksFailTyped(t *testing.T) {
	ctx := context.Background()
	for name, l := range map[string]*lock.Lock{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("a %s Lock panicked: %v", name, r)
				}
			}()
			if err := l.Release(ctx); !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("Release: %v, want ErrInvalid", err)
			}
			if err := l.Extend(ctx, 0); !errors.Is(err, rapyer.ErrInvalid) {
				t.Errorf("Extend: %v, want ErrInvalid", err)
			}
			c := l.Context()
			if c.Err() == nil || !errors.Is(context.Cause(c), rapyer.ErrInvalid) {
				t.Errorf("Context: err %v, cause %v; want cancelled with ErrInvalid", c.Err(), context.Cause(c))
			}
			b, cancel := l.Bind(ctx)
			if b.Err() == nil || !errors.Is(context.Cause(b), rapyer.ErrInvalid) {
				t.Errorf("Bind: err %v, cause %v; want cancelled with ErrInvalid", b.Err(), context.Cause(b))
			}
			cancel()
			l.Forget()
			if l.Key() != "" || l.Token() != "" || l.Fence() != 0 {
				t.Errorf("Key, Token, Fence = %q, %q, %d; want zero values", l.Key(), l.Token(), l.Fence())
			}
		})
	}
}
