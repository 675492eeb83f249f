package rapyer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapyer-go/rapyer/rapyer"
)

// cmdstats reads the calls and usec of every command of INFO commandstats.
func cmdstats(t *testing.T, c *redis.Client) (calls, usec map[string]float64) {
	s, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls, usec = map[string]float64{}, map[string]float64{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		name, rest, ok := strings.Cut(l, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				calls[name[8:]] = f
			case "usec":
				usec[name[8:]] = f
			}
		}
	}
	return
}

// TestMeasureMove measures, on the private server MOVE_REDIS (skipped
// without it; it flushes the server), what Reindex's move of 2000 models
// asks of the server (INFO commandstats), next to writing the same models
// with Save of the indexed model, in three rounds (docs/performance.md,
// "Session 6: a type's first index"). Nothing is asserted.
func TestMeasureMove(t *testing.T) {
	addr := os.Getenv("MOVE_REDIS")
	if addr == "" {
		t.Skip()
	}
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr})
	const n = 2000
	for round := range 3 {
		c.FlushAll(ctx)
		prefix := fmt.Sprint("r", round)
		r := rand.New(rand.NewPCG(1, 2))
		plain := rapyer.MustNew[QItem](c, rapyer.Options{Prefix: prefix})
		m := rapyer.MustNew[QItem](c, rapyer.Options{Prefix: prefix, Indexes: itemIndexes})
		base := rapyer.MustNew[QItem](c, rapyer.Options{Prefix: prefix + "b", Indexes: itemIndexes})
		items := make([]QItem, n)
		for i := range items {
			items[i] = randomItem(r)
			if err := plain.Save(ctx, fmt.Sprint("id", i), items[i]); err != nil {
				t.Fatal(err)
			}
		}
		// warm the library
		_ = m.Reindex(ctx, nil)
		c.FlushAll(ctx)
		for i := range items {
			_ = plain.Save(ctx, fmt.Sprint("id", i), items[i])
		}
		c.ConfigResetStat(ctx)
		if err := m.Reindex(ctx, nil); err != nil {
			t.Fatal(err)
		}
		mc, mu := cmdstats(t, c)
		c.ConfigResetStat(ctx)
		for i := range items {
			if err := base.Save(ctx, fmt.Sprint("id", i), items[i]); err != nil {
				t.Fatal(err)
			}
		}
		bc, bu := cmdstats(t, c)
		sum := func(m map[string]float64) float64 {
			s := 0.0
			for _, v := range m {
				s += v
			}
			return s
		}
		t.Logf("round %d: FCALL per model: move %.2f calls %.1f usec, indexed Save %.2f calls %.1f usec; ratio %.2f", round, mc["fcall"]/n, mu["fcall"]/n, bc["fcall"]/n, bu["fcall"]/n, mu["fcall"]/bu["fcall"])
		t.Logf("round %d: move: %.1f calls/model %.2f usec/model (%v) | indexed Save: %.1f calls/model %.2f usec/model (%v) | ratio %.2f",
			round, sum(mc)/n, sum(mu)/n, mc, sum(bc)/n, sum(bu)/n, bc, sum(mu)/sum(bu))
	}
}
