package bench_test

import "testing"

// BenchmarkPlainLockClientWork is BenchmarkClientWork of the uncontended
// lock row (docs/performance.md "Session 11: the uncontended lock"): the
// client's CPU and allocations per acquire + release of package lock and
// of redislock, with the server's replies played back from a tape.
//
//	go test -run '^$' -bench BenchmarkPlainLockClientWork -benchmem -count 5 ./bench/
func BenchmarkPlainLockClientWork(b *testing.B) {
	e, t := tapeEnv(b)
	sides := []namedSide{{"lock/rapyer", lockOnce(b, e)}, {"lock/redislock", lockRedislock(b, e)}}
	replaySides(b, t, sides)
}
