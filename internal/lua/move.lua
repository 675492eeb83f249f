-- rapyer-go layout move: a model stored before its type declared its first
-- index (keys <prefix>:{<id>}...) moves to its slot group (keys
-- <prefix>:{<prefix>#<g>}:{<id>}...), in three steps that each touch one
-- slot, so that the move works on a cluster too (rapyer/move.go):
-- mvread reads the old keys, mvcopy writes them under the new root unless
-- a newer model is there, mvdrop deletes the old keys unless they changed
-- since mvread (a version guard). A crash between two steps leaves both
-- copies, and the next move of the model finds the new one and drops the
-- old one.

-- mvread(keys, args): keys = the old root, its collection keys, then the
-- move's claim key; args = the mover's token, the claim's life in ms, and
-- 'steal' to take a claim its holder kept longer than its life.
-- Replies {-2} when the root is gone; {-3, pttl of the claim} when another
-- mover holds the claim; otherwise reads the model, then claims it for the
-- token, and replies {pttl of the root, HGETALL of the root, then per collection key
-- its Redis type and its members}. The claim keeps two movers of one model
-- apart: one that read the model before the other moved it, and a write
-- of the indexed model deleted it, would otherwise copy it back.
local function mvread(keys, args)
  local claim = keys[#keys]
  if redis.call('EXISTS', keys[1]) == 0 then return {-2} end
  local c = redis.call('GET', claim)
  if c and c ~= args[1] and args[3] ~= 'steal' then return {-3, redis.call('PTTL', claim)} end
  local out = {redis.call('PTTL', keys[1]), redis.call('HGETALL', keys[1])}
  for i = 2, #keys - 1 do
    local t = redis.call('TYPE', keys[i])
    t = type(t) == 'table' and t.ok or t
    local v = {}
    if t == 'list' then v = redis.call('LRANGE', keys[i], 0, -1)
    elseif t == 'hash' then v = redis.call('HGETALL', keys[i])
    elseif t == 'set' then v = redis.call('SMEMBERS', keys[i])
    elseif t ~= 'none' then return redis.error_reply('WRONGTYPE ' .. keys[i] .. ' holds a ' .. t) end
    out[#out + 1] = t
    out[#out + 1] = v
  end
  -- the claim is its one write, after every read: a read refused (an
  -- ACL without TYPE or LRANGE, a key of the wrong type) leaves no claim
  redis.call('SET', claim, args[1], 'PX', args[2])
  return out
end

-- mvput sends cmd key with the n words of args from i on, 500 at a time
-- (unpack has a limit).
local function mvput(cmd, key, args, i, n)
  local j = i
  while j < i + n do
    local e = math.min(j + 499, i + n - 1)
    redis.call(cmd, key, unpack(args, j, e))
    j = e + 1
  end
end

-- mvcopy(keys, args): keys = the new root, its group's @ids, @exp and
-- @back, then its collection keys; args = the version field, the id, the guard, the
-- pttl, the number of words of the root hash and the words, then per
-- collection its type, the number of words and the words. With an empty
-- guard a new root that exists wins (a write of the indexed model made it
-- after the old one): nothing is written and the reply is 0. With a guard
-- (the version an earlier mvcopy of this move wrote) the new root is
-- replaced when it still holds that version. Replies 1 when it wrote.
-- The model joins @ids, and @exp with a TTL; its entries are for the
-- index's sync (Reindex, or the mover right after), but @back gets an
-- empty entry unless it has one: a delete before the sync then finds the
-- model in @back and takes it out of @ids (index.lua's IX.sync).
-- Every check comes before the first write: a key of the wrong type (the
-- root, or corrupt bookkeeping: @ids, @exp, @back) and, where the server's
-- Lua can ask (redis.acl_check_cmd, Redis 7), a command this user may not
-- send fail the copy with nothing written, not halfway.
local function mvtype(k, want)
  local t = redis.call('TYPE', k)
  t = type(t) == 'table' and t.ok or t
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE ' .. k .. ' holds a ' .. t .. ', not a ' .. want)
  end
end

local function mvask(cmd, k)
  if not redis.acl_check_cmd then return end
  local ok, yes
  if k then ok, yes = pcall(redis.acl_check_cmd, cmd, k) else ok, yes = pcall(redis.acl_check_cmd, cmd) end
  if not ok or not yes then
    return redis.error_reply('NOPERM this user may not send ' .. cmd .. (k and (' with the key ' .. k) or ''))
  end
end

local function mvcheck(keys, args)
  local e = mvtype(keys[1], 'hash') or mvtype(keys[2], 'zset') or mvtype(keys[3], 'zset') or mvtype(keys[4], 'hash')
  if e then return e end
  local ttl = tonumber(args[4])
  local asks = {{'DEL', keys[1]}, {'HSET', keys[1]}, {'ZADD', keys[2]}, {'HSETNX', keys[4]}}
  if ttl >= 0 then
    asks[#asks + 1] = {'PEXPIRE', keys[1]}
    asks[#asks + 1] = {'ZADD', keys[3]}
    asks[#asks + 1] = {'TIME'}
  else
    asks[#asks + 1] = {'ZREM', keys[3]}
  end
  local a = 6 + tonumber(args[5])
  for i = 5, #keys do
    local cmd = 'RPUSH'
    if args[a] == 'hash' then cmd = 'HSET' elseif args[a] == 'set' then cmd = 'SADD' end
    asks[#asks + 1] = {'DEL', keys[i]}
    asks[#asks + 1] = {cmd, keys[i]}
    if ttl >= 0 then asks[#asks + 1] = {'PEXPIRE', keys[i]} end
    a = a + 2 + tonumber(args[a + 1])
  end
  for _, q in ipairs(asks) do
    e = mvask(q[1], q[2])
    if e then return e end
  end
end

local function mvcopy(keys, args)
  local root = keys[1]
  local e = mvcheck(keys, args)
  if e then return e end
  if redis.call('EXISTS', root) == 1 then
    if args[3] == '' or redis.call('HGET', root, args[1]) ~= args[3] then return 0 end
  end
  for i = 5, #keys do redis.call('DEL', keys[i]) end
  redis.call('DEL', root)
  local ttl = tonumber(args[4])
  if ttl == 0 then ttl = 1 end
  local a = 5
  local n = tonumber(args[a])
  if n > 0 then mvput('HSET', root, args, a + 1, n) end
  a = a + 1 + n
  for i = 5, #keys do
    local t = args[a]
    n = tonumber(args[a + 1])
    if n > 0 then
      local cmd = 'RPUSH'
      if t == 'hash' then cmd = 'HSET' elseif t == 'set' then cmd = 'SADD' end
      mvput(cmd, keys[i], args, a + 2, n)
      if ttl > 0 then redis.call('PEXPIRE', keys[i], ttl) end
    end
    a = a + 2 + n
  end
  redis.call('ZADD', keys[2], 0, args[2])
  redis.call('HSETNX', keys[4], args[2], ttl > 0 and 'T' or 'N')
  if ttl > 0 then
    redis.call('PEXPIRE', root, ttl)
    local t = redis.call('TIME')
    redis.call('ZADD', keys[3], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl, args[2])
  else
    redis.call('ZREM', keys[3], args[2])
  end
  return 1
end

-- mvdrop(keys, args): keys = the old root, its collection keys and the
-- claim; args = the version field, the version mvread saw ('' for none)
-- and the token. Deletes the keys and the claim when the token still holds
-- the claim and the root still holds that version (or is gone), and
-- replies 1; replies 0 when the claim was lost (it outlived its life) or a
-- write changed the model since.
local function mvdrop(keys, args)
  if redis.call('GET', keys[#keys]) ~= args[3] then return 0 end
  if redis.call('EXISTS', keys[1]) == 1 and (redis.call('HGET', keys[1], args[1]) or '') ~= args[2] then
    return 0
  end
  redis.call('DEL', unpack(keys))
  return 1
end

-- mvfree(keys, args): keys = the claim; args = the token. Deletes the
-- claim when the token holds it: a mover whose copy was refused (a key of
-- the wrong type at the new root, an ACL's refusal) lets the next mover of
-- the model go on at once, rather than after the claim's life. Replies 1
-- when it deleted the claim.
local function mvfree(keys, args)
  if redis.call('GET', keys[1]) ~= args[1] then return 0 end
  redis.call('DEL', keys[1])
  return 1
end
