package is

import (
	"testing"

	"github.com/rapyer-go/rapyer/internal/prog"
	"github.com/rapyer-go/rapyer/internal/schema"
	"github.com/rapyer-go/rapyer/lens"
)

// benchBalance and benchGuard are a guard as a withdrawal writes it: five
// nodes (an And of two bounds and a Not of a third).
var benchBalance = lens.Of(func(a *acct) *int { return &a.Balance })

func benchGuard() Pred[acct] {
	return And(AtLeast(benchBalance, 10), Not(Below(benchBalance, 5)), AtLeast(benchBalance, 1))
}

// BenchmarkGuardBounds is the client's cost of checking a guard against
// the bounds of a batch (bounds.go), beside BenchmarkGuardLower, the whole
// lowering of the same guard that includes it (docs/performance.md,
// "Session 24"):
//
//	go test -run '^$' -bench Guard -count 3 ./is/
func BenchmarkGuardBounds(b *testing.B) {
	p := benchGuard()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.bounds(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGuardLower lowers the guard of BenchmarkGuardBounds into the
// words of a batch program.
func BenchmarkGuardLower(b *testing.B) {
	p := benchGuard()
	m, err := schema.For[acct]()
	if err != nil {
		b.Fatal(err)
	}
	t := prog.Target{Root: "a:{1}", Model: m}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Lower(t); err != nil {
			b.Fatal(err)
		}
	}
}
