package bench_test

// The client's share of a Get (issue #13, docs/performance.md "Session 8:
// Get"): this process's CPU and allocations per Get of the 8-field model,
// against the om Fetch twin in the same run.

import "testing"

// BenchmarkGetClientCPU runs the Get row's sides in turn, three rounds (on
// a busy machine the rounds of one side differ more than the sides), with
// this process's CPU per op (user and system: the client's share, the
// server being another process) and allocations:
//
//	go test -run '^$' -bench BenchmarkGetClientCPU -benchmem -benchtime 10000x ./bench/
func BenchmarkGetClientCPU(b *testing.B) {
	e := newEnv(b)
	sides := []struct {
		name string
		p    prepared
	}{{"rapyer", getItemRapyer(b, e)}, {"om_Fetch_twin", getItemOm(b, e)}}
	for _, s := range sides {
		warm(b, s.p)
	}
	for i := range 3 * len(sides) {
		s := sides[i%len(sides)]
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
