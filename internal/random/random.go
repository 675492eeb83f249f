// Package random makes the random texts rapyer-go names things with: batch
// ids, lock tokens, the ids Insert gives new models. They come from
// crypto/rand, whose Read never fails on the platforms Go supports (Go 1.24
// and later).
package random

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
)

// Hex is n random bytes in lower-case hex (2n characters).
func Hex(n int) string {
	if n <= 16 {
		// on the stack: one allocation, the string (a lock token, a batch
		// id), instead of three
		var b [16]byte
		var h [32]byte
		_, _ = rand.Read(b[:n])
		hex.Encode(h[:], b[:n])
		return string(h[:2*n])
	}
	return hex.EncodeToString(read(n))
}

// Short is n random bytes in unpadded base64url (4n/3 characters rounded
// up), for ids that should stay short.
func Short(n int) string {
	return base64.RawURLEncoding.EncodeToString(read(n))
}

// AppendShort appends Short(n) to dst.
func AppendShort(dst []byte, n int) []byte {
	var room [48]byte
	b := room[:0]
	if n > len(room) {
		b = make([]byte, 0, n)
	}
	b = b[:n]
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.AppendEncode(dst, b)
}

func read(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
