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
-- the count of the model's indexes and theirs (name, kind, use, coll),
-- sure ('1': every candidate of the ranges holds the predicate, so only
-- candidates of other walks are checked against it), the count of the root
-- fields a model is read with and their names.
--
-- Reply: {'OK', done, upto, n, results} where done is '1' when the group
-- has no more results, upto the last sort key looked at (the next call
-- resumes after it), n the count of results (for count: of matches), and
-- results (not for count) one MessagePack array (Q.pack) of key, id,
-- [model parts], ... for each result; a model's parts are the values of
-- its version and of the root fields, in the order of the call (false
-- where absent), then each collection's content (an array).
-- Or {'ERR', code, n, message}. On a server that is not a cluster one call
-- runs every group (Q.multi).

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
  -- a candidate read against the predicate costs the budget one more
  -- for every 16 of its nodes (seven words each): a large predicate
  -- (the client allows 256 nodes) looks at fewer candidates a call
  S.cost = math.floor(#S.pw / 112)
  -- every index of the model (name kind use coll), for IX.purge
  S.fs = {}
  for _ = 1, tonumber(args[i] or '0') do
    local name = args[i + 1]
    local use, null, mark = IX.use(args[i + 3])
    local z = S.G .. ':@i:' .. name
    S.fs[#S.fs + 1] = {name = name, kind = args[i + 2], use = use, null = null, mark = mark, coll = args[i + 4], z = z,
      aux = use == 'u' and (S.G .. ':@u:' .. name) or z}
    i = i + 4
  end
  -- sure, then the root fields a model is read with (HMGET: values only,
  -- the version first)
  S.sure = args[i + 1] == '1'
  S.hm = {VERSION}
  i = i + 2
  for j = 1, tonumber(args[i] or '0') do S.hm[j + 1] = args[i + j] end
  Q.fastplan(S)
  return S
end

-- fastplan sets S.fast when every leaf of the predicate compares a root
-- field (no length, no membership): a candidate's fields are then read
-- with the one HMGET that also says whether it exists (and, for models,
-- reads it), and the words are evaluated on the values (Q.eval) as pred
-- does in live mode. S.at is the place of each field in the HMGET (S.hm,
-- or for ids and counts S.pm: the version and the compared fields).
function Q.fastplan(S)
  local a, fields = S.pw, {}
  -- sure ranges are all a walk of them meets (auto may walk the order
  -- index instead, a gather of many candidates the group's ids)
  if #a == 0 or (S.sure and S.plan == 'walk') then return end
  for i = 1, #a, 7 do
    local tag = a[i + 1]
    if tag == 'cmp' then
      if a[i] ~= '1' then return end
      fields[#fields + 1] = a[i + 2]
    elseif tag ~= 'and' and tag ~= 'or' and tag ~= 'not' then
      return
    end
  end
  local at = {}
  if S.what == 'models' then
    for j, name in ipairs(S.hm) do at[name] = j end
    for _, f in ipairs(fields) do
      if at[f] == nil then return end
    end
  else
    S.pm = {VERSION}
    for _, f in ipairs(fields) do
      if at[f] == nil then
        S.pm[#S.pm + 1] = f
        at[f] = #S.pm
      end
    end
  end
  S.fast, S.at = true, at
end

-- eval is pred in live mode for words of comparisons only (Q.fastplan),
-- on the values v of the model's HMGET (false where a field is absent).
function Q.eval(a, i, v, at)
  local tag, x = a[i + 1], a[i + 2]
  if tag == 'and' or tag == 'or' or tag == 'not' then
    local r, j = tag == 'and', i + 7
    for _ = 1, tonumber(x) do
      local ok
      ok, j = Q.eval(a, j, v, at)
      if tag == 'and' then r = r and ok elseif tag == 'or' then r = r or ok else r = not ok end
    end
    return r, j
  end
  local kind, rel, arg = a[i + 3], a[i + 4], a[i + 5]
  local cur = v[at[x]] or a[i + 6]
  if not valid(kind, cur) then return false, i + 7 end
  if rel == 'pre' then return string.sub(cur, 1, #arg) == arg, i + 7 end
  return holds(compare(kind, cur, arg), rel), i + 7
end

-- purge drops the entries of up to 16 models of the group that the clock
-- expired (IX.purge).
-- The clock is read once a call (Q.clock), and the common case, nothing
-- due, asked with texts: a number given to redis.call is formatted by the
-- server with snprintf('%.17g'), a few thousand instructions each.
function Q.purge(S)
  if IX.purge == nil or #S.fs == 0 then return end
  local G = S.G
  if S.now == nil then Q.clock(S) end
  local exp = G .. ':@exp'
  local due = redis.call('ZRANGEBYSCORE', exp, '-inf', S.nows, 'LIMIT', '0', '1')
  if #due == 0 then return end
  local x = {id = '', ids = G .. ':@ids', back = G .. ':@back', exp = exp, f = S.fs}
  Q.asks(S, x, Q.root(S, due[1]))
  IX.purge(x, S.now)
end

-- asks asks the ACL (Redis 7: redis.acl_check_cmd) for every command the
-- purge of x sends and every read of the query after it, before the
-- purge's first write: a user denied one of them fails the call with
-- NOPERM and nothing written, not after a purge written halfway (a ZREM
-- done, the HDEL of @back refused) or whole (the call refused as
-- partly applied). root is a model's root key, for the reads of models.
Q.READS = {'ZRANGEBYLEX', 'ZREVRANGEBYLEX', 'ZLEXCOUNT', 'ZCARD', 'ZRANGEBYSCORE'}
Q.MREADS = {'HGET', 'HMGET', 'HEXISTS', 'HGETALL', 'EXISTS', 'HLEN', 'HSTRLEN', 'LRANGE', 'LINDEX',
  'LLEN', 'LPOS', 'SMEMBERS', 'SISMEMBER', 'SCARD'}
function Q.asks(S, x, root)
  if ACL == nil then return end
  local zs = {x.ids, x.exp}
  for _, f in ipairs(x.f) do zs[#zs + 1] = f.z end
  for _, k in ipairs(zs) do
    ask('ZADD', k, 0); ask('ZREM', k, 0)
    for _, c in ipairs(Q.READS) do ask(c, k, 0) end
  end
  ask('HSET', x.back, 0); ask('HDEL', x.back, 0); ask('HGET', x.back, 0)
  for _, f in ipairs(x.f) do
    if f.use == 'u' then ask('HSET', f.aux, 0); ask('HDEL', f.aux, 0); ask('HGET', f.aux, 0) end
  end
  ask('HGET', S.G .. ':@meta', 0); ask('HSETNX', S.G .. ':@meta', 0)
  ask('TIME', x.ids, 0); ask('PTTL', root, 0)
  for _, c in ipairs(Q.MREADS) do ask(c, root, 0) end
end

-- clock sets S.now, the server's clock in ms as IX.now reads it, and
-- S.nows, its text, made from TIME's texts (seconds, then the first three
-- of the six digits of the microseconds).
function Q.clock(S)
  local t = redis.call('TIME')
  S.nows = t[1] .. string.sub(string.rep('0', 6 - #t[2]) .. t[2], 1, 3)
  S.now = tonumber(S.nows)
end

-- num is the text of the whole number n, kept once made (for redis.call,
-- see Q.purge).
Q.texts = {}
function Q.num(n)
  local s = Q.texts[n]
  if s == nil then
    s = string.format('%d', n)
    Q.texts[n] = s
  end
  return s
end

-- root is the root key of model id in the group.
function Q.root(S, id) return S.G .. ':{' .. id .. '}' end

-- pred reports whether the predicate holds for model id, read now (pred
-- in live mode, on the model's keys).
function Q.pred(S, id)
  local root = Q.root(S, id)
  local ks = {root}
  for j, c in ipairs(S.cols) do ks[j + 1] = root .. ':' .. c[1] end
  KS = ks
  wipe(KI)
  return (pred(S.pw, 1, 0, true))
end

-- visit looks at one candidate; it returns true when the call must stop
-- (its limit of results, or its budget). sure says that the candidate came
-- from the ranges and they are the predicate (S.sure): the index is ready
-- (Q.building), written in the same step as the model, so its entry is the
-- model's value and the predicate is not read again. Whether the model
-- still exists (a TTL may have ended it, and IX.purge takes only a few per
-- call) is always read: the HMGET of a models query is also that check.
function Q.visit(S, key, id, sure)
  S.seen, S.upto = S.seen + 1, key
  local ok
  if sure or #S.pw == 0 then ok = Q.emit(S, key, id, false)
  elseif S.fast then ok = Q.emit(S, key, id, true)
  else ok = Q.pred(S, id) and Q.emit(S, key, id, false) end
  if not sure and #S.pw > 0 then S.seen = S.seen + S.cost end
  if ok then
    S.n = S.n + 1
    if S.what ~= 'count' and S.n >= S.limit then return true end
  end
  return S.seen >= Q.BUDGET
end

-- sure is Q.visit and Q.emit in one loop for the members ms of a range
-- of one value (the id from byte fixed on) that are the predicate, of a
-- models query of a type without collections: the commonest query (an
-- equality), whose work per model is mostly the script's own. Like emit,
-- a model without its version is gone and not counted.
function Q.sure(S, ms, fixed)
  local hm, out, o, n, seen, limit = S.hm, S.out, S.o, S.n, S.seen, S.limit
  local nv, pre, sub, call = #S.hm, S.G .. ':{', string.sub, redis.call
  local stop = false
  for i = 1, #ms do
    local m = ms[i]
    local id = sub(m, fixed)
    seen = seen + 1
    S.upto = m
    local v = call('HMGET', pre .. id .. '}', unpack(hm))
    if v[1] then
      out[o + 1], out[o + 2] = m, id
      for j = 1, nv do out[o + 2 + j] = v[j] end
      o, n = o + 2 + nv, n + 1
      if n >= limit then stop = true; break end
    end
    if seen >= Q.BUDGET then stop = true; break end
  end
  S.o, S.n, S.seen = o, n, seen
  return stop
end

-- sureids is Q.sure for an ids query (FindIDs, DeleteWhere): the members
-- ms are the predicate, so a model is found when it exists (its version,
-- HEXISTS), as emit says.
function Q.sureids(S, ms, fixed)
  local out, o, n, seen, limit = S.out, S.o, S.n, S.seen, S.limit
  local pre, sub, call, V = S.G .. ':{', string.sub, redis.call, VERSION
  local stop = false
  for i = 1, #ms do
    local m = ms[i]
    local id = sub(m, fixed)
    seen = seen + 1
    S.upto = m
    if call('HEXISTS', pre .. id .. '}', V) == 1 then
      out[o + 1], out[o + 2] = m, id
      o, n = o + 2, n + 1
      if n >= limit then stop = true; break end
    end
    if seen >= Q.BUDGET then stop = true; break end
  end
  S.o, S.n, S.seen = o, n, seen
  return stop
end

-- emit adds model id, under its sort key, to the reply, and reports
-- whether it exists (a root without its version is a model that is gone)
-- and, with check, whether the predicate holds for it (Q.eval).
function Q.emit(S, key, id, check)
  local root = Q.root(S, id)
  if S.what ~= 'models' then
    if check then
      local v = redis.call('HMGET', root, unpack(S.pm))
      if not v[1] or not Q.eval(S.pw, 1, v, S.at) then return false end
    elseif redis.call('HEXISTS', root, VERSION) == 0 then
      return false
    end
    if S.what == 'count' then return true end
    local out, o = S.out, S.o
    out[o + 1] = key
    out[o + 2] = id
    S.o = o + 2
    return true
  end
  local v = redis.call('HMGET', root, unpack(S.hm))
  if not v[1] or (check and not Q.eval(S.pw, 1, v, S.at)) then return false end
  local out, o = S.out, S.o
  out[o + 1] = key
  out[o + 2] = id
  o = o + 2
  local nv = #S.hm
  for j = 1, nv do out[o + j] = v[j] end
  o = o + nv
  for _, c in ipairs(S.cols) do
    local k = root .. ':' .. c[1]
    o = o + 1
    if c[2] == 'list' then out[o] = redis.call('LRANGE', k, 0, -1)
    elseif c[2] == 'hash' then out[o] = redis.call('HGETALL', k)
    else out[o] = redis.call('SMEMBERS', k) end
  end
  S.o = o
  return true
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
    -- the members of a range of one value all start with its encoding:
    -- the id is what follows it
    local b, fixed = bs[j], nil
    if b[1] ~= '' and b[2] == b[1] .. '\255' then fixed = #b[1] + 1 end
    if lo ~= nil and Q.walkone(S, key, k, lo, hi, fixed) then return true end
  end
  return false
end

function Q.walkone(S, key, k, lo, hi, fixed)
  local min, max = (lo == '' and '-' or '[' .. lo), (hi == nil and '+' or '(' .. hi)
  -- the first chunk fits the limit, the next ones double up to CHUNK
  local chunk = math.min(Q.CHUNK, math.max(16, (S.limit or 0) + 1))
  while true do
    local ms
    local c = Q.num(chunk)
    if S.desc then ms = redis.call('ZREVRANGEBYLEX', key, max, min, 'LIMIT', '0', c)
    else ms = redis.call('ZRANGEBYLEX', key, min, max, 'LIMIT', '0', c) end
    if fixed and S.trust and S.what == 'models' and #S.cols == 0 then
      if Q.sure(S, ms, fixed) then return true end
    elseif fixed and S.trust and S.what == 'ids' then
      if Q.sureids(S, ms, fixed) then return true end
    else
      for _, m in ipairs(ms) do
        local id
        if fixed then id = string.sub(m, fixed) else id = Q.idof(k, m) end
        if Q.visit(S, m, id, S.trust) then return true end
      end
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
    if Q.visit(S, c[1], c[2], S.sure) then return true end
  end
  return false
end

-- streams are the ranges of S as streams of ids, when every range is of
-- one value (an equality, a Member, an In's value): the members of one
-- value, enc(value) .. id, are in the order of the ids, so the ranges
-- merged are the candidates in the order of a gather without an order
-- (Q.merge), read from where the call resumes; nil when a range is not.
function Q.streams(S)
  if S.order ~= '' then return nil end
  local st = {}
  local chunk = math.min(Q.CHUNK, math.max(16, (S.limit or 0) + 1))
  for _, r in ipairs(S.ranges) do
    for _, b in ipairs(Q.merged({r})) do
      local e = b[1]
      if e == '' or b[2] ~= e .. '\255' then return nil end
      local min, max = '[' .. e, '(' .. e .. '\255'
      if S.after ~= '' then
        if S.desc then max = '(' .. e .. S.after else min = '(' .. e .. S.after end
      end
      st[#st + 1] = {key = S.G .. ':@i:' .. r.index, min = min, max = max, fixed = #e + 1,
        chunk = chunk, buf = {}, i = 1}
    end
  end
  return st
end

-- head is the id at the head of stream s (Q.streams), reading its next
-- chunk when its buffer is spent; nil when it has no more.
function Q.head(S, s)
  if s.i > #s.buf then
    if s.done then return nil end
    local c = Q.num(s.chunk)
    if S.desc then s.buf = redis.call('ZREVRANGEBYLEX', s.key, s.max, s.min, 'LIMIT', '0', c)
    else s.buf = redis.call('ZRANGEBYLEX', s.key, s.min, s.max, 'LIMIT', '0', c) end
    s.i, s.done = 1, #s.buf < s.chunk
    if #s.buf == 0 then return nil end
    if S.desc then s.max = '(' .. s.buf[#s.buf] else s.min = '(' .. s.buf[#s.buf] end
    s.chunk = math.min(Q.CHUNK, s.chunk * 2)
  end
  return string.sub(s.buf[s.i], s.fixed)
end

-- merge visits the ids of the streams st in the call's direction, each
-- once (an id in several ranges heads them together): what Q.gather does
-- without an order, reading only as far as the call goes instead of every
-- candidate of every range at every call.
function Q.merge(S, st)
  while true do
    local best
    for _, s in ipairs(st) do
      local id = Q.head(S, s)
      if id ~= nil and (best == nil or (S.desc and Q.lt(best, id)) or (not S.desc and Q.lt(id, best))) then
        best = id
      end
    end
    if best == nil then return false end
    for _, s in ipairs(st) do
      if Q.head(S, s) == best then s.i = s.i + 1 end
    end
    if Q.visit(S, best, best, S.sure) then return true end
  end
end

-- few reports whether gathering the candidates of the ranges costs less
-- than walking the order index (auto) or the group's ids (gather): c
-- candidates, n models in the group; a walk looks at about limit * n / c
-- entries to find limit matches (all n to count), a gather at c (and
-- reads each one's order value), at every call. At most GATHER candidates
-- are gathered.
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
-- indexes would be off, and count reads the models instead. A deadline
-- in @exp may come after the model's real end: a write reads the clock
-- after the server fixed the time its TTL counts from (on Redis 7 the
-- time of a script is its start), so the deadline is late by the time
-- the write took until then. stale looks at the deadlines up to
-- Q.SLACK ms ahead: a model that died before its deadline is seen too,
-- and count agrees with what Find returns.
Q.SLACK = 1000
function Q.stale(S)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local due = redis.call('ZRANGEBYSCORE', S.G .. ':@exp', '-inf', now + Q.SLACK, 'LIMIT', 0, 64)
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
  -- the results are built in place, one array packed at the end; seen
  -- goes on from the groups before in a call of several (Q.multi)
  S.n, S.seen, S.upto, S.out, S.o = 0, S.seen or 0, S.after, {}, 0
  if S.what == 'count' then
    local n = Q.count(S)
    if n ~= nil then return {'OK', '1', '', n} end
  end
  local more
  local st = S.plan == 'gather' and Q.streams(S)
  if S.plan == 'all' then
    more = Q.walk(S, S.G .. ':@ids', '', {{'', nil}})
  elseif st then
    more = Q.merge(S, st)
  elseif S.plan == 'gather' and S.order == '' and #S.pw > 0 and not Q.few(S) then
    -- too many candidates to gather at every call: the group's ids in
    -- their order (a gather's without an order), each read against the
    -- predicate, as far as the call goes
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
    -- a walk of the ranges meets only models they hold; a walk of the
    -- whole order index (auto) any model
    if S.plan == 'walk' then name, kind, S.trust = r.index, r.kind, S.sure end
    more = Q.walk(S, S.G .. ':@i:' .. name, kind, bs)
  end
  return {'OK', more and '0' or '1', S.upto, S.n, Q.pack(S.out)}
end

-- pack is the results as one MessagePack array (cmsgpack, a library of
-- the server, in C): one bulk string in the reply instead of a bulk a
-- value, which costs the server about a sixth of a model found and the
-- client its decoding of every value (rapyer/querycall.go reads it).
function Q.pack(t)
  -- (a server without it may refuse to read the missing global)
  local ok, mp = pcall(function() return cmsgpack end)
  if ok and type(mp) == 'table' then return mp.pack(t) end
  return Q.lpack(t)
end

-- lpack is cmsgpack.pack's twin in Lua, for the arrays of the results.
function Q.lpack(t)
  local p = {n = 0, done = {}}
  Q.mput(p, t)
  p.done[#p.done + 1] = table.concat(p, '', 1, p.n)
  return table.concat(p.done)
end

-- mput appends the MessagePack of v (a string, false, or an array of
-- them) to p, as cmsgpack writes it, for servers without cmsgpack
-- (miniredis); every 512 pieces are joined into p.done (miniredis's Lua
-- cannot join a few hundred thousand at once).
function Q.mput(p, v)
  if p.n >= 512 then
    p.done[#p.done + 1] = table.concat(p, '', 1, p.n)
    p.n = 0
  end
  if v == false or v == nil then p.n = p.n + 1; p[p.n] = '\194'; return end
  if type(v) == 'table' then
    p.n = p.n + 1
    p[p.n] = Q.mhead(#v, 144, 16, '\220', '\221')
    for _, e in ipairs(v) do Q.mput(p, e) end
    return
  end
  v = tostring(v)
  local n = #v
  if n >= 32 and n < 256 then p[p.n + 1] = '\217' .. string.char(n)
  else p[p.n + 1] = Q.mhead(n, 160, 32, '\218', '\219') end
  p[p.n + 2] = v
  p.n = p.n + 2
end

-- mhead is the head of an array (or a text) of n: one byte base + n below
-- fix, else the 16-bit or the 32-bit form.
function Q.mhead(n, base, fix, h16, h32)
  if n < fix then return string.char(base + n) end
  local w, h = 4, h32
  if n < 65536 then w, h = 2, h16 end
  local b = ''
  for _ = 1, w do b = string.char(n % 256) .. b; n = math.floor(n / 256) end
  return h .. b
end

-- multi runs the call for several groups of one server that is not a
-- cluster (keys[j]: the @ids of each): args are '*', the count k of groups,
-- then each group's G, limit and after, then the arguments of a call of
-- one group from what on without limit and after (what, plan, desc, exact,
-- scan, ...). The arguments are read once (Q.parse), the group's key
-- prefix set for each; each group is purged, checked ready and walked as a
-- call of its own (Q.run), but the budget is the call's: once it is spent
-- the groups left are not read, and answer as not done where they were
-- (after). Reply: {'MULTI', reply of group 1, ..., of group k}.
function Q.multi(args)
  local k = tonumber(args[2])
  local b = 3 + 3 * k
  local a = {args[3], args[b], args[b + 1], args[b + 2], args[4], args[5]}
  for i = b + 3, #args do a[#a + 1] = args[i] end
  local S = Q.parse(a)
  local out = {'MULTI'}
  for j = 1, k do
    local at = 3 + 3 * (j - 1)
    S.G, S.limit, S.after = args[at], tonumber(args[at + 1]), args[at + 2]
    for _, f in ipairs(S.fs) do
      f.z = S.G .. ':@i:' .. f.name
      f.aux = f.use == 'u' and (S.G .. ':@u:' .. f.name) or f.z
    end
    if (S.seen or 0) >= Q.BUDGET then out[j + 1] = {'OK', '0', S.after, 0}
    else out[j + 1] = Q.run(S) end
  end
  return out
end

-- query is the entry point.
local function query(keys, args)
  WROTE, AT = false, 0
  ACL = redis.acl_check_cmd
  if ACL ~= nil then for _, t in pairs(asked) do wipe(t) end end
  if args[1] == '*' then return answer(pcall(function() return Q.multi(args) end)) end
  return answer(pcall(function() return Q.run(Q.parse(args)) end))
end
