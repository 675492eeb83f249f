//go:build race

package rapyer_test

// raceOn: the tests run under the race detector.
const raceOn = true
