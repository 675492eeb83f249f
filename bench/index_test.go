package bench_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rapyer-go/rapyer/index"
	"github.com/rapyer-go/rapyer/lens"
	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// ixRow is a model of 8 scalar fields, some of which get indexes.
type ixRow struct {
	Name  string
	Email string
	City  string
	Age   int
	Score float64
	Stock int
	Notes string
	Done  bool
}

var (
	ixrName  = lens.Of(func(v *ixRow) *string { return &v.Name })
	ixrEmail = lens.Of(func(v *ixRow) *string { return &v.Email })
	ixrCity  = lens.Of(func(v *ixRow) *string { return &v.City })
	ixrAge   = lens.Of(func(v *ixRow) *int { return &v.Age })
	ixrStock = lens.Of(func(v *ixRow) *int { return &v.Stock })
)

// TestIndexWriteCost measures the server time (INFO commandstats, µs per
// call of the interpreter) of a Save, of an Exec that changes an indexed
// field, and of one that changes none, of a model of 8 fields with 0, 1, 2 and 4 On indexes, and the
// memory an index entry takes (MEMORY USAGE of the index zsets over their
// entries). It logs the table (RAPYER_BENCH_INDEX=1 go test -run
// TestIndexWriteCost -v ./bench/); it asserts only that every write ran.
func TestIndexWriteCost(t *testing.T) {
	if os.Getenv("RAPYER_BENCH_INDEX") == "" {
		t.Skip("RAPYER_BENCH_INDEX=1 runs it")
	}
	e := newEnv(t)
	specs := []index.Spec{index.On(ixrAge), index.On(ixrCity), index.On(ixrEmail), index.On(ixrName)}
	const rounds, n = 40, 50
	ks := []int{0, 1, 2, 4}
	models := make([]*rapyer.Model[ixRow], len(ks))
	for i, k := range ks {
		m, err := rapyer.New[ixRow](e.rdb, rapyer.Options{Prefix: fmt.Sprintf("ixcost%d", k), Indexes: specs[:k]})
		must(t, err)
		models[i] = m
	}
	v := ixRow{Name: "name", Email: "someone@example.com", City: "Paris", Age: 30, Score: 1.5, Stock: 7, Notes: "notes", Done: true}
	save := make([]float64, len(ks))
	incr := make([]float64, len(ks))
	other := make([]float64, len(ks))
	// the configurations take turns, so that the load of a shared
	// machine falls on each alike
	for range rounds {
		for i, m := range models {
			save[i] += serverUsec(t, e, n, func(j int) error {
				w := v
				w.Age, w.Name = j%100, fmt.Sprint("name", j)
				return m.Save(e.ctx, fmt.Sprint("id", j%500), w)
			}) / rounds
			incr[i] += serverUsec(t, e, n, func(j int) error {
				_, err := m.Exec(e.ctx, fmt.Sprint("id", j%500), tx.Of(ops.Incr(ixrAge, 1), ops.Incr(ixrStock, 1)))
				return err
			}) / rounds
			other[i] += serverUsec(t, e, n, func(j int) error {
				_, err := m.Exec(e.ctx, fmt.Sprint("id", j%500), tx.Of(ops.Incr(ixrStock, 1)))
				return err
			}) / rounds
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| indexes | Save µs | Exec Incr of an indexed and an unindexed field µs | Exec Incr of an unindexed field µs | bytes per index entry |\n|---|---|---|---|---|\n")
	for i, k := range ks {
		mem := "-"
		if k > 0 {
			var bytes, entries int64
			for g := range 16 {
				key := fmt.Sprintf("ixcost%d:{ixcost%d#%d}:@i:age", k, k, g)
				bytes += e.rdb.MemoryUsage(e.ctx, key).Val()
				entries += e.rdb.ZCard(e.ctx, key).Val()
			}
			mem = fmt.Sprintf("%.0f", float64(bytes)/float64(entries))
		}
		fmt.Fprintf(&sb, "| %d | %.1f | %.1f | %.1f | %s |\n", k, save[i], incr[i], other[i], mem)
	}
	t.Log(sb.String())
}

// serverUsec runs op n times and returns the server's µs per call of the
// interpreter (FCALL or EVALSHA).
func serverUsec(t *testing.T, e *env, n int, op func(i int) error) float64 {
	must(t, op(0))
	names := []string{"fcall", "evalsha", "eval"}
	must(t, e.rdb.ConfigResetStat(e.ctx).Err())
	for i := range n {
		must(t, op(i))
	}
	return usecTotal(t, e, names) / float64(n)
}
