package lock_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/lua"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// attempts records the acquire calls a client sends, alone or in a
// pipeline, once they ran: the entry each names and its arguments after
// the lock key.
type attempts struct {
	mu    sync.Mutex
	calls []string // "acquire token-ttl-id ..." as entry and argument count
	args  [][]any
}

// note records cmd if it was an acquire call that ran (not one the server
// did not know: a FCALL or EVALSHA sent again another way).
func (h *attempts) note(cmd redis.Cmder, err error) {
	a := cmd.Args()
	if len(a) < 4 || err != nil {
		return
	}
	name, _ := a[1].(string)
	for _, f := range []*struct {
		entry string
		fn    interface {
			Name() string
			Script() *redis.Script
		}
	}{{"acquire", lua.Acquire}, {"acquiref", lua.AcquireFenced}} {
		if name == f.fn.Name() || name == f.fn.Script().Hash() || strings.HasSuffix(name, "return "+f.entry+"(KEYS, ARGV)\n") {
			h.mu.Lock()
			h.calls = append(h.calls, fmt.Sprintf("%s %d", f.entry, len(a)-4))
			h.args = append(h.args, a[4:])
			h.mu.Unlock()
		}
	}
}

func (h *attempts) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

func (h *attempts) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *attempts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd) // go-redis sets cmd's error after the hooks
		h.note(cmd, err)
		return err
	}
}

func (h *attempts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.note(c, c.Err())
		}
		return err
	}
}

// TestWaiterNamesItselfOnlyWhenItWaits: a caller that will wait sends its
// first attempt as one that will not (token and TTL: no client id, no
// lease; acquiref, with the fence life, for a fence), so an uncontended acquisition
// costs the server no argument it does not use; an attempt that finds the
// lock held is followed at once by one that names the waiter's client, so
// the wait flag holds that id while it waits, and the release wakes it. On
// every tier, with and without a fence and a Load.
func TestWaiterNamesItselfOnlyWhenItWaits(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for i, o := range []lock.Options{
			{},
			{NoFence: true},
			{NoFence: true, Load: func(p redis.Pipeliner) { p.Get(context.Background(), "x") }},
			{RetryMax: time.Second},
		} {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				h := &attempts{}
				c := b.NewClient(t, nil)
				c.AddHook(h)
				key := fmt.Sprintf("%s:{lean%d}:lock:x", b.Prefix, i)
				entry := "acquiref 3"
				if o.NoFence {
					entry = "acquire 2"
				}
				l := mustAcquire(t, c, key, o)
				if got := h.seen(); len(got) != 1 || got[0] != entry {
					t.Fatalf("an uncontended acquisition sent %v, want [%s]", got, entry)
				}
				if err := l.Release(t.Context()); err != nil {
					t.Fatal(err)
				}
				if n := b.Client.Exists(t.Context(), lock.FenceKey(key)+":wait").Val(); n != 0 {
					t.Fatal("an uncontended acquisition flagged a waiter")
				}

				held := mustAcquire(t, b.Client, key, lock.Options{TTL: time.Minute})
				h.mu.Lock()
				h.calls, h.args = nil, nil
				h.mu.Unlock()
				o.Wait = time.Minute
				got := make(chan error, 1)
				go func() {
					l, err := lock.Acquire(t.Context(), c, key, o)
					if err == nil {
						err = l.Release(t.Context())
					}
					got <- err
				}()
				testenv.Eventually(t, "the waiter's second attempt", func() bool { return len(h.seen()) >= 2 })
				calls := h.seen()
				if calls[0] != entry || !strings.HasPrefix(calls[1], "acquire ") || calls[1] == "acquire 2" {
					t.Fatalf("a waiter's first two attempts: %v; want %s, then one naming its client", calls, entry)
				}
				h.mu.Lock()
				id, _ := h.args[1][2].(string)
				h.mu.Unlock()
				if id == "" {
					t.Fatalf("the waiter's second attempt sent %v, want its client id third", h.args[1])
				}
				// the hook sees a call before the server does
				testenv.Eventually(t, "the wait flag names the waiter's client", func() bool {
					return b.Client.Get(t.Context(), lock.FenceKey(key)+":wait").Val() == id
				})
				if err := held.Release(t.Context()); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-got:
					if err != nil {
						t.Fatalf("the waiter: %v", err)
					}
				case <-time.After(patience):
					t.Fatal("the waiter did not get the lock after the release")
				}
			})
		}
	})
}
