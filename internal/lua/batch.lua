-- rapyer-go batch interpreter.
--
-- One script runs every atomic batch: it reads a program of instructions from
-- its arguments, checks everything that could make a write fail (missing
-- models, key types, guards, numbers that do not parse or would overflow,
-- list indexes), and only then writes. A batch that fails changes nothing.
--
-- The text is a library (package internal/script): it defines the entry
-- point batch(keys, args) and runs nothing itself. Loaded as a Redis
-- Function, its top level (the helpers below) runs once per load; as a
-- script (servers without functions), once per call.
--
-- args[1] batch id ('' for none), args[2] index in keys of the batch record
-- key ('0' for none), args[3] record lifetime in ms, args[4] the batch's
-- budget of bytes of text its ops may make ('0' for none), args[5] its
-- budget of list elements its ops may move ('0' for none), then
-- instructions: opcode, argument count, arguments. Key arguments are indexes
-- into keys.
--
-- Reply: {'OK', r1, r2, ...} with one result per instruction (false for none),
-- {'DUP', ...} when the batch id was already applied (the stored results; none
-- when nothing yielded), {'DUPX'} when it was applied and its results were too
-- large to keep, or {'ERR', code, instruction number, message}.

local VERSION = '__v'
-- The call's keys and arguments, its budgets, and the state of one call
-- below: set by batch() at the start of every call.
local KS, AV, BYTES, MOVES

local function fail(code, n, msg)
  error({code = code, n = n, msg = msg})
end

-- exact signed 64-bit integers as two limbs (hi, lo) of base 1e9 ----------
local B = 1000000000
local function limbs(s)
  local neg = string.sub(s, 1, 1) == '-'
  local d = neg and string.sub(s, 2) or s
  local lo = tonumber(string.sub(d, -9)) or 0
  local hi = #d > 9 and tonumber(string.sub(d, 1, #d - 9)) or 0
  if neg then return -hi, -lo end
  return hi, lo
end
local function norm(h, l)
  if l >= B or l <= -B then
    local c = (l >= 0) and math.floor(l / B) or -math.floor(-l / B)
    h = h + c; l = l - c * B
  end
  if h > 0 and l < 0 then h = h - 1; l = l + B
  elseif h < 0 and l > 0 then h = h + 1; l = l - B end
  return h, l
end
local function cmpl(h1, l1, h2, l2)
  if h1 ~= h2 then return h1 < h2 and -1 or 1 end
  if l1 ~= l2 then return l1 < l2 and -1 or 1 end
  return 0
end
local function fmtl(h, l)
  if h == 0 then return string.format('%.0f', l) end
  return string.format('%.0f', h) .. string.format('%09.0f', math.abs(l))
end
local function isint(s)
  return type(s) == 'string' and #s <= 20 and (s == '0' or string.match(s, '^%-?[1-9]%d*$') ~= nil)
end
-- Integer texts are canonical (isint, or written by Go or by fmtl), so signs
-- and lengths order most pairs without arithmetic; texts of at most 15
-- characters are below 2^53 in magnitude, where Lua numbers are exact. Only
-- longer ones need limbs.
local function cmpint(a, b)
  local na, nb = string.byte(a, 1) == 45, string.byte(b, 1) == 45 -- '-'
  if na ~= nb then return na and -1 or 1 end
  if #a ~= #b then
    if (#a > #b) ~= na then return 1 end
    return -1
  end
  if #a <= 15 then
    local x, y = tonumber(a), tonumber(b)
    if x < y then return -1 elseif x > y then return 1 end
    return 0
  end
  local h1, l1 = limbs(a)
  local h2, l2 = limbs(b)
  return cmpl(h1, l1, h2, l2)
end
local function addint(a, b)
  if #a <= 15 and #b <= 15 then return string.format('%.0f', tonumber(a) + tonumber(b)) end
  local h1, l1 = limbs(a)
  local h2, l2 = limbs(b)
  local h, l = norm(h1 + h2, l1 + l2)
  return fmtl(h, l)
end
-- within reports whether v, an integer text this code made (canonical),
-- lies in [lo, hi].
local function within(v, lo, hi)
  return cmpint(v, lo) >= 0 and cmpint(v, hi) <= 0
end

-- floats ------------------------------------------------------------------
-- INF, not math.huge: the Lua of the embedded miniredis makes math.huge the
-- largest finite float.
local INF = 1 / 0
local function parsefloat(s)
  if type(s) ~= 'string' then return nil end
  if s == 'inf' or s == '+inf' then return INF end
  if s == '-inf' then return -INF end
  if not string.match(s, '^[-+]?%d*%.?%d*[eE]?[-+]?%d*$') or not string.match(s, '%d') then return nil end
  -- Go writes 1e21 as "1e+21", whose exponent the miniredis Lua reads only
  -- after a dot: "1.e+21".
  return tonumber(s) or tonumber((string.gsub(s, '[eE]', '.e', 1)))
end
local function fmtfloat(x)
  if x ~= x then return 'nan' end
  if x == INF then return 'inf' end
  if x == -INF then return '-inf' end
  if x == math.floor(x) and math.abs(x) < 1e15 then return string.format('%.0f', x) end
  local s = string.format('%.17g', x)
  for p = 15, 16 do
    local t = string.format('%.' .. p .. 'g', x)
    if parsefloat(t) == x then return t end
  end
  return s
end
local MAXEXACT = 9007199254740992

-- time: RFC 3339 with nanoseconds ----------------------------------------
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m > 2) and (m - 3) or (m + 9)
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = (mp < 10) and (mp + 3) or (mp - 9)
  if m <= 2 then y = y + 1 end
  return y, m, d
end
-- parsetime returns UTC seconds, nanoseconds and the zone offset in seconds.
local function parsetime(s)
  if type(s) ~= 'string' then return nil end
  local y, mo, d, h, mi, se, rest = string.match(s, '^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$')
  if not y then return nil end
  local ns = 0
  local frac, zone = string.match(rest, '^%.(%d+)(.*)$')
  if frac then
    if #frac > 9 then return nil end
    ns = tonumber(frac .. string.rep('0', 9 - #frac))
    rest = zone
  end
  local off
  if rest == 'Z' then off = 0 else
    local sg, oh, om = string.match(rest, '^([-+])(%d%d):(%d%d)$')
    if not sg then return nil end
    off = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sg == '-' and -1 or 1)
  end
  local secs = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) - off
  return secs, ns, off
end
local function fmttime(secs, ns, off)
  local t = secs + off
  local days = math.floor(t / 86400)
  local rem = t - days * 86400
  local y, m, d = civil_from_days(days)
  if y < 0 or y > 9999 then return nil end
  local s = string.format('%04d-%02d-%02dT%02d:%02d:%02d', y, m, d, math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60)
  if ns > 0 then
    s = s .. '.' .. string.gsub(string.format('%09d', ns), '0+$', '')
  end
  if off == 0 then return s .. 'Z' end
  local a = math.abs(off)
  return s .. string.format('%s%02d:%02d', off < 0 and '-' or '+', math.floor(a / 3600), math.floor(a % 3600 / 60))
end

-- program --------------------------------------------------------------------
-- parse splits the instructions into their opcodes and argument tables.
-- Tables are the dearest thing a call makes in the server's Lua (each one
-- an allocation, its growth more), so an instruction gets one table, made
-- at its final size.
local function parse()
  local ops, args, count = {}, {}, 0
  local i, last = 6, #AV
  while i <= last do
    local n = tonumber(AV[i + 1])
    local a
    if n <= 1000 then
      a = {unpack(AV, i + 2, i + 1 + n)}
    else
      a = {}
      for j = 1, n do a[j] = AV[i + 1 + j] end
    end
    count = count + 1
    ops[count], args[count] = AV[i], a
    i = i + 2 + n
  end
  return ops, args, count
end
-- K resolves a key argument (an index into keys, as text) to the key, once
-- per index and call: tonumber is one of the dearer calls here.
local KI = {}
local function K(x)
  local k = KI[x]
  if k == nil then
    k = KS[tonumber(x)]
    KI[x] = k
  end
  return k
end
local function wipe(t)
  for k in pairs(t) do t[k] = nil end
end

-- check-phase shadow of the data the batch touches -------------------------
-- These tables live as long as the library and are emptied at the start of
-- every call (wipe): cheaper than making them anew.
local types = {}    -- key -> type seen at the start
local cleared = {}  -- key -> true once the batch deleted it
local fields = {}   -- key -> {field -> value or false}
local stored = {}   -- key -> {field -> value as found (HGET), or false}
local lens = {}     -- list key -> length, or -1 when unknown
local existed = {}  -- key -> true when it existed at the start and no op of
                 -- the batch may have emptied (so deleted) it

local function needtype(k, want, n)
  local t = types[k]
  if t == nil then
    t = redis.call('TYPE', k)
    if type(t) == 'table' then t = t.ok end
    types[k] = t
    if t ~= 'none' then existed[k] = true end
  end
  if t ~= 'none' and t ~= want and not cleared[k] then
    fail('WRONGTYPE', n, k .. ' holds a ' .. t .. ', not a ' .. want)
  end
end
-- sget reads a field of a hash as the batch found it, once per batch:
-- guards and the arithmetic of the check pass share the read.
local function sget(k, f)
  local t = stored[k]
  if t == nil then t = {}; stored[k] = t end
  local v = t[f]
  if v == nil then
    v = redis.call('HGET', k, f)
    t[f] = v
  end
  return v
end
-- fget reads a field as the check pass has it so far.
local function fget(k, f)
  local t = fields[k]
  if t == nil then t = {}; fields[k] = t end
  local v = t[f]
  if v == nil then
    if cleared[k] then v = false else v = sget(k, f) end
    t[f] = v
  end
  return v
end
local function fset(k, f, v)
  local t = fields[k]
  if t == nil then t = {}; fields[k] = t end
  t[f] = v
end
local function clearkey(k)
  cleared[k] = true
  fields[k] = {}
  lens[k] = 0
end
local function llen(k)
  local l = lens[k]
  if l == nil then
    l = cleared[k] and 0 or redis.call('LLEN', k)
    lens[k] = l
  end
  return l
end
local function setlen(k, l) lens[k] = l end
-- failed reports whether a reply of redis.pcall is an error.
local function failed(r) return type(r) == 'table' and r.err ~= nil end
-- hasversion reports whether the model at root exists, with one HEXISTS
-- that also checks root's type (it fails on a key that is not a hash).
local function hasversion(root, n)
  local r = redis.pcall('HEXISTS', root, VERSION)
  if failed(r) then
    needtype(root, 'hash', n)
    error(r.err)
  end
  if types[root] == nil then types[root] = 'hash' end
  return r == 1
end
-- listlen is needtype(k, 'list') then llen(k), in one LLEN when neither is
-- known yet (LLEN fails on a key that is not a list).
local function listlen(k, n)
  if types[k] == nil and lens[k] == nil and not cleared[k] then
    local r = redis.pcall('LLEN', k)
    if failed(r) then
      needtype(k, 'list', n)
      error(r.err)
    end
    types[k] = 'list'
    lens[k] = r
    if r > 0 then existed[k] = true end
    return r
  end
  needtype(k, 'list', n)
  return llen(k)
end
-- pyindex turns a Python-style index into a 0-based one within [0, len).
local function pyindex(i, len)
  if i < 0 then i = i + len end
  if i < 0 or i >= len then return nil end
  return i
end
local function pyclamp(i, len)
  if i < 0 then i = i + len end
  if i < 0 then return 0 end
  if i > len then return len end
  return i
end

-- scalar arithmetic shared by check and apply -------------------------------
-- a: root, field, kind ('int'|'float'), lo, hi, operand ... ; returns new text
local function arith(name, cur, kind, x, lo, hi, n)
  if kind == 'int' then
    if cur == false then cur = '0' end
    if not isint(cur) then fail('CORRUPT', n, 'the field holds ' .. cur .. ', not an integer') end
    if name == 'max' or name == 'min' then
      local c = cmpint(cur, x)
      if (name == 'max' and c >= 0) or (name == 'min' and c <= 0) then return cur end
      return x
    end
    local a, b = tonumber(cur), tonumber(x)
    if math.abs(a) > MAXEXACT or math.abs(b) > MAXEXACT then
      fail('OVERFLOW', n, name .. ' is exact only within +-2^53 on the server')
    end
    local r
    if name == 'mul' then r = a * b
    elseif name == 'floordiv' then
      if b == 0 then fail('ARG', n, 'division by zero') end
      r = math.floor(a / b)
    elseif name == 'mod' then
      if b == 0 then fail('ARG', n, 'modulo by zero') end
      r = a - b * math.floor(a / b)
    elseif name == 'pow' then
      if b < 0 then fail('ARG', n, 'negative exponent on an integer') end
      if a == 0 or a == 1 then r = (b == 0) and 1 or a
      elseif a == -1 then r = (b % 2 == 0) and 1 or -1
      else
        -- |a| >= 2 leaves the exact range within 54 rounds, whatever b is
        r = 1
        for _ = 1, b do
          r = r * a
          if math.abs(r) > MAXEXACT then break end
        end
      end
    end
    if math.abs(r) > MAXEXACT then fail('OVERFLOW', n, name .. ' leaves the exact range +-2^53') end
    local s = string.format('%.0f', r)
    if not within(s, lo, hi) then fail('OVERFLOW', n, s .. ' is out of range') end
    return s
  end
  -- float
  if cur == false then cur = '0' end
  local a = parsefloat(cur)
  if a == nil then fail('CORRUPT', n, 'the field holds ' .. cur .. ', not a number') end
  local b = parsefloat(x)
  local r
  if name == 'mul' then r = a * b
  elseif name == 'floordiv' then
    if b == 0 then fail('ARG', n, 'division by zero') end
    r = math.floor(a / b)
  elseif name == 'mod' then
    if b == 0 then fail('ARG', n, 'modulo by zero') end
    r = a - b * math.floor(a / b)
  elseif name == 'pow' then r = a ^ b
  elseif name == 'max' then r = (a >= b) and a or b
  elseif name == 'min' then r = (a <= b) and a or b
  end
  if r ~= r or r == INF or r == -INF or math.abs(r) > tonumber(hi) then
    fail('OVERFLOW', n, name .. ' gives a value out of range')
  end
  return fmtfloat(r)
end

local function compare(kind, cur, want)
  if kind == 'int' then return cmpint(cur, want) end
  if kind == 'float' then
    local a, b = parsefloat(cur), parsefloat(want)
    if a < b then return -1 elseif a > b then return 1 end
    return 0
  end
  if kind == 'time' then
    local s1, n1 = parsetime(cur)
    local s2, n2 = parsetime(want)
    if s1 ~= s2 then return s1 < s2 and -1 or 1 end
    if n1 ~= n2 then return n1 < n2 and -1 or 1 end
    return 0
  end
  -- byte by byte, as Go compares strings: Lua's < follows the server's
  -- locale (strcoll), which need not be bytewise.
  if cur == want then return 0 end
  local n = math.min(#cur, #want)
  for i = 1, n do
    local x, y = string.byte(cur, i), string.byte(want, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return #cur < #want and -1 or 1
end
local function holds(c, rel)
  if rel == 'eq' then return c == 0 elseif rel == 'ne' then return c ~= 0
  elseif rel == 'lt' then return c < 0 elseif rel == 'le' then return c <= 0
  elseif rel == 'gt' then return c > 0 elseif rel == 'ge' then return c >= 0 end
  return false
end
local function valid(kind, v)
  if kind == 'int' then return isint(v) end
  if kind == 'float' then return parsefloat(v) ~= nil end
  if kind == 'time' then return parsetime(v) ~= nil end
  return true
end

-- instructions -----------------------------------------------------------
-- check(op, a, n) runs in the first pass, with no writes; apply(op, a) runs
-- in the second and returns the instruction's result. They dispatch on the
-- opcode with one if-chain each, most frequent first, rather than through a
-- table of closures: the script's chunk runs again on every call, and making
-- two closures and a table per instruction kind (about a hundred objects)
-- cost more server time than a small batch itself.
local models = {}   -- root -> {mode, ttl, ttlms, keys = {...}, written, deleted}
local written = {}  -- collection key -> root, for keys the batch wrote

local function touch(root, k)
  local m = models[root]
  m.written = true
  m.deleted = nil
  if k then written[k] = root end
end
-- shrink notes that the op may have emptied the key k, which Redis then
-- deletes, and a later op of the batch may create again, without a TTL.
local function shrink(root, k)
  existed[k] = nil
  touch(root, k)
end

-- lists
-- chunked sends cmd k with vals[from..] as arguments, 1000 at a time (the
-- Lua stack of the server is limited), and returns the sum of the replies.
local function chunked(cmd, k, vals, from)
  local n = #vals
  if n < from then return 0 end
  if n - from < 1000 then return redis.call(cmd, k, unpack(vals, from)) end
  local r = 0
  for s = from, n, 1000 do
    r = r + redis.call(cmd, k, unpack(vals, s, math.min(s + 999, n)))
  end
  return r
end
local function pushall(k, cmd, vals, from) chunked(cmd, k, vals, from) end
local function listcheck(a, n, delta)
  local k = K(a[2])
  local l = listlen(k, n)
  if l >= 0 and delta then setlen(k, l + delta) end
  return k, l
end
local function needlen(k, l, n)
  if l < 0 then fail('ARG', n, 'a list index cannot be checked after removing by value in the same batch') end
end
-- rebuild keeps [0, from) and [to, len) and puts vals between them
local function splice(k, from, to, vals)
  local tail = redis.call('LRANGE', k, to, -1)
  if from == 0 then redis.call('DEL', k) else redis.call('LTRIM', k, 0, from - 1) end
  local all = {}
  for _, v in ipairs(vals) do all[#all + 1] = v end
  for _, v in ipairs(tail) do all[#all + 1] = v end
  pushall(k, 'RPUSH', all, 1)
end
-- slice bounds of ldelrange and ltrim: a Python slice [start:stop], stop ''
-- for the end
local function slice(a, l)
  local s = pyclamp(tonumber(a[3]), l)
  local e = a[4] == '' and l or pyclamp(tonumber(a[4]), l)
  if e < s then e = s end
  return s, e
end

local function check(op, a, n)
  if op == 'model' then -- root mode ttlmode ttlms colkey...
    local root = K(a[1])
    local m = {mode = a[2], ttl = a[3], ttlms = a[4], keys = {}}
    for j = 5, #a do m.keys[#m.keys + 1] = K(a[j]) end
    models[root] = m
    local has = hasversion(root, n)
    if m.mode == 'fresh' then
      if has then fail('EXISTS', n, root .. ' exists already') end
    elseif m.mode ~= 'create' then
      if not has then
        if m.mode == 'skip' then error({code = 'SKIP'}) end
        fail('NOTFOUND', n, root .. ' does not exist')
      end
    end

  -- scalars of the root hash
  elseif op == 'hset' then -- root field value [field value ...]
    local k = K(a[1])
    for j = 2, #a, 2 do fset(k, a[j], a[j + 1]) end
  elseif op == 'incr' then -- root field by lo hi (integers: HINCRBY)
    local k = K(a[1])
    local cur = fget(k, a[2])
    if cur == false then cur = '0' end
    if not isint(cur) then fail('CORRUPT', n, a[2] .. ' holds ' .. cur .. ', not an integer') end
    local r = addint(cur, a[3])
    if not within(r, a[4], a[5]) then fail('OVERFLOW', n, a[2] .. ' would become ' .. r) end
    fset(k, a[2], r)
    a.result = r
  elseif op == 'rpush' or op == 'lpush' then -- root key v... (lpush: given in final order)
    listcheck(a, n, #a - 2)
  elseif op == 'mset' or op == 'mdel' or op == 'mpop' or op == 'mpopany' or op == 'mget' or op == 'mhas' then
    needtype(K(a[2]), 'hash', n)

  -- guards: checked in the first pass, against the data as the batch found it
  elseif op == 'gcmp' then -- root field kind rel operand zero
    local cur = sget(K(a[1]), a[2])
    if cur == false then cur = a[6] end
    if not valid(a[3], cur) then fail('CORRUPT', n, a[2] .. ' holds ' .. tostring(cur)) end
    if not holds(compare(a[3], cur, a[5]), a[4]) then
      fail('PRECOND', n, a[2] .. ' is ' .. cur)
    end
  elseif op == 'gver' then -- root version
    local v = sget(K(a[1]), VERSION)
    if v ~= a[2] then fail('PRECOND', n, 'version is ' .. tostring(v) .. ', not ' .. a[2]) end
  elseif op == 'glen' then -- key type rel n
    local k = K(a[1])
    needtype(k, a[2], n)
    local l
    if a[2] == 'list' then l = redis.call('LLEN', k)
    elseif a[2] == 'hash' then l = redis.call('HLEN', k)
    else l = redis.call('SCARD', k) end
    if not holds((l < tonumber(a[4])) and -1 or ((l > tonumber(a[4])) and 1 or 0), a[3]) then
      fail('PRECOND', n, 'length is ' .. l)
    end
  elseif op == 'ghas' then -- key field want(1|0)
    local k = K(a[1])
    needtype(k, 'hash', n)
    if tostring(redis.call('HEXISTS', k, a[2])) ~= a[3] then
      fail('PRECOND', n, a[3] == '1' and 'key is missing' or 'key is present')
    end
  elseif op == 'gmember' then -- key type value want(1|0)
    local k = K(a[1])
    needtype(k, a[2], n)
    local found
    if a[2] == 'set' then found = redis.call('SISMEMBER', k, a[3]) == 1
    else found = redis.call('LPOS', k, a[3]) ~= false end
    if found ~= (a[4] == '1') then
      fail('PRECOND', n, found and 'element is present' or 'element is missing')
    end
  elseif op == 'glock' then -- lockkey token
    if redis.call('GET', K(a[1])) ~= a[2] then fail('LOCKLOST', n, 'the lock ' .. K(a[1]) .. ' is no longer held') end

  -- more scalars
  elseif op == 'hdel' then -- root field...
    local k = K(a[1])
    for j = 2, #a do fset(k, a[j], false) end
  elseif op == 'incrf' then -- root field by max (floats: HINCRBYFLOAT)
    local k = K(a[1])
    local cur = fget(k, a[2])
    if cur == false then cur = '0' end
    local x = parsefloat(cur)
    if x == nil or x ~= x or x == INF or x == -INF then fail('CORRUPT', n, a[2] .. ' holds ' .. cur .. ', not a finite number') end
    local r = x + parsefloat(a[3])
    if r ~= r or math.abs(r) > tonumber(a[4]) then fail('OVERFLOW', n, a[2] .. ' would leave the float range') end
    fset(k, a[2], fmtfloat(r))
  elseif op == 'arith' then -- root field name kind lo hi operand
    local k = K(a[1])
    local r = arith(a[3], fget(k, a[2]), a[4], a[7], a[5], a[6], n)
    fset(k, a[2], r)
    a.result = r
  elseif op == 'sappend' then -- root field text
    local k = K(a[1])
    local cur = fget(k, a[2]) or ''
    a.result = cur .. a[3]
    fset(k, a[2], a.result)
  elseif op == 'srepeat' then -- root field times
    local k = K(a[1])
    local cur = fget(k, a[2]) or ''
    local t = tonumber(a[3])
    if #cur * t > 512 * 1024 * 1024 then fail('ARG', n, 'the repeated text would exceed 512 MB') end
    a.result = string.rep(cur, t)
    fset(k, a[2], a.result)
  elseif op == 'tadd' then -- root field seconds nanos
    local k = K(a[1])
    local cur = fget(k, a[2])
    if cur == false then cur = '0001-01-01T00:00:00Z' end
    local s, ns, off = parsetime(cur)
    if s == nil then fail('CORRUPT', n, a[2] .. ' holds ' .. cur .. ', not an RFC 3339 time') end
    s = s + tonumber(a[3]); ns = ns + tonumber(a[4])
    if ns >= 1000000000 then s = s + 1; ns = ns - 1000000000
    elseif ns < 0 then s = s - 1; ns = ns + 1000000000 end
    local r = fmttime(s, ns, off)
    if r == nil then fail('OVERFLOW', n, 'the time would leave years 0000 to 9999') end
    a.result = r
    fset(k, a[2], r)

  -- more lists
  elseif op == 'rpop' or op == 'lpop' then
    local k, l = listcheck(a, n)
    if l > 0 then setlen(k, l - 1) end
  elseif op == 'popat' then -- root key index
    local k, l = listcheck(a, n)
    needlen(k, l, n)
    local i = pyindex(tonumber(a[3]), l)
    a.idx = i
    if i ~= nil then setlen(k, l - 1) end
  elseif op == 'lset' then -- root key index value
    local k, l = listcheck(a, n)
    needlen(k, l, n)
    local i = pyindex(tonumber(a[3]), l)
    if i == nil then fail('RANGE', n, 'index ' .. a[3] .. ' is outside a list of ' .. l) end
    a.idx = i
  elseif op == 'linsert' then -- root key index value
    local k, l = listcheck(a, n)
    needlen(k, l, n)
    a.idx = pyclamp(tonumber(a[3]), l)
    setlen(k, l + 1)
  elseif op == 'ldelrange' then -- root key start stop
    local k, l = listcheck(a, n)
    needlen(k, l, n)
    local s, e = slice(a, l)
    a.s, a.e = s, e
    setlen(k, l - (e - s))
  elseif op == 'ltrim' then -- root key start stop: keep the slice [start:stop]
    local k, l = listcheck(a, n)
    needlen(k, l, n)
    local s, e = slice(a, l)
    a.s, a.e = s, e
    setlen(k, e - s)
  elseif op == 'lrem' then -- root key count value
    local k = listcheck(a, n)
    setlen(k, -1)
  elseif op == 'lmove' then -- root src root2 dst from to
    local src, dst = K(a[2]), K(a[4])
    needtype(src, 'list', n); needtype(dst, 'list', n)
    local l = llen(src)
    if l > 0 then setlen(src, l - 1); local d = llen(dst); if d >= 0 then setlen(dst, d + 1) end
    elseif l < 0 then setlen(dst, -1) end
  elseif op == 'len' then -- root key type
    needtype(K(a[2]), a[3], n)
  elseif op == 'clear' then -- root key type
    local k = K(a[2])
    needtype(k, a[3], n)
    clearkey(k)

  -- sets
  elseif op == 'sadd' or op == 'srem' or op == 'shas' then
    needtype(K(a[2]), 'set', n)

  -- the model as a whole
  elseif op == 'reset' then -- root: drop every field but the version (replace)
    local k = K(a[1])
    needtype(k, 'hash', n)
    clearkey(k)
  elseif op == 'drop' then -- root colkey...: delete the model
    clearkey(K(a[1]))
    for j = 2, #a do clearkey(K(a[j])) end
  elseif op == 'unlock' then -- lockkey token channel
    -- nothing to check: it releases only if the lock is still held
  else
    fail('ARG', n, 'unknown instruction ' .. op)
  end
end

local function apply(op, a)
  if op == 'hset' then
    local k = K(a[1])
    chunked('HSET', k, a, 2)
    touch(k)
    return false
  elseif op == 'incr' then
    redis.call('HINCRBY', K(a[1]), a[2], a[3]); touch(K(a[1])); return a.result
  elseif op == 'rpush' then
    local k = K(a[2]); pushall(k, 'RPUSH', a, 3); touch(K(a[1]), k); return false
  elseif op == 'mset' then -- root key k v k v ...
    local k = K(a[2])
    chunked('HSET', k, a, 3)
    touch(K(a[1]), k)
    return false
  elseif op == 'hdel' then
    local k = K(a[1])
    chunked('HDEL', k, a, 2)
    touch(k)
    return false
  elseif op == 'incrf' then
    local r = redis.call('HINCRBYFLOAT', K(a[1]), a[2], a[3]); touch(K(a[1])); return r
  elseif op == 'arith' or op == 'sappend' or op == 'srepeat' or op == 'tadd' then
    redis.call('HSET', K(a[1]), a[2], a.result); touch(K(a[1])); return a.result

  -- lists
  elseif op == 'lpush' then
    local k = K(a[2])
    local rev = {}
    for j = #a, 3, -1 do rev[#rev + 1] = a[j] end
    pushall(k, 'LPUSH', rev, 1); touch(K(a[1]), k); return false
  elseif op == 'rpop' or op == 'lpop' then
    local k = K(a[2])
    local v = redis.call(op == 'rpop' and 'RPOP' or 'LPOP', k)
    shrink(K(a[1]), k)
    return v
  elseif op == 'popat' then
    if a.idx == nil then return false end
    local k = K(a[2])
    local v = redis.call('LINDEX', k, a.idx)
    local tomb = '\0rapyer-tombstone\0' .. AV[1]
    redis.call('LSET', k, a.idx, tomb)
    redis.call('LREM', k, 1, tomb)
    shrink(K(a[1]), k)
    return v
  elseif op == 'lset' then
    local k = K(a[2]); redis.call('LSET', k, a.idx, a[4]); touch(K(a[1]), k); return false
  elseif op == 'linsert' then
    local k = K(a[2])
    if a.idx == 0 then redis.call('LPUSH', k, a[4]) else splice(k, a.idx, a.idx, {a[4]}) end
    touch(K(a[1]), k)
    return false
  elseif op == 'ldelrange' then
    if a.e > a.s then splice(K(a[2]), a.s, a.e, {}); shrink(K(a[1]), K(a[2])) end
    return tostring(a.e - a.s)
  elseif op == 'ltrim' then
    local k = K(a[2])
    if a.e <= a.s then redis.call('DEL', k) else redis.call('LTRIM', k, a.s, a.e - 1) end
    shrink(K(a[1]), k)
    return false
  elseif op == 'lrem' then
    local k = K(a[2]); local r = redis.call('LREM', k, tonumber(a[3]), a[4]); shrink(K(a[1]), k); return tostring(r)
  elseif op == 'lmove' then
    local v = redis.call('LMOVE', K(a[2]), K(a[4]), a[5], a[6])
    if v then shrink(K(a[1]), K(a[2])); touch(K(a[3]), K(a[4])) end
    return v
  elseif op == 'len' then
    local k = K(a[2])
    if a[3] == 'list' then return tostring(redis.call('LLEN', k)) end
    if a[3] == 'hash' then return tostring(redis.call('HLEN', k)) end
    return tostring(redis.call('SCARD', k))
  elseif op == 'clear' then
    local k = K(a[2]); redis.call('DEL', k); existed[k] = nil; touch(K(a[1])); return false

  -- maps
  elseif op == 'mdel' then -- root key f...
    local k = K(a[2]); local r = redis.call('HDEL', k, unpack(a, 3)); shrink(K(a[1]), k); return tostring(r)
  elseif op == 'mpop' then -- root key field
    local k = K(a[2])
    local v = redis.call('HGET', k, a[3])
    if v then redis.call('HDEL', k, a[3]); shrink(K(a[1]), k) end
    return v
  elseif op == 'mpopany' then -- root key
    local k = K(a[2])
    local cur = '0'
    repeat
      local r = redis.call('HSCAN', k, cur, 'COUNT', 16)
      cur = r[1]
      if #r[2] > 0 then
        local f, v = r[2][1], r[2][2]
        redis.call('HDEL', k, f); shrink(K(a[1]), k)
        return {f, v}
      end
    until cur == '0'
    return false
  elseif op == 'mget' then -- root key field
    return redis.call('HGET', K(a[2]), a[3])
  elseif op == 'mhas' then -- root key field
    return tostring(redis.call('HEXISTS', K(a[2]), a[3]))

  -- sets
  elseif op == 'sadd' then
    local k = K(a[2])
    local r = chunked('SADD', k, a, 3)
    touch(K(a[1]), k)
    return tostring(r)
  elseif op == 'srem' then
    local k = K(a[2]); local r = redis.call('SREM', k, unpack(a, 3)); shrink(K(a[1]), k); return tostring(r)
  elseif op == 'shas' then
    return tostring(redis.call('SISMEMBER', K(a[2]), a[3]))

  -- the model as a whole
  elseif op == 'reset' then
    local k = K(a[1])
    local v = redis.call('HGET', k, VERSION)
    redis.call('DEL', k)
    local m = models[k]
    -- the root has no TTL now; the batch's one version bump is written
    -- here, saving the HINCRBY at the end
    m.reset = true
    if v == false or isint(v) then
      redis.call('HSET', k, VERSION, addint(v or '0', '1'))
      m.bumped = true
    else
      redis.call('HSET', k, VERSION, v)
    end
    touch(k)
    return false
  elseif op == 'drop' then
    local ks = {}
    for j = 1, #a do ks[#ks + 1] = K(a[j]); existed[K(a[j])] = nil end
    local r = redis.call('DEL', unpack(ks))
    local m = models[K(a[1])]
    m.deleted = true
    m.bumped = nil
    return tostring(r)
  elseif op == 'unlock' then
    if redis.call('GET', K(a[1])) == a[2] then
      redis.call('DEL', K(a[1]))
      redis.call('PUBLISH', a[3], 'released')
      return '1'
    end
    return '0'
  end
  -- model declarations and guards yield nothing
  return false
end

-- batch record -----------------------------------------------------------
-- A batch with a record key (args[2] > 0) is answered from the record when
-- it was applied already (a resend after a lost reply). The record holds
-- '1' when no instruction yielded anything, '0' when the reply's encoding
-- was longer than RECORD_CAP bytes (the batch was applied; its results are
-- not kept), else the JSON of the results. args[2] = '0': no record, no
-- GET, no SET (the caller accepts an unknown outcome after a lost reply).
local RECORD_CAP = 1024

-- record checks the record arguments before anything is written: the SET
-- at the end must not fail (PX needs a whole number of ms, at least 1).
local function record()
  local i = tonumber(AV[2])
  if i == nil or i < 0 or i ~= math.floor(i) or i > #KS then
    fail('ARG', 0, 'record key index ' .. tostring(AV[2]))
  end
  if i == 0 then return nil end
  local ms = tonumber(AV[3])
  if ms == nil or ms < 1 or ms ~= math.floor(ms) or ms > 9007199254740991 then
    fail('ARG', 0, 'record lifetime of ' .. tostring(AV[3]) .. ' ms: it must be a whole number of ms, at least 1')
  end
  -- The record key is one of the call's keys: a user the ACL does not let
  -- read and write it is refused by the server before the call runs.
  return KS[i], ms
end

-- weight is a lower bound of the length of v's JSON, cut short past cap.
local function weight(v, cap)
  local t = type(v)
  if t == 'string' then return #v end
  if t ~= 'table' then return 1 end
  local w = 0
  for _, x in ipairs(v) do
    w = w + weight(x, cap)
    if w > cap then break end
  end
  return w
end

-- replay answers a resend from its record.
local function replay(prev)
  if prev == '1' then return {'DUP'} end
  if prev == '0' then return {'DUPX'} end
  local r = cjson.decode(prev)
  table.insert(r, 1, 'DUP')
  return r
end

-- recorded is what the record of reply out keeps.
local function recorded(out)
  local some = false
  for n = 2, #out do
    if out[n] then some = true; break end
  end
  if not some then return '1' end
  local res, w = {}, 0
  for n = 2, #out do
    res[n - 1] = out[n]
    w = w + weight(out[n], RECORD_CAP)
    -- too large: do not encode a copy of it only to drop it
    if w > RECORD_CAP then return '0' end
  end
  local s = cjson.encode(res)
  if #s > RECORD_CAP then return '0' end
  return s
end

-- run ------------------------------------------------------------------------
local function run(ops, args, count)
  local rec, recms = record()
  if rec then
    local prev = redis.call('GET', rec)
    if prev then return replay(prev) end
  end
  for n = 1, count do
    check(ops[n], args[n], n)
  end
  local out = {'OK'}
  for n = 1, count do
    out[n + 1] = apply(ops[n], args[n])
  end
  for root, m in pairs(models) do
    if m.written and not m.deleted and not m.bumped then
      redis.call('HINCRBY', root, VERSION, 1)
    end
    if not m.deleted then
      if m.ttl == 'set' then
        local ms = tonumber(m.ttlms)
        redis.call('PEXPIRE', root, ms)
        for _, k in ipairs(m.keys) do redis.call('PEXPIRE', k, ms) end
        for k, r in pairs(written) do if r == root then redis.call('PEXPIRE', k, ms) end end
      elseif m.ttl == 'persist' then
        redis.call('PERSIST', root)
        for _, k in ipairs(m.keys) do redis.call('PERSIST', k) end
      else
        -- keys the batch wrote get the model's remaining TTL, if it has
        -- one; a key that existed before and was never emptied has it
        -- already
        local mine
        if not m.reset then
          for k, r in pairs(written) do
            if r == root and not existed[k] then
              mine = mine or {}
              mine[#mine + 1] = k
            end
          end
        end
        if mine then
          local ms = redis.call('PTTL', root)
          if ms > 0 then
            for _, k in ipairs(mine) do
              if redis.call('PTTL', k) == -1 then redis.call('PEXPIRE', k, ms) end
            end
          end
        end
      end
    end
  end
  if rec then
    redis.call('SET', rec, recorded(out), 'PX', recms)
  end
  return out
end

-- batch is the entry point: it runs one program.
local function batch(keys, args)
  KS, AV = keys, args
  BYTES, MOVES = tonumber(args[4]) or 0, tonumber(args[5]) or 0
  wipe(types); wipe(cleared); wipe(fields); wipe(stored); wipe(lens)
  wipe(existed); wipe(models); wipe(written); wipe(KI)
  local ok, res = pcall(run, parse())
  if ok then return res end
  if type(res) == 'table' then
    if res.code == 'SKIP' then return {'SKIP'} end
    return {'ERR', res.code, tostring(res.n), res.msg}
  end
  return {'ERR', 'SCRIPT', '0', tostring(res)}
end
