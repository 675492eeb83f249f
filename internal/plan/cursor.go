package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// Fingerprint names a query for its cursors: a hash of everything that
// decides its order and its answer (the model's prefix, the predicate's
// words, the order, the direction, the tag), each part length-prefixed so
// that no two lists of parts give the same text.
func Fingerprint(parts ...string) [8]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var fp [8]byte
	copy(fp[:], h.Sum(nil))
	return fp
}

const cursorVersion = 1

// MaxCursor is the longest cursor DecodeCursor reads: the base64 of a
// version, a fingerprint, a sort key of up to 4096 bytes and a checksum.
// The longest sort key is an indexed value of 1024 bytes encoded (at most
// twice as long, and a terminator) then an id of 512 bytes.
const MaxCursor = (13 + 4096) * 4 / 3

// checksum is the first four bytes of a keyed hash of b: what tells a
// cursor that was changed from one the library made.
func checksum(b []byte) []byte {
	s := sha256.Sum256(append([]byte("rapyer-go cursor\x00"), b...))
	return s[:4]
}

// EncodeCursor makes the cursor after key, the sort key of the last result
// of a page, of the query fp names: base64 (URL alphabet) of a version
// byte, fp, key and a checksum.
func EncodeCursor(fp [8]byte, key string) string {
	b := make([]byte, 0, 13+len(key))
	b = append(b, cursorVersion)
	b = append(b, fp[:]...)
	b = append(b, key...)
	b = append(b, checksum(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the sort key a cursor of the query fp resumes after.
// A cursor of another query, or one that was changed, fails with
// errs.BadCursor.
func DecodeCursor(fp [8]byte, c string) (string, error) {
	if len(c) > MaxCursor {
		// no sort key is that long (an indexed value of at most 1024
		// bytes, encoded, then an id of at most 512): a cursor that
		// long was made, not read from a page, and its key would be
		// sent with every call of the query (before, a 10 MB one was)
		return "", fmt.Errorf("%w: a cursor of %d bytes, over the %d of any cursor of this library", errs.BadCursor, len(c), MaxCursor)
	}
	// Strict: a last character whose unused bits are set decodes to the
	// same bytes in the lenient decoder; it is a changed cursor too
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	switch {
	case err != nil || len(b) < 14:
		return "", fmt.Errorf("%w: not a cursor of this library", errs.BadCursor)
	case !bytes.Equal(checksum(b[:len(b)-4]), b[len(b)-4:]) || b[0] != cursorVersion:
		return "", fmt.Errorf("%w: the cursor was changed", errs.BadCursor)
	case !bytes.Equal(b[1:9], fp[:]):
		return "", fmt.Errorf("%w: the cursor belongs to another query", errs.BadCursor)
	}
	return string(b[9 : len(b)-4]), nil
}
