package tx_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/internal/shape"
	"github.com/rapyer-go/rapyer/internal/testenv"
	"github.com/rapyer-go/rapyer/is"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// usecOf is the server time of the commands named, in µs, from INFO
// commandstats, and their calls.
func usecOf(ctx context.Context, t *testing.T, c *redis.Client, name string) (float64, float64) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		n, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || n != "cmdstat_"+name {
			continue
		}
		var usec, calls float64
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				usec, _ = strconv.ParseFloat(v, 64)
			}
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				calls, _ = strconv.ParseFloat(v, 64)
			}
		}
		return usec, calls
	}
	return 0, 0
}

// TestShapeServerCost measures the server time of the script call (FCALL
// of the interpreter, EVALSHA of a compiled shape) of the guarded 3-op
// batch and of the conditional withdrawal, on a private server: the best
// of rounds of 500 batches. It logs (RAPYER_SHAPE_COST=1 go test -v -run
// TestShapeServerCost ./tx); EXEC's own figure is left out, since it
// counts the time of the commands it runs too.
func TestShapeServerCost(t *testing.T) {
	if os.Getenv("RAPYER_SHAPE_COST") == "" {
		t.Skip("RAPYER_SHAPE_COST=1 to measure")
	}
	s := testenv.StartServer(t)
	c := s.Client(t)
	ctx := context.Background()
	m := rapyer.MustNew[Wallet](c, rapyer.Options{Prefix: "cost"})
	if err := m.Save(ctx, "w", Wallet{Owner: "ada", Balance: 1 << 50}); err != nil {
		t.Fatal(err)
	}
	batches := map[string]tx.Batch{
		"guarded 3 ops": tx.Of(ops.Require(is.AtLeast(wBalance, 0)), ops.Incr(wBalance, 1), ops.Append(wHistory, "deposit")),
		"withdrawal":    tx.Of(ops.Require(is.AtLeast(wBalance, 1)), ops.Decr(wBalance, 1)),
	}
	for name, b := range batches {
		for _, off := range []bool{true, false} {
			shape.Off.Store(off)
			best, bestExec := 1e9, 0.0
			for range 10 {
				c.ConfigResetStat(ctx)
				for range 500 {
					if _, err := m.Exec(ctx, "w", b); err != nil {
						t.Fatal(err)
					}
				}
				var us, n float64
				for _, cmd := range []string{"fcall", "evalsha", "eval"} {
					u, k := usecOf(ctx, t, c, cmd)
					us, n = us+u, n+k
				}
				mu, _ := usecOf(ctx, t, c, "multi")
				ex, _ := usecOf(ctx, t, c, "exec")
				if (us+mu)/n < best {
					best, bestExec = (us+mu)/n, ex/n
				}
			}
			t.Log(fmt.Sprintf("%s, interpreter %v: %.1f µs per batch (script call + MULTI); EXEC %.1f", name, off, best, bestExec))
		}
	}
	shape.Off.Store(false)
}
