-- rapyer-go queries (package query): the entry point query(keys, args)
-- runs one query in one group of a model type (one cluster slot). It is
-- appended to the batch interpreter and to index.lua, and uses their
-- helpers: pred (the predicate, in live mode: what a guard would say), KS
-- and KI (the keys pred reads), IX.enc (the order-keeping encoding of the
-- indexes) and IX.purge (the models the clock expired).
--
-- keys[1]: the group's @ids (for routing: every key the call reads is in
-- its slot). args, in order: G (the group's key prefix <prefix>:{<tag>}),
-- what (ids, models, count), the plan (walk, gather, auto, all), desc
-- ('1' for descending), limit (the most results of this call), after (the
-- sort key to resume after, '' for the start), exact ('1': the ranges are
-- the predicate: count may count them), scan ('1': a query that may read
-- every model), the order index, its kind and its zero text ('' for none),
-- the count of collection fields and their name and Redis type, the count
-- of ranges and their index, kind, op, arg, the count of indexes used and
-- their names, the count of predicate words and the words (seven per node,
-- key words '1' for the root and '2'... for the collections, in order),
-- the count of the model's indexes and theirs (name, kind, use, coll).
--
-- Reply: {'OK', done, upto, n, key, id, [model parts], ...} where done is
-- '1' when the group has no more results, upto the last sort key looked at
-- (the next call resumes after it), n the count of results (for count: of
-- matches); a model's parts are its HGETALL and each collection's content.
-- Or {'ERR', code, n, message}.

local Q = {}
-- BUDGET is how many candidates one call looks at before it returns what it
-- has (promise 13: no request holds the server for long); CHUNK how many
-- index members it reads at a time; GATHER the most candidates auto gathers
-- and sorts before it walks the order index instead.
Q.BUDGET, Q.CHUNK, Q.GATHER = 2000, 256, 2048

-- lt: a < b, byte by byte (Lua's < follows the server's locale).
function Q.lt(a, b)
  if a == b then return false end
  return compare('string', a, b) < 0
end

-- esc is the encoding of a text without its terminator: what every member
-- of a text that starts with it starts with.
function Q.esc(s)
  local e = IX.enc('s', s)
  return string.sub(e, 1, #e - 2)
end

-- inc is the least string above every string starting with p; nil for none.
function Q.inc(p)
  while #p > 0 and string.byte(p, #p) == 255 do p = string.sub(p, 1, #p - 1) end
  if #p == 0 then return nil end
  return string.sub(p, 1, #p - 1) .. string.char(string.byte(p, #p) + 1)
end

-- bounds of a range as members: lo inclusive ('' for the start), hi
-- exclusive (nil for the end). Members are enc(value) .. id, enc keeps
-- order and no encoded value is the start of another, and no id holds the
-- byte 255 (ids are UTF-8): so enc(v) .. '\255' is above every member of v.
function Q.bounds(kind, op, arg)
  if op == 'all' then return '', nil end
  if op == 'pre' then
    local p = Q.esc(arg)
    return p, Q.inc(p)
  end
  local e = IX.enc(kind, arg)
  if op == 'eq' then return e, e .. '\255'
  elseif op == 'lt' then return '', e
  elseif op == 'le' then return '', e .. '\255'
  elseif op == 'gt' then return e .. '\255', nil end
  return e, nil -- ge
end

-- merged are the ranges of one index as sorted, disjoint bounds.
function Q.merged(rs)
  local out = {}
  for _, r in ipairs(rs) do
    local lo, hi = Q.bounds(r.kind, r.op, r.arg)
    if hi == nil or Q.lt(lo, hi) then out[#out + 1] = {lo, hi} end
  end
  table.sort(out, function(x, y) return Q.lt(x[1], y[1]) end)
  local m = {}
  for _, b in ipairs(out) do
    local top = m[#m]
    if top ~= nil and (top[2] == nil or not Q.lt(top[2], b[1])) then
      if top[2] ~= nil and (b[2] == nil or Q.lt(top[2], b[2])) then top[2] = b[2] end
    else
      m[#m + 1] = {b[1], b[2]}
    end
  end
  return m
end

-- enclen is the length of the encoded value at the start of member m of an
-- index of kind k (the id follows it).
function Q.enclen(k, m, at)
  at = at or 1
  local b = string.byte(m, at)
  if k == 's' then
    local i = at
    while true do
      i = string.find(m, '\0', i, true)
      if string.byte(m, i + 1) == 1 then return i + 2 - at end
      i = i + 2
    end
  elseif k == 'i' then
    local n = string.byte(m, at + 1)
    if b == 1 then n = 255 - n end
    return 2 + n
  elseif k == 't' then
    return Q.enclen('i', m, at) + 9
  elseif k == 'f' then
    -- -inf, 0, +inf: one byte; a finite one: a byte, then 9
    if b == 1 or b == 3 then return 10 end
    return 1
  end
  return 1 -- bool
end

-- idof is the id of a member of an index of kind k ('' for @ids).
function Q.idof(k, m)
  if k == '' then return m end
  return string.sub(m, Q.enclen(k, m) + 1)
end

-- parse reads the call's arguments into the state of the call S.
function Q.parse(args)
  local S = {G = args[1], what = args[2], plan = args[3], desc = args[4] == '1',
    limit = tonumber(args[5]), after = args[6], exact = args[7] == '1', scan = args[8] == '1',
    order = args[9], okind = args[10], ozero = args[11], cols = {}, ranges = {}, uses = {}, pw = {}}
  local i = 12
  for _ = 1, tonumber(args[i]) do S.cols[#S.cols + 1] = {args[i + 1], args[i + 2]}; i = i + 2 end
  i = i + 1
  for _ = 1, tonumber(args[i]) do
    S.ranges[#S.ranges + 1] = {index = args[i + 1], kind = args[i + 2], op = args[i + 3], arg = args[i + 4]}
    i = i + 4
  end
  i = i + 1
  for _ = 1, tonumber(args[i]) do S.uses[#S.uses + 1] = args[i + 1]; i = i + 1 end
  i = i + 1
  for j = 1, tonumber(args[i]) do S.pw[j] = args[i + j] end
  i = i + 1 + tonumber(args[i])
  -- every index of the model (name kind use coll), for IX.purge
  S.fs = {}
  for _ = 1, tonumber(args[i] or '0') do
    local name, use = args[i + 1], args[i + 3]
    local z = S.G .. ':@i:' .. name
    S.fs[#S.fs + 1] = {name = name, kind = args[i + 2], use = use, coll = args[i + 4], z = z,
      aux = use == 'u' and (S.G .. ':@u:' .. name) or z}
    i = i + 4
  end
  return S
end

-- purge drops the entries of up to 16 models of the group that the clock
-- expired (IX.purge).
function Q.purge(S)
  if IX.purge == nil or #S.fs == 0 then return end
  local G = S.G
  IX.purge({id = '', ids = G .. ':@ids', back = G .. ':@back', exp = G .. ':@exp', f = S.fs}, IX.now())
end

-- root is the root key of model id in the group.
function Q.root(S, id) return S.G .. ':{' .. id .. '}' end

-- holds reports whether model id exists and the predicate holds for it,
-- read now (pred in live mode, on the model's keys).
function Q.holds(S, id)
  local root = Q.root(S, id)
  if redis.call('HEXISTS', root, VERSION) == 0 then return false end
  if #S.pw == 0 then return true end
  local ks = {root}
  for j, c in ipairs(S.cols) do ks[j + 1] = root .. ':' .. c[1] end
  KS = ks
  wipe(KI)
  return (pred(S.pw, 1, 0, true))
end

-- emit adds model id, under its sort key, to the reply.
function Q.emit(S, key, id)
  S.n = S.n + 1
  if S.what == 'count' then return end
  local out = S.out
  out[#out + 1] = key
  out[#out + 1] = id
  if S.what ~= 'models' then return end
  local root = Q.root(S, id)
  out[#out + 1] = redis.call('HGETALL', root)
  for _, c in ipairs(S.cols) do
    local k = root .. ':' .. c[1]
    if c[2] == 'list' then out[#out + 1] = redis.call('LRANGE', k, 0, -1)
    elseif c[2] == 'hash' then out[#out + 1] = redis.call('HGETALL', k)
    else out[#out + 1] = redis.call('SMEMBERS', k) end
  end
end

-- visit looks at one candidate; it returns true when the call must stop
-- (its limit of results, or its budget).
function Q.visit(S, key, id)
  S.seen, S.upto = S.seen + 1, key
  if Q.holds(S, id) then
    Q.emit(S, key, id)
    if S.what ~= 'count' and S.n >= S.limit then return true end
  end
  return S.seen >= Q.BUDGET
end

-- clamp narrows the bounds {lo, hi} to the keys after S.after in the
-- call's direction; nil when nothing is left.
function Q.clamp(S, b)
  local lo, hi = b[1], b[2]
  if S.after ~= '' then
    if S.desc then
      if hi == nil or Q.lt(S.after, hi) then hi = S.after end
    else
      local a = S.after .. '\0'
      if Q.lt(lo, a) then lo = a end
    end
  end
  if hi ~= nil and not Q.lt(lo, hi) then return nil end
  return lo, hi
end

-- walk walks the index key over the sorted, disjoint bounds bs, in the
-- call's direction, members of kind k ('' for @ids, whose members are the
-- ids). It returns true when it stopped before the end.
function Q.walk(S, key, k, bs)
  local from, to, step = 1, #bs, 1
  if S.desc then from, to, step = #bs, 1, -1 end
  for j = from, to, step do
    local lo, hi = Q.clamp(S, bs[j])
    if lo ~= nil and Q.walkone(S, key, k, lo, hi) then return true end
  end
  return false
end

function Q.walkone(S, key, k, lo, hi)
  local min, max = (lo == '' and '-' or '[' .. lo), (hi == nil and '+' or '(' .. hi)
  -- the first chunk fits the limit, the next ones double up to CHUNK
  local chunk = math.min(Q.CHUNK, math.max(16, (S.limit or 0) + 1))
  while true do
    local ms
    if S.desc then ms = redis.call('ZREVRANGEBYLEX', key, max, min, 'LIMIT', 0, chunk)
    else ms = redis.call('ZRANGEBYLEX', key, min, max, 'LIMIT', 0, chunk) end
    for _, m in ipairs(ms) do
      if Q.visit(S, m, Q.idof(k, m)) then return true end
    end
    if #ms < chunk then return false end
    chunk = math.min(Q.CHUNK, chunk * 2)
    if S.desc then max = '(' .. ms[#ms] else min = '(' .. ms[#ms] end
  end
end

-- orderkey is the sort key of model id by the order index: its member there,
-- made from the model's value now.
function Q.orderkey(S, id)
  local v = redis.call('HGET', Q.root(S, id), S.order)
  return IX.enc(S.okind, v or S.ozero) .. id
end

-- candidates are the ids the ranges hold, each once, and their count.
function Q.candidates(S)
  local seen, ids = {}, {}
  for _, r in ipairs(S.ranges) do
    local key = S.G .. ':@i:' .. r.index
    for _, b in ipairs(Q.merged({r})) do
      local min, max = (b[1] == '' and '-' or '[' .. b[1]), (b[2] == nil and '+' or '(' .. b[2])
      local from = 0
      repeat
        local ms = redis.call('ZRANGEBYLEX', key, min, max, 'LIMIT', from, 4096)
        for _, m in ipairs(ms) do
          local id = Q.idof(r.kind, m)
          if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
        end
        from = from + #ms
      until #ms < 4096
    end
  end
  return ids
end

-- gather visits the candidates of the ranges in the order of their sort
-- keys (the id, or with an order the member of the order index).
function Q.gather(S)
  local keyed = {}
  for _, id in ipairs(Q.candidates(S)) do
    local key = id
    if S.order ~= '' then key = Q.orderkey(S, id) end
    local keep = S.after == '' or (S.desc and Q.lt(key, S.after)) or (not S.desc and Q.lt(S.after, key))
    if keep then keyed[#keyed + 1] = {key, id} end
  end
  if S.desc then table.sort(keyed, function(x, y) return Q.lt(y[1], x[1]) end)
  else table.sort(keyed, function(x, y) return Q.lt(x[1], y[1]) end) end
  for _, c in ipairs(keyed) do
    if Q.visit(S, c[1], c[2]) then return true end
  end
  return false
end

-- few reports whether gathering the candidates of the ranges costs less
-- than walking the order index: c candidates, n models in the group; a
-- walk looks at about limit * n / c entries to find limit matches (all n
-- to count), a gather at c (and reads each one's order value). At most
-- GATHER candidates are gathered.
function Q.few(S)
  local c = 0
  for _, r in ipairs(S.ranges) do
    for _, b in ipairs(Q.merged({r})) do
      local min, max = (b[1] == '' and '-' or '[' .. b[1]), (b[2] == nil and '+' or '(' .. b[2])
      c = c + redis.call('ZLEXCOUNT', S.G .. ':@i:' .. r.index, min, max)
      if c > Q.GATHER then return false end
    end
  end
  if S.what == 'count' then return true end
  return c * c <= S.limit * redis.call('ZCARD', S.G .. ':@ids')
end

-- stale reports whether a model of the group died by its TTL and is still
-- in the indexes (IX.purge takes a few per call): then counts of the
-- indexes would be off, and count reads the models instead.
function Q.stale(S)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local due = redis.call('ZRANGEBYSCORE', S.G .. ':@exp', '-inf', now, 'LIMIT', 0, 64)
  for _, id in ipairs(due) do
    if redis.call('EXISTS', Q.root(S, id)) == 0 then return true end
  end
  return #due == 64
end

-- count counts without reading a model where the plan allows it; nil
-- where it does not.
function Q.count(S)
  if not S.exact or S.after ~= '' or Q.stale(S) then return nil end
  if S.plan == 'all' then return redis.call('ZCARD', S.G .. ':@ids') end
  if S.plan ~= 'walk' then return nil end
  local n, key = 0, S.G .. ':@i:' .. S.ranges[1].index
  for _, b in ipairs(Q.merged(S.ranges)) do
    n = n + redis.call('ZLEXCOUNT', key, b[1] == '' and '-' or '[' .. b[1], b[2] == nil and '+' or '(' .. b[2])
  end
  return n
end

-- building fails the call when an index the plan reads is not ready in
-- the group: being built (Model.Reindex), or never built though the group
-- has models (an index declared after they were written; the group's first
-- write marks the indexes it maintains ready, IX.sync). The caller may
-- then scan (query.Scan), with a plan that reads no index.
function Q.building(S)
  local n
  -- a plan without indexes (a scan, All) reads @ids, which lacks the
  -- models a first index's move (rapyer/move.go) has not moved yet
  if #S.uses == 0 and redis.call('HGET', S.G .. ':@meta', '@move') == 'moving' then
    fail('BUILDING', 0, 'the models of the type stored before its first index are moving to its slot groups')
  end
  for _, name in ipairs(S.uses) do
    local st = redis.call('HGET', S.G .. ':@meta', name)
    if st == 'building' then fail('BUILDING', 0, 'the index of ' .. name .. ' is being built') end
    if st ~= 'ready' then
      n = n or redis.call('ZCARD', S.G .. ':@ids')
      if n > 0 then fail('BUILDING', 0, 'the index of ' .. name .. ' is not built yet') end
    end
  end
end

function Q.run(S)
  Q.purge(S)
  Q.building(S)
  S.n, S.seen, S.upto, S.out = 0, 0, S.after, {}
  if S.what == 'count' then
    local n = Q.count(S)
    if n ~= nil then return {'OK', '1', '', n} end
  end
  local more
  if S.plan == 'all' then
    more = Q.walk(S, S.G .. ':@ids', '', {{'', nil}})
  elseif S.plan == 'gather' or (S.plan == 'auto' and Q.few(S)) then
    more = Q.gather(S)
  else
    local r = S.ranges[1]
    local bs = {{'', nil}}
    if S.plan == 'walk' then
      if r == nil then return {'OK', '1', S.upto, 0} end
      bs = Q.merged(S.ranges)
    end
    local name, kind = S.order, S.okind
    if S.plan == 'walk' then name, kind = r.index, r.kind end
    more = Q.walk(S, S.G .. ':@i:' .. name, kind, bs)
  end
  local out = {'OK', more and '0' or '1', S.upto, S.n}
  for _, x in ipairs(S.out) do out[#out + 1] = x end
  return out
end

-- query is the entry point.
local function query(keys, args)
  WROTE, AT = false, 0
  return answer(pcall(function() return Q.run(Q.parse(args)) end))
end
