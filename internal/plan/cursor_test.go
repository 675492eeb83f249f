package plan_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/rapyer-go/rapyer/internal/errs"
	"github.com/rapyer-go/rapyer/internal/plan"
	"github.com/rapyer-go/rapyer/internal/testenv"
)

func TestACursorResumesItsQueryAndNoOther(t *testing.T) {
	fp := plan.Fingerprint("shop", "walk", "price")
	other := plan.Fingerprint("shop", "walk", "pric", "e")
	if fp == other {
		t.Fatal("two lists of parts gave one fingerprint")
	}
	key := "\x02\x0210abc\x00\xff"
	c := plan.EncodeCursor(fp, key)
	got, err := plan.DecodeCursor(fp, c)
	if err != nil || got != key {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := plan.DecodeCursor(other, c); !errors.Is(err, errs.BadCursor) || !errors.Is(err, errs.Invalid) {
		t.Errorf("another query's cursor: %v", err)
	}
	for _, bad := range []string{"", "x", "!!!!", c[:len(c)-1], c + "A"} {
		if _, err := plan.DecodeCursor(fp, bad); !errors.Is(err, errs.BadCursor) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// every change of one character is refused (the encoded bytes, 22,
	// leave 4 bits of the last character unused)
	seed := testenv.Seed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for range 500 {
		b := []byte(c)
		i := rng.IntN(len(b))
		ch := alphabet[rng.IntN(len(alphabet))]
		if b[i] == ch {
			continue
		}
		b[i] = ch
		// also a change of the last character's unused bits, which a
		// lenient base64 decoder reads as the same bytes
		if k, err := plan.DecodeCursor(fp, string(b)); !errors.Is(err, errs.BadCursor) {
			t.Fatalf("seed %d: %q (changed at %d of %d) gave %q, %v", seed, b, i, len(b), k, err)
		}
	}
}
