-- rapyer-go locks: acquire, release and extend, as entries of the same
-- library as the batch interpreter (batch.lua), so that a user allowed only
-- FCALL can take locks too.

-- acquire takes the lock if it is free and gives the acquisition its
-- fencing token.
--
-- keys[1] lock key, keys[2] fence key; args[1] token, args[2] TTL in ms.
-- Reply: {1, fence} when the lock is ours, {0, holder's PTTL in ms} if not.
--
-- The winning path is SET NX PX then INCR: the fewest calls, since every
-- uncontended lock pays for it. If the INCR fails (a counter that is not an
-- integer) the SET is undone and the error returned, so no lock is left
-- without a fence.
--
-- It is idempotent for a token: if the key already holds args[1] (a request
-- applied once, whose reply was lost, then sent again) it reports the same
-- fence instead of failing, and refreshes the TTL.
local function acquire(keys, args)
  if redis.call('SET', keys[1], args[1], 'NX', 'PX', args[2]) then
    local f = redis.pcall('INCR', keys[2])
    if type(f) == 'table' then
      redis.call('DEL', keys[1])
      return f
    end
    return {1, f}
  end
  if redis.call('GET', keys[1]) == args[1] then
    redis.call('PEXPIRE', keys[1], args[2])
    local f = tonumber(redis.call('GET', keys[2]))
    if not f then f = redis.call('INCR', keys[2]) end
    return {1, f}
  end
  return {0, redis.call('PTTL', keys[1])}
end

-- release deletes the lock key if it holds the token and announces the
-- release on the wake channel.
--
-- keys[1] lock key; args[1] token, args[2] wake channel. Reply: 1 released,
-- 0 not held.
local function release(keys, args)
  if redis.call('GET', keys[1]) == args[1] then
    redis.call('DEL', keys[1])
    redis.call('PUBLISH', args[2], keys[1])
    return 1
  end
  return 0
end

-- extend sets the lock key's TTL if it holds the token.
--
-- keys[1] lock key; args[1] token, args[2] TTL in ms. Reply: 1 extended,
-- 0 not held.
local function extend(keys, args)
  if redis.call('GET', keys[1]) == args[1] then
    return redis.call('PEXPIRE', keys[1], args[2])
  end
  return 0
end
