// Package keys is the key layout of rapyer-go: how a model's id becomes the
// names of its Redis keys, and which cluster slot those keys hash to.
//
//	<prefix>:{<id>}                 root hash: scalar fields and the version
//	<prefix>:{<id>}:<path>          a list, hash or set field
//	<prefix>:{<id>}:lock:<action>   a lock on the model
//	tx{<slot tag>}:<batch>           the short-lived record of an applied batch
//	tx{<slot tag>}:<random>          the same, of a Save, in a reused key (package tx)
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

// MaxAction is the longest lock action, in bytes.
const MaxAction = 128

// piece is what one piece of text inside a key name may be: the one check
// behind CheckID, CheckPrefix, CheckAction and CheckField.
type piece struct {
	what     string // how errors name it
	sentinel error  // what errors wrap
	max      int    // the longest it may be, in bytes (0: no limit)
	forbid   string // the characters it must not hold
	space    bool   // white space is refused too
	why      string // what the forbidden characters would break
}

func (p piece) check(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", p.sentinel, p.what)
	case p.max > 0 && len(s) > p.max:
		return fmt.Errorf("%w: %s of %d bytes is longer than %d", p.sentinel, p.what, len(s), p.max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s %q is not UTF-8", p.sentinel, p.what, s)
	}
	bad := func(r rune) bool {
		return strings.ContainsRune(p.forbid, r) || unicode.IsControl(r) || (p.space && unicode.IsSpace(r))
	}
	if i := strings.IndexFunc(s, bad); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("%w: %s %q holds %q, which would break %s", p.sentinel, p.what, s, r, p.why)
	}
	return nil
}

var (
	idPiece = piece{what: "id", sentinel: errs.InvalidID, max: MaxID, forbid: "{}",
		why: "the cluster hash tag"}
	prefixPiece = piece{what: "key prefix", sentinel: errs.Invalid, forbid: "{}*?[]\\", space: true,
		why: "the cluster hash tag or the SCAN pattern"}
	// A lock key is <root>:lock:<action>, and the lock package derives
	// <lock key>:fence and <lock key>:fence:<token> from it: with a ':' the
	// action "pay:fence" would be the fence key of the action "pay".
	actionPiece = piece{what: "lock action", sentinel: errs.Invalid, max: MaxAction, forbid: "{}*?[]\\:", space: true,
		why: "the cluster hash tag, the SCAN pattern or the lock's fence keys"}
	fieldPiece = piece{what: "field name", sentinel: errs.Unsupported, forbid: ".:{}*?[]\\", space: true,
		why: "the key layout (a collection field's key ends in its name)"}
)

// CheckID refuses ids the layout cannot hold: empty, longer than MaxID, not
// UTF-8, or holding braces or control characters.
func CheckID(id string) error { return idPiece.check(id) }

// CheckPrefix refuses prefixes that would break the layout or the SCAN
// pattern: empty, not UTF-8, holding a brace, a glob character, white space
// or a control character.
func CheckPrefix(p string) error { return prefixPiece.check(p) }

// CheckAction refuses lock actions the key layout cannot hold: empty,
// longer than MaxAction, not UTF-8, holding a brace (the cluster hash tag),
// a glob character (SCAN patterns), white space, a control character or a
// ':'. "fence" itself is reserved: <lock key>:fence is the lock's fence key
// (see lock.FenceKey).
func CheckAction(action string) error {
	if action == "fence" {
		return fmt.Errorf("%w: lock action %q is reserved (lock.FenceKey)", errs.Invalid, action)
	}
	return actionPiece.check(action)
}

// CheckField refuses stored field names the layout gives meaning to: empty,
// not UTF-8, holding . : { } * ? [ ] \ white space or a control character.
// (Names reserved to the library are the schema's to refuse.)
func CheckField(name string) error { return fieldPiece.check(name) }

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

// FieldPath is the path of the collection key k (Field's inverse): what
// follows the root's closing brace. A text that is no such key (a field of
// the root hash) is its own path.
func FieldPath(k string) string {
	if i := strings.LastIndex(k, "}:"); i >= 0 {
		return k[i+2:]
	}
	return k
}

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
	var room [64]byte
	return string(append(AppendTxPrefix(room[:0], root), batch...))
}

// AppendTxPrefix appends to dst the record key of the batches on root
// without their id: Tx(root, id) is it followed by id.
func AppendTxPrefix(dst []byte, root string) []byte {
	dst = append(dst, "tx{"...)
	dst = append(dst, SlotTag(Slot(root))...)
	return append(dst, "}:"...)
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

// HasTag reports whether key has a hash tag: a '{' followed, later, by a
// '}' with at least one byte between them (the first such pair is the
// tag). A key with one keeps its slot when text is appended to it, which is
// how the lock package names a lock's other keys; a key without one hashes
// whole, so "k" and "k:fence" land in unrelated slots.
func HasTag(key string) bool {
	s := strings.IndexByte(key, '{')
	return s >= 0 && strings.IndexByte(key[s+1:], '}') > 0
}

// crc16 is CRC16-CCITT (XMODEM), a byte at a time from crcTable: every
// Save and Get finds its key's slot (about 8x fewer instructions than bit
// by bit).
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^s[i]]
	}
	return crc
}

// crcTable holds the CRC of every byte, the polynomial 0x1021 applied to it
// bit by bit.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()
