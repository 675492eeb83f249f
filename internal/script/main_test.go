package script_test

import (
	"testing"

	"github.com/rapyer-go/rapyer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
