package bench_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rapyer-go/rapyer/ops"
	"github.com/rapyer-go/rapyer/rapyer"
	"github.com/rapyer-go/rapyer/tx"
)

// recordBatches is how many batches recordBytes runs per measure.
const recordBatches = 20000

// recordRate is the sustained rate the design sizes records for (DESIGN 5.7).
const recordRate = 50000

// recordBytes measures what one batch record costs on e's server: INFO
// memory used_memory after recordBatches batches (Incr of an existing
// counter, which yields its new value: a record that keeps a result; or a
// Set, which yields nothing: a one-byte record) minus
// the same batches with tx.NoRecord, per batch. distinct: each batch on a
// model of its own (records in many slots); else all on one model.
func recordBytes(t *testing.T, e *env, distinct, yields bool) float64 {
	used := func() float64 {
		info, err := e.rdb.Info(e.ctx, "memory").Result()
		must(t, err)
		n, err := strconv.ParseFloat(infoField(info, "used_memory"), 64)
		must(t, err)
		return n
	}
	m := rapyer.MustNew[Counter](e.rdb, rapyer.Options{Prefix: e.id("recmem")})
	ids := make([]string, recordBatches)
	for i := range ids {
		ids[i] = "c0"
		if distinct {
			ids[i] = "c" + strconv.Itoa(i)
		}
		if i == 0 || distinct {
			must(t, m.Save(e.ctx, ids[i], Counter{}))
		}
	}
	// Drop the records of the saves, then measure with and without records.
	must(t, e.rdb.Eval(e.ctx, `for _, k in ipairs(redis.call('KEYS', 'tx{*')) do redis.call('UNLINK', k) end return 0`, nil).Err())
	run := func(life time.Duration) float64 {
		before := used()
		for _, id := range ids {
			op := ops.Op(ops.Incr(CounterN, 1))
			if !yields {
				op = ops.Set(CounterN, 7)
			}
			_, err := m.Exec(e.ctx, id, tx.Of(op), rapyer.WithRecord(life))
			must(t, err)
		}
		return used() - before
	}
	with := run(time.Hour) // no record expires while measuring
	without := run(tx.NoRecord)
	return (with - without) / recordBatches
}

// recordMemoryTable reports the memory of batch records: bytes per batch,
// and what a sustained 50k batches/s keeps for the default lifetime.
func recordMemoryTable(t *testing.T) string {
	e := newEnv(t)
	var sb strings.Builder
	fmt.Fprintf(&sb, "Batch records (%d batches each, INFO memory used_memory with records minus without; default lifetime %v):\n\n", recordBatches, tx.DefaultRecord)
	sb.WriteString("| batches | bytes per record | MB held at 50k batches/s |\n|---|---:|---:|\n")
	for _, c := range []struct {
		name             string
		distinct, yields bool
	}{
		{"Incr (yields a value), on distinct models", true, true},
		{"Incr (yields a value), all on one model", false, true},
		{"Set (yields nothing), on distinct models", true, false},
	} {
		b := recordBytes(t, e, c.distinct, c.yields)
		fmt.Fprintf(&sb, "| %s | %.0f | %.0f |\n", c.name, b, b*recordRate*tx.DefaultRecord.Seconds()/1e6)
	}
	return sb.String()
}

// TestRecordMemory prints the record memory table alone (part of make bench):
// RAPYER_BENCH=1 go test -run TestRecordMemory -v ./bench/
func TestRecordMemory(t *testing.T) {
	if os.Getenv("RAPYER_BENCH") != "1" {
		t.Skip("set RAPYER_BENCH=1 (make bench) to measure record memory")
	}
	fmt.Print(recordMemoryTable(t))
}
