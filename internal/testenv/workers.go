package testenv

import (
	"errors"
	"sync"
	"testing"
)

// Workers runs work(w) for w in [0, n) in n goroutines at once, waits for
// all of them, and fails t with every error they returned (a worker stops
// at its first). It is the fan-out of the concurrency tests: t.Fatal may
// not be called from the goroutines themselves.
func Workers(t testing.TB, n int, work func(w int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() { errs[w] = work(w) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}
