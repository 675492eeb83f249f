// Package keys is the key layout of rapyer-go: how a model's id becomes the
// names of its Redis keys, and which cluster slot those keys hash to.
//
//	<prefix>:{<id>}                 root hash: scalar fields and the version
//	<prefix>:{<id>}:<path>          a list, hash or set field
//	<prefix>:{<id>}:lock:<action>   a lock on the model
//	tx{<slot tag>}:<batch>           the short-lived record of an applied batch
//
// With a hash-tag function (models grouped in one slot) the root becomes
// <prefix>:{<tag>}:{<id>} and the other keys follow it.
package keys

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/rapyer-go/rapyer/internal/errs"
)

// MaxID is the longest id, in bytes.
const MaxID = 512

// CheckID refuses ids the layout cannot hold: empty, longer than MaxID, not
// UTF-8, or holding braces or control characters.
func CheckID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty id", errs.InvalidID)
	case len(id) > MaxID:
		return fmt.Errorf("%w: id of %d bytes is longer than %d", errs.InvalidID, len(id), MaxID)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: id %q is not UTF-8", errs.InvalidID, id)
	case strings.ContainsAny(id, "{}"):
		return fmt.Errorf("%w: id %q holds a brace, which would break the cluster hash tag", errs.InvalidID, id)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: id %q holds a control character", errs.InvalidID, id)
	}
	return nil
}

// CheckPrefix refuses prefixes that would break the layout or the SCAN pattern.
func CheckPrefix(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty key prefix", errs.InvalidArgument)
	case strings.ContainsAny(p, "{}*?[]\\") || strings.IndexFunc(p, unicode.IsSpace) >= 0 || strings.IndexFunc(p, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: key prefix %q holds a brace, a glob character or white space", errs.InvalidArgument, p)
	}
	return nil
}

// Layout names the keys of one model type.
type Layout struct {
	Prefix string
	// Tag, when set, maps an id to the hash tag its keys share; models with the
	// same tag live in one cluster slot.
	Tag func(id string) string
}

// Root is the key of the model's root hash. The id must have passed CheckID.
func (l Layout) Root(id string) string {
	if l.Tag != nil {
		return l.Prefix + ":{" + l.Tag(id) + "}:{" + id + "}"
	}
	return l.Prefix + ":{" + id + "}"
}

// Field is the key of a collection field of the model whose root is root.
func Field(root, path string) string { return root + ":" + path }

// Lock is the key of a lock on the model whose root is root.
func Lock(root, action string) string { return root + ":lock:" + action }

// Tx is the key recording an applied batch on the model whose root is root:
// tx{<t>}:<batch>, where t is the shortest tag that hashes to the root's
// cluster slot (one to three characters). The record lives in the model's
// slot, so a batch and its record are one atomic step on a cluster too; a
// key <prefix>:... would have to start with "tx{", and no valid prefix holds
// a brace (CheckPrefix), so neither SCAN MATCH <prefix>:* nor IDs ever
// meets it; every record matches the ACL key pattern TxPattern; and its
// length does not grow with the model's id or prefix, so every record costs
// the same memory (24 bytes of key for a 16-character batch id).
func Tx(root, batch string) string {
	return "tx{" + SlotTag(Slot(root)) + "}:" + batch
}

// TxPattern matches every batch record, and only those of rapyer-go's own
// keys: a glob for SCAN MATCH and ACL key patterns (~tx{*).
const TxPattern = "tx{*"

// SlotTag returns the shortest string (letters and digits, the first in
// shortlex order) whose CRC16 puts a key tagged with it in slot.
func SlotTag(slot int) string {
	slotTagsOnce.Do(fillSlotTags)
	return slotTags[slot&16383]
}

var (
	slotTagsOnce sync.Once
	slotTags     *[16384]string
)

const tagAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// fillSlotTags finds a tag for every slot: the 62 + 62^2 + 62^3 strings of up
// to three characters cover all 16384 slots (a test holds it to that; four
// characters are the fallback). It runs once per process, in about a
// millisecond.
func fillSlotTags() {
	t := new([16384]string)
	left := len(t)
	var buf [4]byte
	var walk func(n, depth int)
	walk = func(n, depth int) {
		if left == 0 {
			return
		}
		if depth == n {
			s := int(crc16(string(buf[:n])) % 16384)
			if t[s] == "" {
				t[s] = string(buf[:n])
				left--
			}
			return
		}
		for i := 0; i < len(tagAlphabet) && left > 0; i++ {
			buf[depth] = tagAlphabet[i]
			walk(n, depth+1)
		}
	}
	for n := 1; n <= len(buf) && left > 0; n++ {
		walk(n, 0)
	}
	slotTags = t
}

// Pattern is the SCAN pattern matching the root keys of every model, and
// nothing else (collection, lock and batch keys do not end in a brace).
func (l Layout) Pattern() string {
	if l.Tag != nil {
		return l.Prefix + ":{*}:{*}"
	}
	return l.Prefix + ":{*}"
}

// ID parses a root key back to its id; ok is false for any other key.
func (l Layout) ID(key string) (id string, ok bool) {
	rest, found := strings.CutPrefix(key, l.Prefix+":{")
	if !found || !strings.HasSuffix(rest, "}") {
		return "", false
	}
	rest = rest[:len(rest)-1]
	if l.Tag != nil {
		i := strings.Index(rest, "}:{")
		if i < 0 {
			return "", false
		}
		rest = rest[i+3:]
	}
	if CheckID(rest) != nil {
		return "", false
	}
	return rest, true
}

// Slot is the Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag, or
// of the whole key when it has none, modulo 16384.
func Slot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return int(crc16(key) % 16384)
}

func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
