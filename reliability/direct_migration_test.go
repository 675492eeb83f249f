package reliability_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
	"github.com/rapyer-go/rapyer/rapyer"
)

// Plain is a model without collections or indexes: its Save goes by the
// direct path, its Get reads the HGETALL reply in place.
type Plain struct {
	Owner string
	N     int
}

// TestDirectSaveAndInPlaceGetDuringSlotMigration moves the slot of plain
// models between masters four times or more while workers save them (the direct
// path: EVALSHA of a compiled save, which meets ASK, TRYAGAIN and MOVED)
// and read them back (the in-place HGETALL, whose raw reply a redirection
// leaves to go-redis's own HGETALL) and lock them (w0 on the moving slot,
// w1 elsewhere): no call fails, and every read sees the worker's last
// write.
func TestDirectSaveAndInPlaceGetDuringSlotMigration(t *testing.T) {
	cl := testenv.StartCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	client := cl.Client(t)
	var redirected redirects
	client.OnNewNode(func(n *redis.Client) { n.AddHook(&redirected) })
	m := rapyer.MustNew[Plain](client, rapyer.Options{Prefix: "pmig", Lock: lock.Options{Wait: time.Minute}})
	root, _ := m.Key("w0")
	slot := keys.Slot(root)
	nodes := nodesOf(t, cl.Addrs())
	stop := make(chan struct{})
	var ran atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- plainWorker(ctx, m, fmt.Sprint("w", w), stop, &ran)
		}()
	}
	// at least four moves, and more (up to 40) until both kinds of
	// redirection were met: which command meets a moved slot first is up
	// to timing, as go-redis reloads its slot map after the first MOVED
	for i := 0; i < 4 || i < 40 && (redirected.raw.Load() == 0 || redirected.cmd.Load() == 0); i++ {
		waitRan(t, &ran, 30)
		src := owner(t, nodes, slot)
		dst := nodes[(i+1)%len(nodes)]
		if dst == src {
			dst = nodes[(i+2)%len(nodes)]
		}
		migrate(t, nodes, slot, src, dst)
	}
	waitRan(t, &ran, 30)
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Error(err)
		}
	}
	if redirected.raw.Load() == 0 || redirected.cmd.Load() == 0 {
		t.Fatalf("redirections met: %d by raw HGETALL replies, %d by other commands: the test tried nothing",
			redirected.raw.Load(), redirected.cmd.Load())
	}
}

// redirects counts the redirections (MOVED, ASK, TRYAGAIN) a cluster's
// nodes answered: in the raw reply of an HGETALL read in place, and as the
// error of any other command.
type redirects struct{ raw, cmd atomic.Int64 }

func (r *redirects) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *redirects) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, c redis.Cmder) error {
		err := next(ctx, c)
		r.note(c)
		return err
	}
}

func (r *redirects) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cs []redis.Cmder) error {
		err := next(ctx, cs)
		for _, c := range cs {
			r.note(c)
		}
		return err
	}
}

func (r *redirects) note(c redis.Cmder) {
	moving := func(s string) bool {
		return strings.HasPrefix(s, "MOVED ") || strings.HasPrefix(s, "ASK ") || strings.HasPrefix(s, "TRYAGAIN")
	}
	if raw, ok := c.(*redis.RawCmd); ok && len(raw.Val()) > 0 && raw.Val()[0] == '-' && moving(string(raw.Val()[1:])) {
		r.raw.Add(1)
	} else if err := c.Err(); err != nil && moving(err.Error()) {
		r.cmd.Add(1)
	}
}

// plainWorker saves, reads and locks model id until stop is closed.
func plainWorker(ctx context.Context, m *rapyer.Model[Plain], id string, stop <-chan struct{}, ran *atomic.Int64) error {
	for i := 1; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		want := Plain{Owner: id, N: i}
		if err := m.Save(ctx, id, want); err != nil {
			return fmt.Errorf("%s: save %d: %w", id, i, err)
		}
		got, err := m.Get(ctx, id)
		if err != nil || got != want {
			return fmt.Errorf("%s: get after save %d: %+v, %v", id, i, got, err)
		}
		if i%4 == 0 {
			_, err := m.Lock(ctx, id, "a", func(_ context.Context, v *Plain) error {
				if *v != want {
					return fmt.Errorf("the lock loaded %+v, saved %+v", *v, want)
				}
				v.N = -i
				return nil
			})
			if err != nil {
				return fmt.Errorf("%s: lock %d: %w", id, i, err)
			}
		}
		ran.Add(1)
	}
}
