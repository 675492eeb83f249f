//go:build !race

package bench_test

// raceOn: the tests run under the race detector.
const raceOn = false
