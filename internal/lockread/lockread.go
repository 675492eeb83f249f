// Package lockread lets package rapyer take a lock of package lock and read
// the model it guards in one server call (lock.lua's acqread), without a
// new exported name in package lock: package lock sets Acquire when it is
// loaded.
package lockread

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Acquire is lock.Acquire of key with opts (a lock.Options, taken without a
// fence) that also reads the hash at hash, in key's cluster slot, in the
// attempt that takes the lock. It returns the held *lock.Lock and the
// HGETALL reply's RESP bytes; or, when the server refused the read (a
// hash of another type, a user without HGETALL), no lock (the call let it
// go) and the refusal's RESP bytes; or Acquire's error.
var Acquire func(ctx context.Context, rdb redis.UniversalClient, key, hash string, opts any) (l any, raw []byte, err error)
