-- rapyer-go locks: acquire, release and extend, as entries of the same
-- library as the batch interpreter (batch.lua), so that a user allowed only
-- FCALL can take locks too. Package lock documents the keys:
--
--   lock key    the holder's token, with the lock's TTL
--   fence key   lock key .. ':fence', the last fencing token given out,
--               living the lock's TTL plus a margin past the last fenced
--               acquisition (an extension lengthens it when shorter)
--   void key    fence key .. ':' .. token, a short-lived marker: this
--               token's acquisition was given up and must not take the lock
--   wait key    fence key .. ':wait', a short-lived flag: someone waits for
--               the lock and wants to be woken; a release announces itself
--               only while it exists
--
-- acquire, release and pass get the lock key alone and name the others
-- after it (they keep its hash tag, so all are in its cluster slot);
-- extend gets the lock and fence keys.

-- MAXFENCE: fences are microseconds and stay exact in a Lua number (a
-- double) below 2^53; a stored value at or above it is not ours.
local MAXFENCE = 9007199254740991

-- refused is the error reply of a fence that the server refused to read
-- or write at k (err, its message): NOPERM for the ACL's refusal, which
-- Redis 7.0 words "can't run this command" and later versions "no
-- permissions".
local function refused(k, err)
  local acl = string.find(err, 'NOPERM', 1, true) or string.find(err, "can't run this command", 1, true)
  local code = acl and 'NOPERM' or 'ERR'
  return redis.error_reply(code .. ' fence key ' .. k .. ': ' .. err)
end

-- nextfence gives out the next fencing token of the fence key k and stores
-- it there, living life ms: the server's clock in microseconds, or one
-- more than the stored fence where that is higher (a clock that stepped
-- back). It returns nil and an error reply if k holds something that is not
-- a fence, and leaves k as it was.
--
-- Why fences never go backwards, whatever is lost: calls of the lock
-- entries run one at a time and each takes more than a microsecond. By
-- induction every fence is at most the clock at the end of its own call: a
-- clock read is, and one more than the stored fence is at most the last
-- call's clock plus 1µs, which this call's end has passed. So the clock,
-- read by every call, is above every fence given out before, whatever
-- became of k: expired, evicted, deleted, or an older value come back (a
-- server restarted from a snapshot or from an append-only file that lost
-- its last writes, a promoted replica that missed them). From session 8 to
-- session 16 of issue #13 the clock was read only once k was gone, and an
-- INCR of k gave the next fence while it lived: an older value of k gave
-- the fences after it out again, one for one.
--
-- So k guards against one thing only: a server clock that steps back. The
-- stored fence is the highest given out (each call stores its own, and
-- it is above all before it), so k covers a step back of d for as long as
-- it lives past the last fence given out, and the clock alone covers it
-- once more than d has passed since that fence. k is therefore written to
-- live life (the lock's TTL plus a minute, package lock's fenceMargin)
-- past each fence it gives out, whatever it had left: a step back of less
-- than the last fenced acquisition's life, at least a minute, is covered. An extension still lengthens k when it has less than the
-- life left (see extend), so k outlives the held lock. Until session 17 a
-- fenced acquisition read k's TTL (PTTL) too and only ever lengthened it:
-- a call more, so that a longer life of an earlier acquisition kept
-- covering longer step backs, which no fence needs once the clock gives
-- them (a step back longer than the time since the last fence is covered
-- by the clock alone).
local function nextfence(k, life)
  local v = redis.pcall('GET', k)
  if type(v) == 'table' then
    return nil, redis.error_reply('ERR fence key ' .. k .. ' is not a string: ' .. tostring(v.err))
  end
  local n = 0
  if v then
    -- tonumber alone (a pattern match first cost more than the rest of
    -- the check): a whole number in [0, MAXFENCE) is a fence, whatever
    -- its spelling; NaN fails n % 1 == 0
    n = tonumber(v)
    if not n or n < 0 or n >= MAXFENCE or n % 1 ~= 0 then
      return nil, redis.error_reply('CORRUPT fence key ' .. k .. ' holds ' .. v .. ', not a fence')
    end
  end
  local t = redis.pcall('TIME')
  if t.err then
    return nil, refused(k, t.err)
  end
  -- the clock in microseconds as text, the seconds and the microseconds
  -- padded to six digits, and read once as a number
  local u = t[2]
  local s = t[1] .. string.sub('000000', #u + 1) .. u
  local f = s + 0
  if f <= n then
    f = n + 1
    -- as an integer (%.0f of a double costs twice as much; a number
    -- argument is formatted by the server in ways that differ between
    -- versions)
    s = string.format('%d', f)
  end
  local set = redis.pcall('SET', k, s, 'PX', life)
  if set.err then
    return nil, refused(k, set.err)
  end
  return f
end

-- wake announces a release on channel, if the user may PUBLISH there, and
-- says whether it did. A refused PUBLISH is no failure: waiters also poll.
-- Where the server can tell beforehand (redis.acl_check_cmd, Redis 7) it is
-- not even tried, so the ACL log stays clean; elsewhere redis.pcall keeps a
-- refusal from failing the call.
local function wake(channel, msg)
  if redis.acl_check_cmd then
    local ok, allowed = pcall(redis.acl_check_cmd, 'PUBLISH', channel, msg)
    if ok and not allowed then return false end
  end
  return type(redis.pcall('PUBLISH', channel, msg)) == 'number'
end

-- flag makes the wait key k say that a waiter of client id waits, for at
-- least lease ms (only ever lengthened: another waiter may poll more
-- slowly). It holds the id of the client whose waiters flagged it, or '*'
-- once waiters of two clients did (or one that sent no id): a release
-- hands the lock straight to a waiter of its own client (pass) only while
-- no other client's waiter has flagged itself, so that those are not
-- passed over.
local function flag(k, id, lease)
  local v = redis.pcall('GET', k)
  if type(v) ~= 'string' then v = false end
  if v and v ~= id then id = '*' end
  local pt = v and redis.call('PTTL', k) or -2
  if id ~= v or pt < lease then
    redis.call('SET', k, id, 'PX', math.max(pt, lease))
  end
end

-- LEASE is the waiter's lease in ms when acquire is sent none: package
-- lock's lease of its default RetryMax (3 * 50ms + 500ms).
local LEASE = 650

-- acquire takes the lock if it is free and gives the acquisition its
-- fencing token.
--
-- keys[1] the lock key k; the other keys of the lock are named after it,
-- in its slot (see the top of this file): the fence key k..':fence', the
-- void key k..':fence:'..token and the wait key k..':fence:wait'. Only the
-- lock key travels: every key and argument of a call costs the server
-- more than the string concatenations that make them here.
-- args[1] token, args[2] TTL in ms, args[3] (optional) a waiter's client
-- id: when the lock is held, a caller that sends one (not '') will wait
-- and wants a release to wake it, so the wait key is flagged for it and
-- made to live at least args[5] ms, its lease, or LEASE when args[5] is
-- absent (the lease of package lock's default RetryMax); args[4] the fence
-- key's lifetime in ms (longer), or 0 or nothing for an acquisition
-- without a fence (the reply's fence is then 0, and the fence key is
-- neither read nor written: a caller that fences its writes by the token
-- needs no number). What is left out costs nothing: each argument costs
-- the server about 1.2k instructions.
-- Reply, one integer (a table reply costs the server more than the rest of
-- an acquisition without a fence): the fence (0 without one, fences are
-- above 0) when the lock is ours; -1 if this token's acquisition was given
-- up (the void key exists): a request that reached the server after its
-- caller had cleaned up; -3 - the holder's PTTL in ms (<= -3) if another
-- holds the lock, or -2 if its key has no TTL.
--
-- It is idempotent for a token: if the key already holds args[1] (a request
-- applied once, whose reply was lost, then sent again) it reports the same
-- fence instead of failing, and refreshes the TTL.
--
-- flife, when given (by acquiref, never by a caller), is the fence's life
-- in place of args[4], and the caller will not wait (args[3] is no
-- client id).
local function acquire(keys, args, flife)
  local k = keys[1]
  if redis.call('EXISTS', k .. ':fence:' .. args[1]) == 1 then
    return -1
  end
  local life = flife or args[4] or '0'
  if redis.call('SET', k, args[1], 'NX', 'PX', args[2]) then
    if life == '0' then return 0 end
    local f, err = nextfence(k .. ':fence', life)
    if not f then
      redis.call('DEL', k)
      return err
    end
    return f
  end
  if redis.call('GET', k) == args[1] then
    redis.call('PEXPIRE', k, args[2])
    if life == '0' then return 0 end
    local fk = k .. ':fence'
    local v = redis.pcall('GET', fk)
    local f = type(v) == 'string' and string.match(v, '^%d+$') and tonumber(v)
    if not f then
      local err
      f, err = nextfence(fk, life)
      if not f then
        redis.call('DEL', k)
        return err
      end
    end
    return f
  end
  -- (acquiref's args[3] is the fence's life: its caller will not wait)
  local id = not flife and args[3]
  if id and id ~= '' then
    flag(k .. ':fence:wait', id, tonumber(args[5]) or LEASE)
  end
  local pt = redis.call('PTTL', k)
  if pt < 0 then return -2 end
  return -3 - pt
end

-- acquiref is acquire for a caller that will not wait and wants a fence:
-- keys[1] the lock key, args[1] token, args[2] TTL in ms, args[3] the
-- fence key's lifetime in ms; the reply as acquire's. It is acquire with
-- args token, TTL, '', life in one argument fewer.
--
-- Until session 17 it was sent token and TTL only and worked the life out
-- (the TTL plus package lock's fenceMargin): the sum cost the server a
-- conversion of the TTL's text, and the life as a number argument of
-- redis.call a formatting with %.17g (about 2.2k instructions, as an
-- integer with string.format 1.4k), where the argument costs it about
-- 0.3k (session 18).
local function acquiref(keys, args)
  return acquire(keys, args, args[3])
end

-- release deletes the lock key if it holds the token and, if someone waits
-- (the wait key exists), announces the release on the wake channel.
--
-- keys[1] the lock key k (the wait key is k..':fence:wait', the wake
-- channel k..':wake', the void key k..':fence:'..token); args[1] token,
-- args[2] (optional) the void key's lifetime in ms. Reply: 2 released and
-- announced, 1 released (nobody waited, or the user may not publish), 0
-- not held.
--
-- With args[2] it also gives up the token's acquisition for good: it sets
-- the void key first, so that a request of that acquisition still on its
-- way (sent on a connection its caller abandoned) refuses to take the lock
-- when it arrives after this call.
local function release(keys, args)
  local k = keys[1]
  if args[2] then
    redis.call('SET', k .. ':fence:' .. args[1], '1', 'PX', args[2])
  end
  if redis.call('GET', k) == args[1] then
    redis.call('DEL', k)
    if redis.call('EXISTS', k .. ':fence:wait') == 1 and wake(k .. ':wake', k) then
      return 2
    end
    return 1
  end
  return 0
end

-- extend sets the lock key's TTL if it holds the token, and keeps the fence
-- key living longer than the lock.
--
-- keys[1] lock key, keys[2] fence key; args[1] token, args[2] TTL in ms,
-- args[3] the fence key's lifetime in ms. Reply: 1 extended, 0 not held.
local function extend(keys, args)
  if redis.call('GET', keys[1]) == args[1] then
    -- lengthened (to twice args[3]) only when it has less than args[3]
    -- left: it outlives the held lock (nextfence writes it to live the
    -- life past each fence it gives out)
    local pt = keys[2] and redis.pcall('PTTL', keys[2])
    if pt and (type(pt) ~= 'number' or pt < tonumber(args[3])) then
      redis.call('PEXPIRE', keys[2], 2 * args[3])
    end
    return redis.call('PEXPIRE', keys[1], args[2])
  end
  return 0
end

-- pass releases the lock and, in the same step, hands it to a waiter of the
-- releasing client, who learns it from that client without a round trip of
-- its own: the lock key takes the waiter's token and TTL and the waiter its
-- fencing token, as if its own acquire had run right after the release.
-- It does so only while no waiter of another client has flagged itself
-- (the wait key is absent or holds this client's id, see flag) and the
-- waiter's acquisition was not given up (its void key is absent);
-- otherwise it is release.
--
-- keys[1] the lock key k (the wait key is k..':fence:wait', the fence key
-- k..':fence', the waiter's void key k..':fence:'..args[2], the wake
-- channel k..':wake'); args[1] token, args[2] the waiter's token, args[3]
-- its TTL in ms, args[4] the fence key's lifetime in ms (0: the waiter
-- takes no fence), args[5] the releasing client's id.
-- Reply, one integer as acquire's: the waiter's fence (0 without one)
-- when handed over; -3 released and announced; -2 released; -1 not held.
local function pass(keys, args)
  local k = keys[1]
  if redis.call('GET', k) ~= args[1] then
    return -1
  end
  local w = redis.pcall('GET', k .. ':fence:wait')
  if (w == false or w == args[5]) and redis.call('EXISTS', k .. ':fence:' .. args[2]) == 0 then
    redis.call('SET', k, args[2], 'PX', args[3])
    if args[4] == '0' then return 0 end -- a waiter without a fence
    local f = nextfence(k .. ':fence', args[4])
    if f then
      return f
    end
    -- not a fence at the fence key: release; the waiter's own attempt
    -- meets the error
  end
  redis.call('DEL', k)
  if w and wake(k .. ':wake', k) then
    return -3
  end
  return -2
end
