package lock_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/lock"
)

// tinyDeadlineClient is a client that honours context deadlines on the
// socket (go-redis' ContextTimeoutEnabled), named so that the test can see
// its connections on the server.
func tinyDeadlineClient(t *testing.T, b *testenv.Backend, name string) redis.UniversalClient {
	return b.NewClient(t, func(o *redis.UniversalOptions) {
		o.ContextTimeoutEnabled = true
		o.ClientName = name
	})
}

// closeAndDrain closes rdb and waits until the server has dropped all its
// connections: a server frees a connection only after running every request
// already read from it, so afterwards no abandoned request is still to run.
func closeAndDrain(t *testing.T, b *testenv.Backend, rdb redis.UniversalClient, name string) {
	t.Helper()
	_ = rdb.Close()
	if b.Mini != nil {
		own := b.Client.PoolStats().TotalConns
		testenv.Eventually(t, "the server dropped the closed client's connections", func() bool {
			return b.Mini.CurrentConnectionCount() <= int(own)
		})
		return
	}
	testenv.Eventually(t, "the server dropped the closed client's connections", func() bool {
		gone := true
		each := func(ctx context.Context, c *redis.Client) error {
			list, err := c.ClientList(ctx).Result()
			if err != nil {
				return err
			}
			if strings.Contains(list, "name="+name+" ") {
				gone = false
			}
			return nil
		}
		var err error
		if c, ok := b.Client.(*redis.ClusterClient); ok {
			err = c.ForEachMaster(context.Background(), each)
		} else {
			err = each(context.Background(), b.Client.(*redis.Client))
		}
		return err == nil && gone
	})
}

// TestTimedOutAcquireLeavesNoLock: an acquisition whose context ends while
// its request is in flight is given up; the abandoned request may still run
// on the server after Acquire's clean-up (sent on another connection). No
// lock may be left held by the token of a call that failed. Deadlines of
// 1-150 µs with ContextTimeoutEnabled put the give-up at every point of the
// request's life.
func TestTimedOutAcquireLeavesNoLock(t *testing.T) {
	seed := testenv.Seed(t)
	testenv.Each(t, func(t *testing.T, b *testenv.Backend) {
		for _, load := range []bool{false, true} {
			t.Run(fmt.Sprintf("load=%v", load), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(seed), 11))
				name := strings.TrimSuffix(b.Prefix, "_") + fmt.Sprintf("tiny%v", load)
				rdb := tinyDeadlineClient(t, b, name)
				opts := lock.Options{Wait: lock.NoWait, TTL: time.Minute}
				if load {
					opts.Load = func(p redis.Pipeliner) { p.Ping(context.Background()) }
				}
				// Deadlines from 1µs to four times the time an acquisition takes
				// here (so from before the request is written to after its
				// reply came), measured, since -race and a busy machine
				// stretch it well past the 150µs of an optimised build.
				span := acquireTime(t, rdb, lockKey(b, fmt.Sprintf("tiny%v-probe", load)), opts)
				const workers, calls = 4, 500
				deadlines := make([][]time.Duration, workers)
				for w := range deadlines {
					for range calls {
						deadlines[w] = append(deadlines[w], time.Duration(1+r.Int64N(int64(4*span))))
					}
				}
				var (
					mu     sync.Mutex
					failed []string
					won    int
				)
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						for i, d := range deadlines[w] {
							key := lockKey(b, fmt.Sprintf("tiny%v-%d-%d", load, w, i))
							ctx, cancel := context.WithTimeout(context.Background(), d)
							l, err := lock.Acquire(ctx, rdb, key, opts)
							cancel()
							mu.Lock()
							if err != nil {
								failed = append(failed, key)
							} else {
								won++
							}
							mu.Unlock()
							if err == nil {
								if err := l.Release(context.Background()); err != nil {
									t.Errorf("Release: %v", err)
								}
							}
						}
					})
				}
				wg.Wait()
				closeAndDrain(t, b, rdb, name)
				held := 0
				for _, key := range failed {
					if b.Client.Exists(context.Background(), key).Val() != 0 {
						held++
					}
				}
				t.Logf("deadlines up to %v: %d calls: %d acquired, %d failed, %d of them left the lock held", 4*span, workers*calls, won, len(failed), held)
				if held > 0 {
					t.Fatalf("%d of %d failed acquisitions left their lock held", held, len(failed))
				}
			})
		}
	})
}

// acquireTime is the median time of an acquisition and release on rdb.
func acquireTime(t *testing.T, rdb redis.UniversalClient, key string, opts lock.Options) time.Duration {
	t.Helper()
	var took []time.Duration
	for range 21 {
		start := time.Now()
		l, err := lock.Acquire(context.Background(), rdb, key, opts)
		took = append(took, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(took)
	return took[len(took)/2]
}
