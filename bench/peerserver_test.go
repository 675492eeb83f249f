package bench_test

// Server time per op of every side of the peer table, as Redis itself
// records it (INFO commandstats), without the network system calls that the
// server CPU of the timed runs includes: issue #13's goals on server time
// ("server time per Save at most 1.5x om's twin", "a 3-op guarded batch at
// most 1.5x a hand-written Lua function") are in these figures.
//
// Commands that scripts and transactions run are counted twice by
// commandstats: on their own line, and inside the EVALSHA, FCALL or EXEC
// that ran them. So only the commands a client sent count: a go-redis hook
// records their names (of a MULTI ... EXEC, only MULTI and EXEC, whose time
// holds the queued commands'), and the sides on a client of their own
// (rueidislock) name theirs in prepared.commands.

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// peerServerOps is how many ops each measure runs; peerServerRounds how
// many measures make the median.
const (
	peerServerOps    = 200
	peerServerRounds = 5
)

// sent records the names of the commands a client sends.
type sent struct {
	mu    sync.Mutex
	names map[string]bool
}

func (s *sent) add(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		s.names[strings.ToLower(n)] = true
	}
}

func (s *sent) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.names))
	for n := range s.names {
		out = append(out, n)
	}
	s.names = map[string]bool{}
	return out
}

func (s *sent) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *sent) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		s.add(cmd.Name())
		return next(ctx, cmd)
	}
}

func (s *sent) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && strings.EqualFold(cmds[0].Name(), "multi") {
			s.add("multi", "exec")
		} else {
			for _, c := range cmds {
				s.add(c.Name())
			}
		}
		return next(ctx, cmds)
	}
}

// usecTotal is the summed usec of the named commands in INFO commandstats.
func usecTotal(t *testing.T, e *env, names []string) float64 {
	info, err := e.rdb.Info(e.ctx, "commandstats").Result()
	must(t, err)
	var usec float64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !slices.Contains(names, strings.TrimPrefix(name, "cmdstat_")) {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				x, _ := strconv.ParseFloat(v, 64)
				usec += x
			}
		}
	}
	return usec
}

// runOps runs op n times from workers goroutines.
func runOps(op func() error, n, workers int) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := op(); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// peerServer measures the server time per op of every side of the peer
// table, in µs, keyed "Scenario/side" as measured is.
func peerServer(t *testing.T, shared *env) map[string]float64 {
	hook := &sent{names: map[string]bool{}}
	rdb := redis.NewClient(&redis.Options{Addr: shared.srv.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(hook)
	e := &env{ctx: shared.ctx, srv: shared.srv, rdb: rdb}
	// Keys of its own on the shared server: ids the shared env never gives.
	e.ids.Store(shared.ids.Add(1 << 20))
	out := map[string]float64{}
	for _, ps := range peerScenarios {
		for i, s := range ps.sides {
			p := s.prepare(t, e)
			warm(t, p)
			var us []float64
			for range peerServerRounds {
				must(t, e.rdb.ConfigResetStat(e.ctx).Err())
				hook.take()
				if err := runOps(p.op, peerServerOps, ps.workers); err != nil {
					if i == 0 {
						t.Fatal(err)
					}
					// a peer that fails is left out, not the table
					t.Logf("%s/%s failed: %v: its server time counts the runs before", ps.name, s.name, err)
					break
				}
				names := append(hook.take(), p.commands...)
				us = append(us, usecTotal(t, e, names)/peerServerOps)
			}
			out[ps.name+"/"+s.name] = median(us)
		}
	}
	return out
}
