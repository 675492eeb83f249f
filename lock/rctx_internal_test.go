package lock

import (
	"context"
	"testing"
	"time"
)

type ctxKey struct{}

// TestReleaseContext holds the release's context to what
// context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout) gave:
// ctx's values, none of its cancellation (nor its cause), and a deadline
// of its own, about releaseTimeout away, that ends it.
func TestReleaseContext(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "v"))
	cancel(context.Canceled)
	start := time.Now()
	rc := withReleaseTimeout(parent)
	c := context.Context(&rc)
	if err := c.Err(); err != nil {
		t.Fatalf("Err of a release context of a cancelled ctx: %v, want nil", err)
	}
	if cause := context.Cause(c); cause != nil {
		t.Fatalf("Cause: %v, want nil", cause)
	}
	select {
	case <-c.Done():
		t.Fatal("done at once")
	default:
	}
	if v := c.Value(ctxKey{}); v != "v" {
		t.Fatalf("Value: %v, want ctx's", v)
	}
	d, ok := c.Deadline()
	if left := d.Sub(start); !ok || left < releaseTimeout || left > releaseTimeout+deadlineStep+time.Second {
		t.Fatalf("Deadline %v away (%v), want %v to %v", left, ok, releaseTimeout, releaseTimeout+deadlineStep)
	}
	// one deadline, and one timer, for the releases begun close together
	rc2 := withReleaseTimeout(context.Background())
	if rc2.d != rc.d && time.Since(start) < deadlineStep/2 {
		t.Error("two releases begun together made two deadlines")
	}
	// a deadline that passed ends its contexts
	past := &deadline{at: time.Now(), done: make(chan struct{})}
	close(past.done)
	rc3 := releaseCtx{values: context.Background(), d: past}
	if err := rc3.Err(); err != context.DeadlineExceeded {
		t.Fatalf("Err past the deadline: %v", err)
	}
	// a deadline too close is not shared
	lastDeadline.Store(&deadline{at: time.Now().Add(releaseTimeout - time.Millisecond), done: make(chan struct{})})
	if d := releaseDeadline(); d.at.Sub(time.Now()) < releaseTimeout {
		t.Fatalf("a release was given a deadline %v away", time.Until(d.at))
	}
}
