package tx

import (
	"sync"
	"time"

	"github.com/rapyer-go/rapyer/internal/keys"
	"github.com/rapyer-go/rapyer/internal/random"
)

// The record keys of compiled Saves, reused. A Save's record was a new key
// a call (tx{<tag>}:<batch id>, with its expiry): inserting it and its
// expiry, and growing the keyspace and the expires dict by one key for
// every Save of the record's lifetime, was the biggest part of the Save's
// server time beyond om's twin (docs/performance.md, "Session 18: the
// Save's server time"). A compiled Save takes a key of its root's slot from
// this pool instead, and writes its batch id into it with SET ... PX ...
// GET, which answers what the key held: the id of the Save that used it
// before, which is no answer (package shape, saveGen.record).
//
// A key goes back to the pool only after a Save settled on its first
// send: a Save that was sent once and answered can never reach the server
// again (a direct call goes as one command go-redis does not resend), so
// the next Save on its key meets only a record that is not its own. A
// Save sent more than once, or whose send may have reached the server
// unanswered, keeps its key out of the pool for good: a copy of it still on
// its way finds its own id there (or the record of a later send of it)
// and is answered from it; the key expires with its record's lifetime.
// KEEPTTL (session 19). The pool also keeps what the client knows of each
// key: the id its last Save wrote there (prev) and a moment before which
// the key cannot expire (until, by the client's monotonic clock: the time
// taken before the send that last gave the key a lifetime, plus that
// lifetime). A Save whose key has at least the record's lifetime and a
// tenth of it left (keepLeft) sends prev as its record word, and its script
// writes the record with SET ... KEEPTTL GET, which keeps the key's
// lifetime, so the record outlives every send of its batch: the executor
// resends only within half the record's lifetime of the first send, which
// starts after until was checked, and takes every send to run within the
// lifetime (docs/atomicity.md, the rule for resends). A key whose time is
// shorter is refreshed ('+': RefreshMS of the lifetime from now); a new key,
// or one whose state the client lost (its Save went to the interpreter or
// failed), gets the record's lifetime (""). When a key holds anything but
// prev, the script gives it RefreshMS from now before it goes on: a key
// that was missing (expired, evicted, flushed, lost by a restart or a
// failover: KEEPTTL would have made it with no TTL) or that holds an older
// write (a failover or a restart that lost the last writes, which may have
// left an older, shorter TTL) never keeps a lifetime the client did not
// count on. The tenth covers a server clock that runs faster than the
// client's by up to about 6% over a key's lifetime, or that steps forward by
// up to a tenth of the record's lifetime (the records of "" and '+' are as
// exposed to a step within their own lifetime).
//
// Keys are random, as batch ids are, so no two processes, and no two
// clients of one process, share one; a key met on another server than the
// one it was used on is missing or holds an id there, either no answer.

// recordPool is the pool: free record keys by cluster slot, in shards.
var recordPool [poolShards]poolShard

const (
	poolShards = 64
	// poolPerSlot bounds the free keys of one slot: as many as Saves in
	// flight on one slot at once, mostly one or two.
	poolPerSlot = 8
	// poolPerShard bounds the free keys of a shard (4,096 in all, at
	// about 30 bytes each).
	poolPerShard = 64
)

// poolShard is the free keys of the slots of one shard.
type poolShard struct {
	mu   sync.Mutex
	free map[uint16][]pooledKey
	n    int
}

// pooledKey is a record key and what its client knows of it: prev, the id
// the last Save on it wrote there, answered by its compiled save ("" when
// unknown), and until, a moment (monotonic) before which it cannot expire
// on the server.
type pooledKey struct {
	key, prev string
	until     time.Time
}

// keepLeft is how long a pooled key must still live for a Save to keep its
// lifetime (KEEPTTL) with records of lifetime life: life, and a tenth of
// it for the server's clock.
func keepLeft(life time.Duration) time.Duration { return life + life/10 }

// takeRecordKey is a record key for a Save on root: a free one of root's
// slot, or a new one.
func takeRecordKey(root string) pooledKey {
	slot := uint16(keys.Slot(root))
	s := &recordPool[slot%poolShards]
	s.mu.Lock()
	if ks := s.free[slot]; len(ks) > 0 {
		k := ks[len(ks)-1]
		s.free[slot] = ks[:len(ks)-1]
		s.n--
		s.mu.Unlock()
		return k
	}
	s.mu.Unlock()
	var room [64]byte
	return pooledKey{key: string(random.AppendShort(keys.AppendTxPrefix(room[:0], root), batchIDBytes))}
}

// putRecordKey gives back k, a record key of root's slot whose Save
// settled on its first send; one the pool has no room for is left to
// expire.
func putRecordKey(root string, k pooledKey) {
	slot := uint16(keys.Slot(root))
	s := &recordPool[slot%poolShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n >= poolPerShard || len(s.free[slot]) >= poolPerSlot {
		return
	}
	if s.free == nil {
		s.free = map[uint16][]pooledKey{}
	}
	s.free[slot] = append(s.free[slot], k)
	s.n++
}
