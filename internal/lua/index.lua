-- rapyer-go indexes (issue #14), appended to batch.lua in the batch part:
-- it sees batch.lua's locals, and fills the one table IX that batch.lua
-- declares (so that its run can call it; one table keeps the chunk far
-- below Lua's 200 locals). Key layout: package internal/index.
--
-- enc(kind, text) is the one encoding of an indexed value: it orders as
-- the values order and ends where the value ends, so that member
-- enc(value) .. id sorts by value, then id, and a range of values is a
-- range of members (ZRANGEBYLEX). Pure Lua arithmetic: the Lua of
-- miniredis has no struct or bit library.
--   int (canonical base 10, d): >= 0: "\2" .. char(#d) .. d; < 0: "\1" ..
--     char(255 - #digits) .. the digits complemented ('0' <-> '9')
--   float: -inf "\0"; < 0 "\1" .. the 9 bytes of -x's form inverted; 0
--     "\2"; > 0 "\3" .. 2 bytes (e + 1100) .. 7 bytes (m * 2^53), m, e =
--     frexp(x); +inf "\4"; NaN: none (never indexed)
--   bool: "\1" false, "\2" true
--   string, bytes, text: every "\0" as "\0\255", then "\0\1"
--   time: enc(int) of its UTC seconds .. 9 digits of nanoseconds

-- shape: enc begin (package internal/shape compiles this text, from here to
-- the end mark, into the scripts of indexed batches: one encoding; each
-- function IX.x from its line to the next one's, the text before the first
-- in every script; package shape cuts it, SetLua)
IX.MAX = 1024
-- ZERO is the stored text of the zero value of each kind (a text-marshalled
-- type's zero is taken as "")
IX.ZERO = {i = '0', f = '0', s = '', b = 'false', t = '0001-01-01T00:00:00Z'}

function IX.encint(d)
  if not isint(d) then return nil end
  if string.byte(d, 1) == 45 then -- '-'
    local digits = string.sub(d, 2)
    return '\1' .. string.char(255 - #digits) .. (string.gsub(digits, '%d', IX.COMP))
  end
  return '\2' .. string.char(#d) .. d
end
-- COMP complements a digit (encint)
IX.COMP = {['0'] = '9', ['1'] = '8', ['2'] = '7', ['3'] = '6', ['4'] = '5',
  ['5'] = '4', ['6'] = '3', ['7'] = '2', ['8'] = '1', ['9'] = '0'}

function IX.encfloat(s)
  local x = parsefloat(s)
  if x == nil or x ~= x then return nil end
  if x == INF then return '\4' end
  if x == -INF then return '\0' end
  if x == 0 then return '\2' end
  local neg = x < 0
  if neg then x = -x end
  local m, e = math.frexp(x)
  local E, M = e + 1100, m * 9007199254740992 -- m * 2^53, a whole number
  local b = {math.floor(E / 256), E % 256, 0, 0, 0, 0, 0, 0, 0}
  for i = 9, 3, -1 do
    b[i] = M % 256
    M = math.floor(M / 256)
  end
  if neg then
    for i = 1, 9 do b[i] = 255 - b[i] end
    return '\1' .. string.char(unpack(b))
  end
  return '\3' .. string.char(unpack(b))
end

-- escape doubles every NUL of s ("\0" -> "\0\255"): prefix bounds use it
-- without the terminator.
function IX.escape(s)
  if not string.find(s, '\0', 1, true) then return s end
  local parts, i = {}, 1
  while true do
    local j = string.find(s, '\0', i, true)
    if not j then break end
    parts[#parts + 1] = string.sub(s, i, j)
    parts[#parts + 1] = '\255'
    i = j + 1
  end
  parts[#parts + 1] = string.sub(s, i)
  return table.concat(parts)
end

-- enc is the encoding of the stored text v of kind, or nil for a value no
-- index holds (NaN, or text that is not of its kind).
function IX.enc(kind, v)
  if kind == 's' then return IX.escape(v) .. '\0\1' end
  if kind == 'i' then return IX.encint(v) end
  if kind == 'f' then return IX.encfloat(v) end
  if kind == 'b' then
    if v == 'true' then return '\2' elseif v == 'false' then return '\1' end
    return nil
  end
  if kind == 't' then
    local secs, ns = parsetime(v)
    if secs == nil then return nil end
    return IX.encint(string.format('%.0f', secs)) .. string.format('%09d', ns)
  end
  return nil
end

-- pack and unpack the entries of a model in @back: a flag ('T': it has a
-- deadline in @exp, 'N' not), then per entry <#name>:<name><#enc>:<enc>.
function IX.pack(flag, list)
  local out = {flag}
  for _, e in ipairs(list) do
    out[#out + 1] = IX.pk(e[1], e[2])
  end
  return table.concat(out)
end

-- pk is what IX.pack makes of one entry; of none (e nil), ''. Compiled
-- shapes pack with it, with no tables.
function IX.pk(name, e)
  if not e then return '' end
  return #name .. ':' .. name .. #e .. ':' .. e
end

-- now is the server's clock in ms.
function IX.now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- shape: enc end

-- use reads a use word (internal/index, Field.UseWord): the use, whether
-- the field may be absent (a pointer on its path: a missing field is then
-- absent, and claims nothing of a Unique index; elsewhere it is its zero),
-- and, when the nearest pointer is a *struct on the path, the name of its
-- marker (nil otherwise): while the marker is set, Get reads the struct,
-- and a missing field of it is its zero, present (IX.absent).
function IX.use(w)
  local null = string.sub(w, 2, 2) == '*'
  local mark = null and #w > 2 and string.sub(w, 3) or nil
  return string.sub(w, 1, 1), null, mark
end

-- absent reports whether the field of index f is absent given its stored
-- value v and its marker's m (nil or false for none): a field that may be
-- absent (f.null), not stored, and not under a *struct whose marker is
-- set. Such a field claims nothing of a Unique index (IX.claim).
function IX.absent(f, v, m)
  return f.null and not v and not (f.mark and m)
end

-- marked reports whether the marker of the index f is set in the model at
-- root after the batch (nil when f has no marker).
function IX.marked(root, f)
  if not f.mark then return nil end
  local t = fields[root]
  local m = t and t[f.mark]
  if m == nil then m = not cleared[root] and sget(root, f.mark) end
  return m
end

-- spec reads the index words of an ix instruction (or of reindex) from
-- a[from]: six per index, name kind use coll zkey aux.
function IX.spec(a, from, key)
  local fs = {}
  for j = from, #a - 5, 6 do
    local use, null, mark = IX.use(a[j + 2])
    fs[#fs + 1] = {name = a[j], kind = a[j + 1], use = use, null = null, mark = mark, coll = a[j + 3], z = key(a[j + 4]), aux = key(a[j + 5])}
  end
  return fs
end

-- unpack reads what IX.pack made; nil for text it did not make (a @back
-- field written by hand): sync then takes the entries as lost.
function IX.unpack(s)
  local flag = string.sub(s, 1, 1)
  if flag ~= 'N' and flag ~= 'T' then return nil end
  local list, i = {}, 2
  while i <= #s do
    local c = string.find(s, ':', i, true)
    local nl = c and string.match(string.sub(s, i, c - 1), '^%d+$') and tonumber(string.sub(s, i, c - 1))
    if not nl then return nil end
    local name = string.sub(s, c + 1, c + nl)
    i = c + nl + 1
    c = string.find(s, ':', i, true)
    local el = c and string.match(string.sub(s, i, c - 1), '^%d+$') and tonumber(string.sub(s, i, c - 1))
    if not el then return nil end
    list[#list + 1] = {name, string.sub(s, c + 1, c + el)}
    i = c + el + 1
  end
  if i ~= #s + 1 then return nil end
  return flag, list
end

-- entries lists what the model at x.root is indexed under now: {name, enc}
-- per entry, {name, enc, true} for the zero an absent field is indexed
-- under; nil for a missing model (no version).
function IX.entries(x)
  local list = {}
  local names, marks = {VERSION}, {}
  for _, f in ipairs(x.f) do
    if f.coll == '' then names[#names + 1] = f.name end
  end
  for _, f in ipairs(x.f) do
    if f.mark then
      names[#names + 1] = f.mark
      marks[f.mark] = #names
    end
  end
  local vals = redis.call('HMGET', x.root, unpack(names))
  if not vals[1] then return nil end
  local j = 1
  for _, f in ipairs(x.f) do
    local vs
    if f.coll == '' then
      j = j + 1
      -- an absent field counts as its zero value, as predicates read it
      -- (is: "an absent field counts as its zero value"): the fields of a
      -- nil *struct, a field added to the type after the model was saved
      -- (a Unique index orders it there too, and it claims nothing: sync)
      vs = {vals[j] or IX.ZERO[f.kind]}
    elseif f.coll == 'set' then
      vs = redis.call('SMEMBERS', f.aux)
    else
      vs = redis.call('LRANGE', f.aux, 0, -1)
    end
    for _, v in ipairs(vs) do
      local e = v and IX.enc(f.kind, v)
      if e then list[#list + 1] = {f.name, e, IX.absent(f, vals[j], f.mark and vals[marks[f.mark]]) or nil} end
    end
  end
  return list
end

-- sync brings the entries of the model x (root, id, ids, back, exp, f) in
-- step with what is stored: its index members, its unique claims, its
-- place in the listing and its deadline. A missing model has none. Every
-- write goes through W. now: the clock in ms (read when nil); old: the
-- model's @back field when the caller read it (false for none). x.full
-- (a rebuild) adds every entry the model gives, also those @back lists:
-- an index dropped (Model.DropIndex deletes its keys, not what @back
-- lists) and declared again lacks them.
function IX.sync(x, now, old)
  local id = x.id
  local base = string.sub(x.ids, 1, -6) -- without ':@ids'
  if old == nil then old = redis.call('HGET', x.back, id) end
  local list = IX.entries(x)
  local exists = list ~= nil
  list = list or {}
  local flag = 'N'
  local oflag, olist = 'N', {}
  if old then
    oflag, olist = IX.unpack(old)
    -- not a @back of ours: its entries are lost (see before), the
    -- deadline perhaps
    if not oflag then oflag, olist, x.full = 'T', {}, true end
  end
  local uses = {}
  for _, f in ipairs(x.f) do uses[f.name] = f end
  local have, want = {}, {}
  for _, e in ipairs(olist) do have[e[1] .. '\0' .. e[2]] = true end
  for _, e in ipairs(list) do want[e[1] .. '\0' .. e[2]] = true end
  for _, e in ipairs(olist) do
    if not want[e[1] .. '\0' .. e[2]] then
      W('ZREM', base .. ':@i:' .. e[1], e[2] .. id)
      local f = uses[e[1]]
      if f and f.use == 'u' and redis.call('HGET', f.aux, e[2]) == id then W('HDEL', f.aux, e[2]) end
    end
  end
  for _, e in ipairs(list) do
    local f = uses[e[1]]
    if x.full or not have[e[1] .. '\0' .. e[2]] then W('ZADD', f.z, 0, e[2] .. id) end
    if f.use == 'u' then IX.claim(f, e, id) end
  end
  if not exists then
    if old then
      W('HDEL', x.back, id)
      W('ZREM', x.ids, id)
      if oflag == 'T' then W('ZREM', x.exp, id) end
    end
    return
  end
  -- PTTL is -1 without a TTL; 0 is a TTL under a millisecond: the model
  -- expires next, and its deadline must be here for the purge to find it
  local ms = redis.call('PTTL', x.root)
  if ms >= 0 then
    flag = 'T'
    W('ZADD', x.exp, (now or IX.now()) + ms, id)
  elseif oflag == 'T' then
    W('ZREM', x.exp, id)
  end
  local packed = IX.pack(flag, list)
  if packed ~= old or x.lost then W('HSET', x.back, id, packed) end
  if not old then
    -- the group's first model: the indexes the write keeps are complete
    -- in it (ready); an index declared later finds models in @ids, and
    -- queries wait for Model.Reindex to build it (query.lua)
    if redis.call('ZCARD', x.ids) == 0 then
      local meta = string.sub(x.ids, 1, -6) .. ':@meta'
      for _, f in ipairs(x.f) do W('HSETNX', meta, f.name, 'ready') end
    end
    W('ZADD', x.ids, 0, id)
  elseif x.lost then
    W('ZADD', x.ids, 0, id)
  end
end

-- claim keeps the claim of model id on the entry e of the Unique index f
-- (IX.entries): a value the model holds is claimed by it (over a stale
-- claim of another model: IX.value or IX.kept let it pass); an absent one (e[3]: a
-- nil pointer, a field under a nil *struct) claims nothing, as SQL's NULL
-- (TestAnAbsentValueClaimsNothingOfAUniqueIndex), and lets go the claim
-- of a zero it set before. @back does not tell absent from zero, so the
-- claim is read.
function IX.claim(f, e, id)
  local owner = redis.call('HGET', f.aux, e[2])
  if e[3] then
    if owner == id then W('HDEL', f.aux, e[2]) end
  elseif owner ~= id then
    W('HSET', f.aux, e[2], id)
  end
end

-- purge removes the entries of up to 16 models of the group of x whose
-- deadline in @exp passed and whose root is gone (Redis expired it
-- without running a script); a model still there (its TTL was refreshed
-- or removed by a command that ran no script) gets its deadline again.
function IX.purge(x, now)
  local due = redis.call('ZRANGEBYSCORE', x.exp, '-inf', now, 'LIMIT', 0, 16)
  if #due == 0 then return 0 end
  local base = string.sub(x.ids, 1, -6)
  for _, id in ipairs(due) do
    local root = base .. ':{' .. id .. '}'
    if id ~= x.id then
      IX.sync({root = root, id = id, ids = x.ids, back = x.back, exp = x.exp, f = IX.others(x, root)}, now)
    end
  end
  return #due
end

-- others is the spec of x for the model at root of the same group (its
-- collection keys under root).
function IX.others(x, root)
  local fs = {}
  for _, f in ipairs(x.f) do
    local aux = f.aux
    if f.coll ~= '' then aux = root .. ':' .. f.name end
    fs[#fs + 1] = {name = f.name, kind = f.kind, use = f.use, null = f.null, mark = f.mark, coll = f.coll, z = f.z, aux = aux}
  end
  return fs
end

-- The batch's hooks -----------------------------------------------------------

-- declare notes the ix instruction a (root id ids back exp, then the
-- index words) of model m, instruction n.
function IX.declare(m, a, n)
  m.ix = {root = K(a[1]), id = a[2], ids = K(a[3]), back = K(a[4]), exp = K(a[5]), f = IX.spec(a, 6, K), n = n}
end

-- value checks a value the batch gives index f: not longer than IX.MAX,
-- not NaN, and, for a Unique index, claimed by no other model (nor by
-- another model of the batch: claims).
function IX.value(x, f, v, n, claims)
  if #v > IX.MAX then fail('LIMIT', n, f.name .. ': an indexed value of ' .. #v .. ' bytes; an index takes at most ' .. IX.MAX) end
  local e = IX.enc(f.kind, v)
  if e == nil then
    if f.kind == 'f' then fail('ARG', n, f.name .. ': NaN cannot be indexed') end
    fail('ARG', n, f.name .. ': ' .. v .. ' is no ' .. f.kind .. ' value an index takes')
  end
  if f.use == 'u' then IX.owned(x, f, e, v, n, claims) end
end

-- owned fails the batch with DUPLICATE when the value v (of encoding e)
-- the model x holds after it in the field of the Unique index f is
-- another model's: claimed by it, not stale. claims: the values models
-- of the batch hold after it.
function IX.owned(x, f, e, v, n, claims)
  local ck = f.aux .. '\0' .. e
  local owner = claims[ck]
  if owner == nil then owner = redis.call('HGET', f.aux, e) end
  -- a claim of a model that expired (Redis ran no script) is stale, and
  -- so is one of a model that no longer holds the value (a claim stored
  -- before absent values claimed nothing), or that the batch gives
  -- another value or none (IX.lets)
  local base = string.sub(x.ids, 1, -6)
  if owner and owner ~= x.id and (claims[ck] or (IX.holds(base, owner, f, e) and not IX.lets(base .. ':{' .. owner .. '}', f, e))) then
    fail('DUPLICATE', n, f.name .. ' ' .. v .. ' belongs to ' .. owner)
  end
  claims[ck] = x.id
end

-- lets reports whether the batch leaves the model at root without the
-- value of encoding e in the field of index f: it sets the field to
-- another value, removes it (a nil pointer), or deletes or rewrites the
-- model without it (an absent field claims nothing, IX.claim). A value one
-- model of a batch lets go and another takes is no duplicate after the
-- batch (TestAUniqueValueMovesBetweenModelsInOneBatch).
function IX.lets(root, f, e)
  local t = fields[root]
  local v = t and t[f.name]
  if v == nil then
    if not cleared[root] then return false end
    v = false
  end
  if not v and IX.absent(f, v, IX.marked(root, f)) then return true end
  return IX.enc(f.kind, v or IX.ZERO[f.kind]) ~= e
end

-- check runs after the batch's checks and before its first write: the
-- values the batch gives the indexes (the scalars as the check pass has
-- them, the elements its ops add to indexed collections) pass IX.value;
-- the user may send what sync sends. A model whose indexed values, life
-- and TTL the batch leaves alone is marked untouched: after() skips it.
function IX.check(ops, args, count)
  local colls, claims, any = {}, {}, false
  for root, m in pairs(models) do
    local x = m.ix
    if x then
      any = true
      local fs = fields[root]
      x.touch = cleared[root] or m.ttl ~= 'keep' or not (stored[root] and stored[root][VERSION])
      for _, f in ipairs(x.f) do
        if f.coll ~= '' then
          colls[f.aux] = {x, f}
          x.touch = x.touch or cleared[f.aux]
        end
        local v = fs and fs[f.name]
        if f.coll == '' and v ~= nil then
          x.touch = true
          if v then IX.value(x, f, v, x.n, claims) end
        end
        -- a struct allocated (or let go) changes whether its unstored
        -- field is present (IX.absent): its claim
        local mv = fs and f.mark and fs[f.mark]
        if mv ~= nil and not mv ~= not sget(root, f.mark) then x.touch = true end
      end
    end
  end
  if not any then return end
  local moved = false
  for n = 1, count do
    local op, a = ops[n], args[n]
    if op == 'lmove' then
      local c = colls[K(a[2])] or colls[K(a[4])]
      if c then c[1].touch = true end
      if colls[K(a[4])] and K(a[2]) ~= K(a[4]) then moved = true end
    elseif op ~= 'len' and op ~= 'mget' and op ~= 'pred' and op ~= 'gpred' and op ~= 'ix' and op ~= 'model' then
      local c = a[2] and colls[KS[tonumber(a[2])] or '']
      if c then
        c[1].touch = true
        local from, to
        if op == 'rpush' or op == 'lpush' or op == 'sadd' then from, to = 3, #a
        elseif op == 'lset' or op == 'linsert' then from, to = 4, 4 end
        for j = from or 1, to or 0 do IX.value(c[1], c[2], a[j], n, claims) end
      end
    end
  end
  if moved then IX.moves(ops, args, count, colls, claims) end
  IX.kept(claims)
  IX.asks()
end

-- kept checks the claims sync makes of the values the batch does not
-- give: the value of a Unique index that a model the batch touches
-- (check) and leaves alive keeps, stored before, or the zero of a field
-- of a plain path (no pointer on it) that it lacks (IX.entries: a model
-- the batch creates without the field, a model stored before the field
-- was added to the type). Without this, sync wrote the claim over
-- another model's: two models held the zero. A value that is no longer
-- the model's (IX.lets) and an absent one claim nothing.
function IX.kept(claims)
  for root, m in pairs(models) do
    local x = m.ix
    if x and x.touch and IX.lives(root, m) then
      local fs = fields[root]
      for _, f in ipairs(x.f) do
        local v = fs and fs[f.name]
        if f.use == 'u' and f.coll == '' and not v then
          if v == nil and not cleared[root] then v = sget(root, f.name) end
          if not v and not IX.absent(f, v, IX.marked(root, f)) then v = IX.ZERO[f.kind] end
          local e = v and IX.enc(f.kind, v)
          if e then IX.owned(x, f, e, v, x.n, claims) end
        end
      end
    end
  end
end

-- lives reports whether the model at root exists after the batch: an op
-- writes it after the last op that deletes it (prewrite's marks, m.wn and
-- m.dropn), or it was there and no op deletes it.
function IX.lives(root, m)
  if m.dropn then return m.wn ~= nil and m.wn > m.dropn end
  return m.wn ~= nil or (stored[root] ~= nil and (stored[root][VERSION] or false) ~= false)
end

-- moves checks the element that each Move (lmove) carries from another
-- list into an indexed one, as IX.value checks a pushed one: the element
-- at the source's end when the move runs, after the batch's earlier ops
-- on that list, which a model of each list replays here, before the first
-- write. Pushes and pops at the ends read only the stored elements they
-- reach (LINDEX); any other change of a list reads it whole, once (LRANGE).
-- Only the lists a Move takes from or gives to are modelled: another op of
-- the same name ('clear' of a set or a map) is not a list's.
function IX.moves(ops, args, count, colls, claims)
  local L, moving = {}, {}
  for n = 1, count do
    if ops[n] == 'lmove' then
      moving[K(args[n][2])], moving[K(args[n][4])] = true, true
    end
  end
  local function list(k)
    local l = L[k]
    if not l then
      l = {pre = {}, s = 0, e = redis.call('LLEN', k), post = {}, k = k}
      L[k] = l
    end
    return l
  end
  for n = 1, count do
    local op, a = ops[n], args[n]
    if op == 'lmove' then
      local v = IX.pop(list(K(a[2])), a[5])
      local c = colls[K(a[4])]
      if v and c and K(a[2]) ~= K(a[4]) then IX.value(c[1], c[2], v, n, claims) end
      if v then IX.push(list(K(a[4])), a[6], {v}) end
    elseif op == 'drop' then
      for j = 2, #a, 2 do
        if a[j + 1] == 'list' then L[K(a[j])] = {pre = {}, s = 0, e = 0, post = {}} end
      end
    elseif IX.LISTOPS[op] and moving[K(a[2])] then
      IX.replay(list(K(a[2])), op, a)
    end
  end
end

-- LISTOPS are the ops of a list at a[2] that IX.replay replays.
IX.LISTOPS = {rpush = true, lpush = true, rpop = true, lpop = true, popat = true, lset = true,
  linsert = true, ldelrange = true, ltrim = true, lrem = true, clear = true}

-- replay applies op (its check phase's a) to the model l of a list.
function IX.replay(l, op, a)
  local vs = {}
  for j = 3, #a do vs[#vs + 1] = a[j] end
  if op == 'rpush' then IX.push(l, 'RIGHT', vs)
  elseif op == 'lpush' then IX.push(l, 'LEFT', vs)
  elseif op == 'rpop' then IX.pop(l, 'RIGHT')
  elseif op == 'lpop' then IX.pop(l, 'LEFT')
  elseif op == 'clear' then l.pre, l.s, l.e, l.post = {}, 0, 0, {}
  else
    -- the rest work on the whole list, as the check phase placed them
    local all = IX.whole(l)
    if op == 'popat' then
      if a.idx then table.remove(all, a.idx + 1) end
    elseif op == 'lset' then
      all[a.idx + 1] = a[4]
    elseif op == 'linsert' then
      table.insert(all, a.idx + 1, a[4])
    elseif op == 'ldelrange' or op == 'ltrim' then
      local keep = {}
      for i, v in ipairs(all) do
        local inside = i > a.s and i <= a.e
        if inside == (op == 'ltrim') then keep[#keep + 1] = v end
      end
      l.pre = keep
    elseif op == 'lrem' then
      l.pre = IX.lrem(all, tonumber(a[3]), a[4])
    end
  end
end

-- whole reads the rest of the stored list into l.pre, and returns it.
function IX.whole(l)
  if l.e > l.s then
    for _, v in ipairs(redis.call('LRANGE', l.k, l.s, l.e - 1)) do l.pre[#l.pre + 1] = v end
  end
  for _, v in ipairs(l.post) do l.pre[#l.pre + 1] = v end
  l.s, l.e, l.post = 0, 0, {}
  return l.pre
end

-- lrem is all without count occurrences of v (LREM: from the head when
-- count > 0, from the tail when < 0, every one when 0).
function IX.lrem(all, count, v)
  local out, drop = {}, {}
  local left = count == 0 and #all or math.abs(count)
  local from, to, step = 1, #all, 1
  if count < 0 then from, to, step = #all, 1, -1 end
  for i = from, to, step do
    if left > 0 and all[i] == v then drop[i], left = true, left - 1 end
  end
  for i, x in ipairs(all) do
    if not drop[i] then out[#out + 1] = x end
  end
  return out
end

-- push adds vs, in their order, at the side (LEFT, RIGHT) of the list l.
function IX.push(l, side, vs)
  if side == 'LEFT' then
    for i = #vs, 1, -1 do table.insert(l.pre, 1, vs[i]) end
  else
    for _, v in ipairs(vs) do l.post[#l.post + 1] = v end
  end
end

-- pop takes the element at the side of the list l and returns it (nil
-- for an empty list).
function IX.pop(l, side)
  if side == 'LEFT' then
    if #l.pre > 0 then return table.remove(l.pre, 1) end
    if l.e > l.s then
      l.s = l.s + 1
      return redis.call('LINDEX', l.k, l.s - 1)
    end
    if #l.post > 0 then return table.remove(l.post, 1) end
    return nil
  end
  if #l.post > 0 then return table.remove(l.post) end
  if l.e > l.s then
    l.e = l.e - 1
    return redis.call('LINDEX', l.k, l.e)
  end
  if #l.pre > 0 then return table.remove(l.pre) end
  return nil
end

-- asks asks the ACL for what sync and purge send, before the first write.
function IX.asks()
  for _, m in pairs(models) do
    local x = m.ix
    if x and x.touch then
      -- the keys after() writes are of their types (a key of another
      -- type, planted or corrupt, failed after the first write: partly
      -- applied)
      needtype(x.ids, 'zset', x.n); needtype(x.exp, 'zset', x.n); needtype(x.back, 'hash', x.n)
      needtype(string.sub(x.ids, 1, -6) .. ':@meta', 'hash', x.n)
      for _, f in ipairs(x.f) do
        needtype(f.z, 'zset', x.n)
        if f.use == 'u' then needtype(f.aux, 'hash', x.n) end
      end
      for _, c in ipairs({'ZADD', 'ZREM'}) do
        ask(c, x.ids, x.n); ask(c, x.exp, x.n)
        for _, f in ipairs(x.f) do ask(c, f.z, x.n) end
      end
      ask('HSET', x.back, x.n); ask('HDEL', x.back, x.n)
      -- what after() reads there, after the first write: the clock, the
      -- deadlines it purges, the TTL, the count of @ids, and @meta
      ask('TIME', x.ids, x.n); ask('ZRANGEBYSCORE', x.exp, x.n); ask('PTTL', x.root, x.n)
      ask('ZCARD', x.ids, x.n); ask('HSETNX', string.sub(x.ids, 1, -6) .. ':@meta', x.n)
      -- and sync's reads of the model (IX.entries) and of @back, also
      -- after the first write: a user denied HMGET clearing a model
      -- whose root is gone (Sweep) failed partly applied
      ask('HGET', x.back, x.n); ask('HMGET', x.root, x.n)
      for _, f in ipairs(x.f) do
        if f.use == 'u' then ask('HSET', f.aux, x.n); ask('HDEL', f.aux, x.n); ask('HGET', f.aux, x.n) end
        if f.coll == 'set' then ask('SMEMBERS', f.aux, x.n) elseif f.coll ~= '' then ask('LRANGE', f.aux, x.n) end
      end
    end
  end
end

-- before reads, before the first write, the @back field of every indexed
-- model that after() will sync. Where it is gone while the model is there
-- (evicted by an allkeys-* policy, deleted by hand), the entries the
-- stored values give stand for it, read now: sync then removes those the
-- write leaves behind, as it would have removed what @back listed, so a
-- lost @back never leaves the entries of old values (a query would return
-- a model under a value it no longer has), and adds every entry the
-- model gives after the write (x.full: the lost @back may have taken
-- index members with it, or the model was never indexed). The compiled
-- shapes leave such a model to the interpreter (a @back that is not what
-- the values give).
function IX.before()
  for root, m in pairs(models) do
    local x = m.ix
    if x and x.touch and (m.w or m.drops or m.ttl ~= 'keep') then
      x.old = redis.call('HGET', x.back, x.id)
      -- a model the check phase found missing has nothing to lose
      local gone = stored[root] and stored[root][VERSION] == false
      local list = not x.old and not gone and IX.entries(x)
      if list then
        x.old, x.lost, x.full = IX.pack(redis.call('PTTL', x.root) >= 0 and 'T' or 'N', list), true, true
      end
    end
  end
end

-- after runs after the batch's writes and TTLs: every indexed model the
-- batch wrote, deleted or gave a TTL, and whose indexed values, life or
-- TTL it touched (check), syncs; one that has a TTL or had one (its @back
-- flag) first purges its group. A write of a model without a TTL does not
-- purge: the compiled shapes then read no deadline (internal/shape, ix.go),
-- and writes of models with TTLs and queries purge the group's dead.
function IX.after()
  local now
  for _, m in pairs(models) do
    local x = m.ix
    if x and x.touch and (m.w or m.drops or m.ttl ~= 'keep') then
      now = now or IX.now()
      AT = x.n
      local old = x.old
      if old == nil then old = redis.call('HGET', x.back, x.id) end
      if (old and string.byte(old, 1) == 84) or redis.call('PTTL', x.root) >= 0 then IX.purge(x, now) end
      IX.sync(x, now, old)
    end
  end
end

-- Entry points ----------------------------------------------------------------

-- holds reports whether model id of the group at base exists and holds
-- the value of encoding e in the scalar field of index f: stored, not
-- absent (an absent field claims nothing of a Unique index).
function IX.holds(base, id, f, e)
  local v = redis.call('HMGET', base .. ':{' .. id .. '}', VERSION, f.name, f.mark or VERSION)
  if v[1] == false or IX.absent(f, v[2], v[3]) then return false end
  return IX.enc(f.kind, v[2] or IX.ZERO[f.kind]) == e
end

-- dupes is the message of the first value of a Unique index of fs that two
-- models hold, one of them among ids (models of the group at base), or
-- nil: a rebuild checks it before it syncs (the models were stored before
-- the index, with no check), since a claim it made for one would refuse
-- the other's every write of its own value.
function IX.dupes(base, fs, ids)
  local us = {}
  for _, f in ipairs(fs) do
    if f.use == 'u' then us[#us + 1] = f end
  end
  if #us == 0 then return nil end
  local mine = {}
  for _, id in ipairs(ids) do
    local root = base .. ':{' .. id .. '}'
    for _, e in ipairs(IX.entries({root = root, f = us}) or {}) do
      -- an absent value (e[3]) claims nothing (IX.claim): no duplicate
      local f, k = nil, e[1] .. '\0' .. e[2]
      for _, u in ipairs(us) do if u.name == e[1] then f = u end end
      local owner = not e[3] and (mine[k] or redis.call('HGET', f.aux, e[2]))
      if owner and owner ~= id and (mine[k] or IX.holds(base, owner, f, e[2])) then
        return f.name .. ': models ' .. owner .. ' and ' .. id .. ' hold one value (' ..
          tostring(redis.call('HGET', root, f.name) or '') .. '); give one another value, then run Reindex again'
      end
      if not e[3] then mine[k] = id end
    end
  end
  return nil
end

-- The index administration asks first ----------------------------------------
-- Model.Reindex, Model.DropIndex and Model.Sweep are several calls each;
-- ixask asks the ACL (Redis 7: redis.acl_check_cmd), before the first
-- write of the first of them, for every command, with its key, that any of
-- them may send in a group (asking up front for every command a path may
-- send, as batches and queries do: Q.asks, IX.asks), so that a user denied
-- one fails with NOPERM and nothing written, not after a group marked
-- building, a model synced, or one index key of two deleted. A model's
-- keys are asked with the roots given, or a stand-in root of the group
-- (ACL key patterns match on the prefix). Elsewhere (no acl_check_cmd) the
-- refusal shows as the command's own error, when it comes.

-- sasks asks for what sync and purge send in the group at base, for the
-- models at roots (what IX.asks asks for a batch's models): HSETNX of
-- @meta, ZCARD of @ids, the clock, the entries' writes and the models'
-- reads.
function IX.sasks(base, fs, roots)
  local ids, back, exp = base .. ':@ids', base .. ':@back', base .. ':@exp'
  ask('HSETNX', base .. ':@meta', 0)
  for _, c in ipairs({'ZCARD', 'ZADD', 'ZREM', 'TIME'}) do ask(c, ids, 0) end
  for _, c in ipairs({'ZRANGEBYSCORE', 'ZADD', 'ZREM'}) do ask(c, exp, 0) end
  for _, c in ipairs({'HGET', 'HSET', 'HDEL'}) do ask(c, back, 0) end
  for _, f in ipairs(fs) do
    ask('ZADD', f.z, 0); ask('ZREM', f.z, 0)
    if f.use == 'u' then ask('HGET', f.aux, 0); ask('HSET', f.aux, 0); ask('HDEL', f.aux, 0) end
  end
  for _, root in ipairs(roots) do
    ask('HMGET', root, 0); ask('PTTL', root, 0)
    for _, f in ipairs(fs) do
      if f.coll == 'set' then ask('SMEMBERS', root .. ':' .. f.name, 0)
      elseif f.coll ~= '' then ask('LRANGE', root .. ':' .. f.name, 0) end
    end
  end
end

-- rasks asks for what a rebuild of the group at base sends: Model.Reindex
-- around the chunks (HGET, HMGET, HSET, HDEL of @meta; ZRANGE of @ids),
-- and reindex's sync and purge of the models at roots (sasks).
function IX.rasks(base, fs, roots)
  for _, c in ipairs({'HGET', 'HMGET', 'HSET', 'HDEL'}) do ask(c, base .. ':@meta', 0) end
  ask('ZRANGE', base .. ':@ids', 0)
  IX.sasks(base, fs, roots)
end

-- dasks asks for what a Delete batch of the model at root sends beyond
-- sync's (sasks), compiled or interpreted: GET, SET and DEL of its record
-- (rec, a stand-in record key; '' for none: tx.NoRecord), HGET of the root's version, and TYPE and
-- DEL of the root and of each collection key (colls: name, Redis type).
function IX.dasks(root, rec, colls)
  if rec ~= '' then ask('GET', rec, 0); ask('SET', rec, 0); ask('DEL', rec, 0) end
  ask('HGET', root, 0); ask('TYPE', root, 0); ask('DEL', root, 0)
  for i = 1, #colls, 2 do
    local k = root .. ':' .. colls[i]
    ask('TYPE', k, 0); ask('DEL', k, 0)
  end
end

-- MVREAD and MVWRITE are the commands move.lua's mvread reads, and mvcopy
-- writes, a collection key of each Redis type with.
local MVREAD = {list = 'LRANGE', hash = 'HGETALL', set = 'SMEMBERS'}
local MVWRITE = {list = 'RPUSH', hash = 'HSET', set = 'SADD'}

-- masks asks for what the move of a model stored before the type's first
-- index sends (move.lua), from the old layout's root old to the group at
-- base, for a model with the collections colls (name, Redis type): mvread
-- (the claim's GET and SET, EXISTS, PTTL and HGETALL of the root, TYPE
-- and the read of each collection key), mvcopy (TYPE of the new root and
-- of the group's bookkeeping; EXISTS, HGET, DEL, HSET and PEXPIRE of the
-- root; DEL, the write and PEXPIRE of each collection key; ZADD of @ids;
-- HSETNX of @back; ZADD and ZREM of @exp; the clock), and mvdrop (HGET of
-- the old root, DEL of its keys and the claim). Every command a copy may
-- send is asked, PEXPIRE and ZADD of @exp too, whether or not a model to
-- move has a TTL.
function IX.masks(base, old, colls)
  local new, claim = base .. ':{@}', old .. ':@moving'
  local ids, exp, back = base .. ':@ids', base .. ':@exp', base .. ':@back'
  ask('GET', claim, 0); ask('SET', claim, 0); ask('DEL', claim, 0)
  for _, c in ipairs({'EXISTS', 'PTTL', 'HGETALL', 'HGET', 'DEL'}) do ask(c, old, 0) end
  for _, k in ipairs({new, ids, exp, back}) do ask('TYPE', k, 0) end
  for _, c in ipairs({'EXISTS', 'HGET', 'DEL', 'HSET', 'PEXPIRE'}) do ask(c, new, 0) end
  ask('ZADD', ids, 0); ask('HSETNX', back, 0); ask('ZADD', exp, 0); ask('ZREM', exp, 0); ask('TIME', ids, 0)
  for i = 1, #colls, 2 do
    local t, from, to = colls[i + 1], old .. ':' .. colls[i], new .. ':' .. colls[i]
    ask('TYPE', from, 0); ask('DEL', from, 0)
    if MVREAD[t] then ask(MVREAD[t], from, 0); ask(MVWRITE[t], to, 0) end
    ask('DEL', to, 0); ask('PEXPIRE', to, 0)
  end
end

-- refusal runs the asks of f(...) and returns nil, or the error reply of
-- the first refused (NOPERM) or unknown (ERR) command.
function IX.refusal(f, ...)
  ACL = redis.acl_check_cmd
  if ACL == nil then return nil end
  for _, t in pairs(asked) do wipe(t) end
  WROTE, AT = false, 0
  local ok, res = pcall(f, ...)
  if ok then return nil end
  local r = answer(false, res)
  if r[2] == 'NOPERM' then return redis.error_reply('NOPERM ' .. tostring(r[4])) end
  return redis.error_reply('ERR ' .. tostring(r[2]) .. ': ' .. tostring(r[4]))
end

-- spec reads the indexes of reindex's and ixask's args from a[from]: the
-- number of indexes, then four words each (name kind use coll).
function IX.rspec(base, a, from)
  local fs = {}
  for j = from + 1, from + 4 * tonumber(a[from]), 4 do
    local name = a[j]
    local use, null, mark = IX.use(a[j + 2])
    local aux = base .. ':@i:' .. name
    if use == 'u' then aux = base .. ':@u:' .. name end
    fs[#fs + 1] = {name = name, kind = a[j + 1], use = use, null = null, mark = mark, coll = a[j + 3], z = base .. ':@i:' .. name, aux = aux}
  end
  return fs
end

-- ixask(keys, args): keys = {@ids of the group} (of a stand-in group
-- <prefix>:{@} for a type with Options.HashTag, <prefix>:@ids for a type
-- without indexes); args[1] what is asked, then the indexes as reindex
-- takes them (IX.rspec; 0 for none), then the tail: a stand-in record key
-- (tx{...}), the stand-in root of the layout without indexes ('' but
-- for 'move') and the type's collections (their number,
-- then name and Redis type of each); or, for 'drop', an index name.
-- 'reindex': IX.rasks; 'move', Reindex's move of the models stored
-- before the type's first index: IX.masks, from the root of the old
-- layout; 'drop': DEL of the index's keys, HDEL of @meta;
-- 'delete', DeleteWhere's Delete batches: sync's commands (for a type
-- with indexes) and those of a Delete (IX.dasks); 'sweep', those, HSCAN of
-- @back, EXISTS of a root and DEL of a stale key (SCAN has no key, and is
-- Sweep's first request); 'sweepkeys', 'sweep' without @back's HSCAN (a
-- type without slot groups). Replies OK, or the refusal as an error.
local function ixask(keys, args)
  local base = string.sub(keys[1], 1, -6)
  local root = base .. ':{@}'
  local e = IX.refusal(function()
    if args[1] == 'drop' then
      ask('DEL', base .. ':@i:' .. args[2], 0); ask('DEL', base .. ':@u:' .. args[2], 0)
      ask('HDEL', base .. ':@meta', 0)
      return
    end
    local nf = tonumber(args[2])
    local fs = IX.rspec(base, args, 2)
    local p = 3 + 4 * nf
    local rec, old, colls = args[p], args[p + 1], {}
    for i = p + 3, p + 2 + 2 * tonumber(args[p + 2] or '0') do colls[#colls + 1] = args[i] end
    if args[1] == 'reindex' then return IX.rasks(base, fs, {root}) end
    if args[1] == 'move' then
      -- and the sync of the moved model's entries (an on-demand move)
      IX.masks(base, old, colls)
      if nf > 0 then IX.sasks(base, fs, {root}) end
      return
    end
    if nf > 0 then IX.sasks(base, fs, {root}) end
    IX.dasks(root, rec, colls)
    if args[1] == 'sweep' or args[1] == 'sweepkeys' then
      ask('EXISTS', root, 0); ask('DEL', root .. ':@', 0)
      if args[1] == 'sweep' then ask('HSCAN', base .. ':@back', 0) end
    end
  end)
  return e or 'OK'
end

-- reindex(keys, args): keys = {ids, back, exp}, args = the number of
-- indexes, four words each (name kind use coll), then ids of the group:
-- syncs each model, and replies with how many it synced. Two models that
-- hold one value of a Unique index (IX.dupes) fail it before it writes:
-- {'ERR', 'DUPLICATE', '0', message}. Rebuilds and tests call it.
local function reindex(keys, args)
  KS, AV = keys, args
  WROTE, AT = false, 0
  local nf = tonumber(args[1])
  local base = string.sub(keys[1], 1, -6)
  local fs = IX.rspec(base, args, 1)
  local ids, roots = {}, {}
  for i = 2 + 4 * nf, #args do
    ids[#ids + 1] = args[i]
    roots[#roots + 1] = base .. ':{' .. args[i] .. '}'
  end
  -- every command of the chunk asked before its first write (ixask)
  local e = IX.refusal(IX.sasks, base, fs, roots)
  if e then return e end
  local dup = IX.dupes(base, fs, ids)
  if dup then return {'ERR', 'DUPLICATE', '0', dup} end
  local now = IX.now()
  local n = 0
  for i = 2 + 4 * nf, #args do
    local id = args[i]
    local x = {root = base .. ':{' .. id .. '}', id = id, ids = keys[1], back = keys[2], exp = keys[3]}
    x.f, x.full = IX.others({f = fs}, x.root), true
    IX.purge(x, now)
    IX.sync(x, now)
    n = n + 1
  end
  return n
end

-- ixenc(keys, args): args = kind, then texts: replies with the encoding of
-- each (false for none). Tests and the query planner's bounds use it.
local function ixenc(keys, args)
  local out = {}
  for i = 2, #args do out[i - 1] = IX.enc(args[1], args[i]) or false end
  return out
end
