package testenv

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// SeedEnv names the environment variable that fixes the seed of [Seed].
const SeedEnv = "RAPYER_SEED"

// Seed returns the seed for a randomized test: the value of RAPYER_SEED when
// it is set, a random one otherwise. When t fails, a cleanup logs
// "seed=N (rerun with RAPYER_SEED=N)". A RAPYER_SEED that is not an integer
// fails t.
func Seed(t testing.TB) int64 {
	t.Helper()
	seed, err := seedFrom(os.Getenv(SeedEnv))
	if err != nil {
		t.Fatalf("testenv: %s=%q is not an integer: %v", SeedEnv, os.Getenv(SeedEnv), err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed=%d (rerun with %s=%d)", seed, SeedEnv, seed)
		}
	})
	return seed
}

func seedFrom(env string) (int64, error) {
	if env == "" {
		return rand.Int64(), nil
	}
	return strconv.ParseInt(env, 10, 64)
}
