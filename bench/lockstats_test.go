package bench_test

// Where the server time of one model Lock cycle goes, command by command
// (docs/performance.md "Session 8: where the model Lock cycle's time
// goes"): INFO commandstats after CONFIG RESETSTAT on a private server,
// and the round trips and commands the client sends, counted by a
// go-redis hook. It does not run in make test: it needs RAPYER_BENCH=1.

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// commandStat is one line of INFO commandstats.
type commandStat struct {
	name        string
	calls, usec float64
}

// commandStats parses INFO commandstats.
func commandStats(t *testing.T, e *env) []commandStat {
	info, err := e.rdb.Info(e.ctx, "commandstats").Result()
	must(t, err)
	var out []commandStat
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		s := commandStat{name: strings.TrimPrefix(name, "cmdstat_")}
		for _, f := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(f, "=")
			x, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				s.calls = x
			case "usec":
				s.usec = x
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b commandStat) int { return int(b.usec - a.usec) })
	return out
}

// TestLockCycleCommandStats logs, for the model Lock cycle (ours and by
// hand) and a plain Save (ours and om's twin), per op: the round trips and
// commands the client sent, and every command's calls and usec by INFO
// commandstats (commands run by scripts or in MULTI are counted on their
// own line and inside EVALSHA/EXEC):
//
//	RAPYER_BENCH=1 go test -count=1 -v -run TestLockCycleCommandStats ./bench/
func TestLockCycleCommandStats(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") != "1" {
		t.Skip("RAPYER_BENCH=1 to measure")
	}
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("RAPYER_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	shared := newEnv(t)
	for _, s := range []struct {
		name string
		p    prepare
	}{{"model-lock/rapyer", modelLockRapyer}, {"model-lock/hand", modelLockHand},
		{"save/rapyer", saveItemRapyer}, {"save/om", saveItemOm}} {
		rdb := redis.NewClient(&redis.Options{Addr: shared.srv.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		e := &env{ctx: shared.ctx, srv: shared.srv, rdb: rdb}
		e.ids.Store(shared.ids.Add(1 << 20))
		p := s.p(t, e)
		warm(t, p)
		must(t, rdb.ConfigResetStat(e.ctx).Err())
		ctr := testenv.CountRoundTrips(rdb)
		for range n {
			must(t, p.op())
		}
		trips, sent := ctr.Count(), ctr.Commands()
		stats := commandStats(t, e)
		must(t, p.check())
		t.Logf("%s: %.2f round trips, %.2f commands sent per op", s.name, float64(trips)/float64(n), float64(len(sent))/float64(n))
		t.Logf("  first sent: %s", strings.Join(sent[:min(len(sent), 8)], " "))
		for _, c := range stats {
			if strings.HasPrefix(c.name, "config") {
				continue
			}
			t.Logf("  %-10s calls/op %5.2f  usec/op %6.2f  usec/call %6.2f", c.name, c.calls/float64(n), c.usec/float64(n), c.usec/max(c.calls, 1))
		}
	}
}

// TestLockCycleServerCPU logs, for the model Lock cycle (ours and by
// hand), the server's time per cycle two ways over interleaved rounds on
// a private server: the usec of INFO commandstats (wall time inside the
// commands, waits for a CPU included) and the server's CPU time
// (INFO cpu: the commands, the round trips' reading, parsing and
// writing, without waits; serverCPU, in ns), and their ratios ours/hand:
//
//	RAPYER_BENCH=1 go test -count=1 -v -run TestLockCycleServerCPU ./bench/
func TestLockCycleServerCPU(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") != "1" {
		t.Skip("RAPYER_BENCH=1 to measure")
	}
	e := newEnv(t)
	sides := []prepared{modelLockRapyer(t, e), modelLockHand(t, e)}
	const rounds, per = 20, 250
	var usec, cpu [2]float64
	for r := range rounds {
		for j := range sides {
			i := (j + r) % 2
			warm(t, sides[i])
			must(t, e.rdb.ConfigResetStat(e.ctx).Err())
			c0 := serverCPU(t, e)
			for range per {
				must(t, sides[i].op())
			}
			cpu[i] += serverCPU(t, e) - c0
			for _, c := range commandStats(t, e) {
				if c.name != "config" && c.name != "info" {
					usec[i] += c.usec
				}
			}
		}
	}
	for i, name := range []string{"model-lock/rapyer", "model-lock/hand"} {
		must(t, sides[i].check())
		t.Logf("%-18s commandstats µs/op %6.2f  server CPU µs/op %6.2f", name, usec[i]/rounds/per, cpu[i]/1000/rounds/per)
	}
	t.Logf("ours/hand: commandstats %.2fx, server CPU %.2fx", usec[0]/usec[1], cpu[0]/cpu[1])
}
