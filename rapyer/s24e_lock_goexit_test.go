package rapyer_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// S24eQuits is a text type whose UnmarshalText calls runtime.Goexit on
// "exit" (as t.FailNow in a test helper would).
type S24eQuits string

// MarshalText is the text itself.
func (q S24eQuits) MarshalText() ([]byte, error) { return []byte(q), nil }

// UnmarshalText leaves its goroutine on "exit".
func (q *S24eQuits) UnmarshalText(b []byte) error {
	if string(b) == "exit" {
		runtime.Goexit()
	}
	*q = S24eQuits(b)
	return nil
}

// S24eQuitter is a model with an S24eQuits field.
type S24eQuitter struct {
	Name string
	Tag  S24eQuits
}

// s24eInGoroutine runs f in its own goroutine and waits for it to end,
// however it ends; it tells whether f returned.
func s24eInGoroutine(f func()) (returned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
		returned = true
	}()
	<-done
	return returned
}

// TestS24eGoexitWhileLoadingLetsTheLocksGo: a runtime.Goexit in a model
// type's UnmarshalText while Model.Lock or LockAll loads the models (the
// second one for LockAll) leaves no lock held and no watchdog running
// (WithAutoExtend): another Lock that does not wait gets the lock at once.
// Before session 24's fix only a panic there let the locks go (recover
// sees no Goexit): the locks stayed held until their TTL, for ever with
// AutoExtend.
func TestS24eGoexitWhileLoadingLetsTheLocksGo(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		ctx := context.Background()
		m := rapyer.MustNew[S24eQuitter](b.Client, rapyer.Options{Prefix: b.Prefix + "quits", Lock: lock.Options{TTL: time.Minute}})
		held := func(what string, ids ...string) {
			t.Helper()
			for _, id := range ids {
				if n := b.Client.Exists(ctx, m.Target(id).Root()+":lock:edit").Val(); n != 0 {
					t.Fatalf("%s: the lock of %s is left held after the Goexit", what, id)
				}
			}
		}
		free := func(id string) {
			t.Helper()
			if _, err := m.Lock(ctx, id, "edit", func(context.Context, *S24eQuitter) error { return nil },
				rapyer.WithWait(lock.NoWait), rapyer.WithRetry(tx.Retry{})); err != nil {
				t.Fatalf("%s: a Lock after the Goexit: %v", id, err)
			}
		}
		for _, extend := range []bool{false, true} {
			var opt []rapyer.Option
			if extend {
				opt = append(opt, rapyer.WithAutoExtend())
			}
			ids := []string{fmt.Sprintf("a%v", extend), fmt.Sprintf("b%v", extend)}
			for _, id := range ids {
				if err := m.Save(ctx, id, S24eQuitter{Name: "n", Tag: "ok"}); err != nil {
					t.Fatal(err)
				}
			}
			free(ids[0]) // warm the pool: what is left after is the watchdogs
			base := runtime.NumGoroutine()
			b.Client.HSet(ctx, m.Target(ids[1]).Root(), "tag", "exit")
			if s24eInGoroutine(func() {
				_, _ = m.Lock(ctx, ids[1], "edit", func(context.Context, *S24eQuitter) error { return nil }, opt...)
			}) {
				t.Fatal("Lock returned; want the Goexit of UnmarshalText")
			}
			s24eSettle(t, base, fmt.Sprintf("Lock, auto-extend %v", extend))
			held(fmt.Sprintf("Lock, auto-extend %v", extend), ids[1])
			var x, y S24eQuitter
			if s24eInGoroutine(func() {
				_, _ = rapyer.LockAll(ctx, "edit", []rapyer.Held{m.Hold(ids[0], &x), m.Hold(ids[1], &y)},
					func(context.Context) error { return nil }, opt...)
			}) {
				t.Fatal("LockAll returned; want the Goexit of UnmarshalText")
			}
			s24eSettle(t, base, fmt.Sprintf("LockAll, auto-extend %v", extend))
			held(fmt.Sprintf("LockAll, auto-extend %v", extend), ids...)
			b.Client.HSet(ctx, m.Target(ids[1]).Root(), "tag", "ok")
			free(ids[0])
			free(ids[1])
		}
	})
}

// s24eSettle waits, with a generous deadline, until the goroutines are
// back to at most base (no watchdog left).
func s24eSettle(t *testing.T, base int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines (were %d)", what, runtime.NumGoroutine(), base)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
