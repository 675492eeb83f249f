package random_test

import (
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/rapyer-go/rapyer/internal/random"
)

func TestTexts(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		h, s := random.Hex(16), random.Short(12)
		if b, err := hex.DecodeString(h); err != nil || len(b) != 16 {
			t.Fatalf("Hex(16) = %q", h)
		}
		if b, err := base64.RawURLEncoding.DecodeString(s); err != nil || len(b) != 12 || len(s) != 16 {
			t.Fatalf("Short(12) = %q", s)
		}
		if seen[h] || seen[s] {
			t.Fatalf("a repeat: %q %q", h, s)
		}
		seen[h], seen[s] = true, true
	}
}

// TestAppendShort: AppendShort appends what Short makes (base64url of n
// random bytes) after dst's bytes, past its room too.
func TestAppendShort(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []int{12, 12, 12, 60} {
		out := string(random.AppendShort([]byte("tx{A}:"), n))
		s := out[len("tx{A}:"):]
		if b, err := base64.RawURLEncoding.DecodeString(s); err != nil || len(b) != n || out[:len("tx{A}:")] != "tx{A}:" {
			t.Fatalf("AppendShort(%d) = %q", n, out)
		}
		if seen[s] {
			t.Fatalf("a repeat: %q", s)
		}
		seen[s] = true
	}
}
