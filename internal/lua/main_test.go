package lua_test

import (
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

// TestMain stops the servers the tests started, writes the tier record
// and checks for leaked goroutines, as in every package with Redis tests.
func TestMain(m *testing.M) { testenv.Main(m) }
