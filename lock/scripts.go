package lock

import "github.com/redis/go-redis/v9"

// acquireScript takes the lock if it is free and gives the acquisition its
// fencing token.
//
// KEYS[1] lock key, KEYS[2] fence key; ARGV[1] token, ARGV[2] TTL in ms.
// Reply: {1, fence} when the lock is ours, {0, holder's PTTL in ms} if not.
//
// The winning path is SET NX PX then INCR: the fewest calls, since every
// uncontended lock pays for it. If the INCR fails (a counter that is not an
// integer) the SET is undone and the error returned, so no lock is left
// without a fence.
//
// It is idempotent for a token: if the key already holds ARGV[1] (a request
// applied once, whose reply was lost, then sent again) it reports the same
// fence instead of failing, and refreshes the TTL.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local f = redis.pcall('INCR', KEYS[2])
  if type(f) == 'table' then
    redis.call('DEL', KEYS[1])
    return f
  end
  return {1, f}
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local f = tonumber(redis.call('GET', KEYS[2]))
  if not f then f = redis.call('INCR', KEYS[2]) end
  return {1, f}
end
return {0, redis.call('PTTL', KEYS[1])}
`)

// releaseScript deletes the lock key if it holds the token and announces the
// release on the wake channel.
//
// KEYS[1] lock key; ARGV[1] token, ARGV[2] wake channel. Reply: 1 released,
// 0 not held.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], KEYS[1])
  return 1
end
return 0
`)

// extendScript sets the lock key's TTL if it holds the token.
//
// KEYS[1] lock key; ARGV[1] token, ARGV[2] TTL in ms. Reply: 1 extended,
// 0 not held.
var extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)
