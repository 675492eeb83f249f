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
	// A deadline an earlier test left would be shared, and could be too
	// close for the second release below to share it too.
	lastDeadline.Store(nil)
	start := time.Now()
	rc := withReleaseTimeout(parent)
	end := time.Now()
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
	// The call began after start and ended before end: bounds that hold
	// however long the scheduler kept this goroutine waiting.
	d, ok := c.Deadline()
	if !ok || d.Sub(start) < releaseTimeout || d.Sub(end) > releaseTimeout+deadlineStep {
		t.Fatalf("Deadline %v after the call began and %v after it ended (%v), want %v to %v", d.Sub(start), d.Sub(end), ok, releaseTimeout, releaseTimeout+deadlineStep)
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
	near := &deadline{at: time.Now().Add(releaseTimeout - time.Millisecond), done: make(chan struct{})}
	lastDeadline.Store(near)
	before := time.Now()
	if d := releaseDeadline(); d == near || d.at.Sub(before) < releaseTimeout {
		t.Fatalf("a release begun %v before the deadline was given it", d.at.Sub(before))
	}
}
