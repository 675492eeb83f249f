// Command tiers prints the "TIER" lines of make test: one per backend of
// package testenv (miniredis, a real redis-server, a real cluster), saying how
// many subtests ran on it, from the records the test binaries wrote under the
// directory given (RAPYER_TIER_DIR of the run).
//
//	go run ./internal/testenv/cmd/tiers DIR
package main

import (
	"fmt"
	"os"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tiers DIR")
		os.Exit(2)
	}
	lines, err := testenv.SummarizeTiers(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tiers:", err)
		os.Exit(1)
	}
	for _, l := range lines {
		fmt.Println(l)
	}
}
