package bench_test

// The client's share of a Get (issue #13, docs/performance.md "Session 8:
// Get"): this process's CPU and allocations per Get of the 8-field model,
// against the om Fetch twin in the same run.

import "testing"

// BenchmarkGetClientCPU runs the Get row's sides in turn, three rounds (on
// a busy machine the rounds of one side differ more than the sides), their
// order reversed every other round, with
// this process's CPU per op (user and system: the client's share, the
// server being another process) and allocations:
//
//	go test -run '^$' -bench BenchmarkGetClientCPU -benchmem -benchtime 10000x ./bench/
func BenchmarkGetClientCPU(b *testing.B) {
	e := newEnv(b)
	clientCPURounds(b, []namedSide{{"rapyer", getItemRapyer(b, e)}, {"om_Fetch_twin", getItemOm(b, e)}})
}

// namedSide is a prepared side with its sub-benchmark's name.
type namedSide struct {
	name string
	p    prepared
}

// clientCPURounds warms the sides, then runs them in turn, three rounds,
// the order reversed every other round (so no side always runs first,
// right after the warm-up or right after the same other side), each with
// this process's CPU per op and its allocations.
func clientCPURounds(b *testing.B, sides []namedSide) {
	for _, s := range sides {
		warm(b, s.p)
	}
	for r := range 3 {
		for i := range sides {
			s := sides[i]
			if r%2 == 1 {
				s = sides[len(sides)-1-i]
			}
			b.Run(s.name, func(b *testing.B) {
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					if err := s.p.op(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
			})
		}
	}
}
