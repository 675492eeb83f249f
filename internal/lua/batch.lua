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
-- large to keep, or {'ERR', code, instruction number, message}; a failed
-- guard adds what it read: {'ERR', 'PRECOND', n, message, field[, seen]}.

local VERSION = '__v'
-- IX holds the indexes' code (index.lua, appended to this text): declared
-- here, so that run can call it.
local IX = {}
-- The call's keys and arguments, its budgets, and the state of one call
-- below: set by batch() at the start of every call.
local KS, AV, BYTES, MOVES

local function fail(code, n, msg)
  error({code = code, n = n, msg = msg})
end

-- guardfail fails the batch with PRECOND for guard n that did not hold.
-- What it read travels apart from the message, for the caller's GuardError:
-- read = {field, seen}, field a field of the root hash, or a collection's
-- key ('' for the version), seen the value found as text (nil when it was
-- missing).
local function guardfail(n, read, msg)
  error({code = 'PRECOND', n = n, msg = msg, guard = read or {''}})
end

-- The write phase ------------------------------------------------------------
-- Every command the write phase sends is proven in the check phase not to
-- fail: types, guards and arithmetic by check(), the version field and the
-- user's permissions by prewrite(). Should one fail all the same, batch()
-- tells a failure before the first write (nothing changed: a typed refusal)
-- from one after it ({'ERR', 'PARTIAL', ...}). WROTE says which: the write
-- phase sends every write through W. AT is the instruction being applied,
-- for the error message. ORPHAN: a purge found its model's root gone
-- (check, 'model'), so run reports SKIP after deleting its leftovers;
-- LIVE: it found one that exists (a purge of several models deletes the
-- leftovers only when all are missing, and skips when some are not).
local WROTE, AT, ORPHAN, LIVE = false, 0, false, false
local SENDN = 0 -- the op sends() looks at (mark)
local function W(...)
  local r = redis.call(...)
  WROTE = true
  return r
end

-- exact signed 64-bit integers as two limbs (hi, lo) of base 1e9 ----------
-- The text from each "shape: NAME begin" mark to its end mark is also put
-- into the scripts of compiled batches (package internal/shape cuts it out
-- at init, SetLua): one text of these helpers. Each keeps to what it needs.
-- shape: isint begin
local function isint(s)
  return type(s) == 'string' and #s <= 20 and (s == '0' or string.match(s, '^%-?[1-9]%d*$') ~= nil)
end
-- shape: isint end
-- shape: ints begin
local B = 1000000000
local function limbs(s)
  local neg = string.sub(s, 1, 1) == '-'
  local d = neg and string.sub(s, 2) or s
  local lo = tonumber(string.sub(d, -9)) or 0
  local hi = #d > 9 and tonumber(string.sub(d, 1, #d - 9)) or 0
  if neg then return -hi, -lo end
  return hi, lo
end
-- Integer texts are canonical (isint, or written by Go or by addint), so
-- signs and lengths order most pairs without arithmetic; texts of at most 15
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
  if h1 ~= h2 then return h1 < h2 and -1 or 1 end
  if l1 ~= l2 then return l1 < l2 and -1 or 1 end
  return 0
end
-- HALFEXACT is 2^52: two integers below it in magnitude are exact in a
-- double, and so is their sum. Versions (microseconds of the clock, 16
-- digits) and most amounts are there: no limbs for them. Past it, the sum
-- of the limbs is normalised (the carry into hi, both limbs of one sign)
-- and written as hi and 9 digits of lo.
local HALFEXACT = 4503599627370496
local function addint(a, b)
  if #a <= 16 and #b <= 16 then
    local x, y = tonumber(a), tonumber(b)
    if x < HALFEXACT and x > -HALFEXACT and y < HALFEXACT and y > -HALFEXACT then
      return string.format('%.0f', x + y)
    end
  end
  local h1, l1 = limbs(a)
  local h2, l2 = limbs(b)
  local h, l = h1 + h2, l1 + l2
  if l >= B or l <= -B then
    local c = (l >= 0) and math.floor(l / B) or -math.floor(-l / B)
    h = h + c; l = l - c * B
  end
  if h > 0 and l < 0 then h = h - 1; l = l + B
  elseif h < 0 and l > 0 then h = h + 1; l = l - B end
  if h == 0 then return string.format('%.0f', l) end
  return string.format('%.0f', h) .. string.format('%09.0f', math.abs(l))
end
-- within reports whether v, an integer text this code made (canonical),
-- lies in [lo, hi].
local function within(v, lo, hi)
  return cmpint(v, lo) >= 0 and cmpint(v, hi) <= 0
end
-- shape: ints end

-- floats ------------------------------------------------------------------
-- INF, not math.huge: the Lua of the embedded miniredis makes math.huge the
-- largest finite float.
-- shape: floats begin
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
-- shape: floats end
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

-- float32 fields: the ops give such a field the bound hi MAXF32, the
-- largest float32. The server computes in doubles; a float32 field keeps
-- the float32 Go would compute, in the text a Save of it stores (the
-- shortest that reads back as it), so that the value Get decodes is the
-- one its index entry and a guard read. round32 rounds x to the nearest
-- float32, ties to even (one +, -, *, / of float32 operands rounded once
-- in double and again to float32 is exact); fmt32 is its shortest text.
local MAXF32 = 3.4028234663852886e+38
local function round32(x)
  if x ~= x or x == INF or x == -INF or x == 0 then return x end
  local neg = x < 0
  if neg then x = -x end
  local m, e = math.frexp(x)
  local bits = 24
  if e < -125 then bits = e + 149 end -- subnormal
  local r = 0
  if bits >= 0 then
    local sc = m * 2 ^ bits
    local f = math.floor(sc)
    local d = sc - f
    if d > 0.5 or (d == 0.5 and f % 2 == 1) then f = f + 1 end
    r = f * 2 ^ (e - bits)
  end
  if neg then return -r end
  return r
end
local function fmt32(x)
  if x ~= x or x == INF or x == -INF or x == 0 then return fmtfloat(x) end
  for p = 1, 9 do
    local t = string.format('%.' .. p .. 'g', x)
    if round32(parsefloat(t)) == x then return t end
  end
  return fmtfloat(x)
end

-- time: RFC 3339 with nanoseconds ----------------------------------------
-- shape: time begin
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m > 2) and (m - 3) or (m + 9)
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
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
-- shape: time end
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
local gone = {}     -- collection key of a model the batch creates -> true:
                 -- found without its root, so not the model's (see 'model')

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
-- unknown reports whether an error of the server says it has no such
-- command (an old server, a command renamed away).
local function unknown(msg)
  return string.find(msg, 'nknown Redis command', 1, true) ~= nil
    or string.find(msg, 'nknown command', 1, true) ~= nil
end
-- hasversion reports whether the model at root exists, with one HGET of
-- its version that also checks root's type (it fails on a key that is not
-- a hash). The version read stays for the guards and the version bump.
local function hasversion(root, n)
  local t = stored[root]
  if t == nil or t[VERSION] == nil then
    local r = redis.pcall('HGET', root, VERSION)
    if failed(r) then
      needtype(root, 'hash', n)
      error(r.err)
    end
    if t == nil then t = {}; stored[root] = t end
    t[VERSION] = r
  end
  if types[root] == nil then types[root] = 'hash' end
  return t[VERSION] ~= false
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

-- float arithmetic --------------------------------------------------------
-- farith computes name ('add', 'mul', 'floordiv', 'mod', 'pow', 'div',
-- 'max', 'min') of the stored float cur (false: absent, 0) and the operand
-- text x, as Go computes it in float64: Lua's numbers are doubles, and the
-- result is written by HSET of its text, not by HINCRBYFLOAT, whose long
-- double sum and 17 decimals (%.17Lf) lose a small float's digits and may
-- round twice. A float32 field (hi MAXF32) computes on float32 operands and
-- rounds the result to float32 once: for add, mul and div that is exactly
-- Go's float32 arithmetic, for the others float32 of the float64 result.
-- The stored value may be one a Save of the library wrote, +Inf, -Inf or
-- NaN ("inf", "-inf", "nan"): it computes with it as Go does, and a result
-- that is not finite or passes hi fails OVERFLOW (nothing written), as any
-- result leaving the float range does; only a text no Save writes is
-- CORRUPT. what names the value for the messages.
local function farith(name, cur, x, hi, n, what)
  if cur == false then cur = '0' end
  local a
  if cur == 'nan' then a = 0 / 0 else a = parsefloat(cur) end
  if a == nil then fail('CORRUPT', n, what .. ' holds ' .. cur .. ', not a number') end
  local b, max = parsefloat(x), parsefloat(hi)
  local f32 = max == MAXF32
  if f32 then a, b = round32(a), round32(b) end
  local r
  if name == 'add' then r = a + b
  elseif name == 'mul' then r = a * b
  elseif name == 'floordiv' then
    if b == 0 then fail('ARG', n, 'division by zero') end
    r = math.floor(a / b)
  elseif name == 'mod' then
    if b == 0 then fail('ARG', n, 'modulo by zero') end
    r = a - b * math.floor(a / b)
  elseif name == 'pow' then r = a ^ b
  elseif name == 'div' then -- true division (ops.Div): float fields only
    if b == 0 then fail('ARG', n, 'division by zero') end
    r = a / b
  elseif a ~= a then r = a -- max, min: NaN as Go's math.Max and math.Min
  elseif a == 0 and b == 0 then -- +0 is the larger of the zeros, as in Go
    if (name == 'max') == (1 / a > 0) then r = a else r = b end
  elseif name == 'max' then r = (a > b) and a or b
  else r = (a < b) and a or b
  end
  if f32 then r = round32(r) end
  if r ~= r or r == INF or r == -INF or math.abs(r) > max then
    fail('OVERFLOW', n, name .. ' of ' .. what .. ' (' .. cur .. ') gives ' .. fmtfloat(r) .. ', out of the float range')
  end
  if f32 then return fmt32(r) end
  return fmtfloat(r)
end

-- idivmod gives Python's a // b and a % b (the sign of b) of whole numbers
-- a, b within +-2^53, b not 0, exactly. a - b * math.floor(a / b) is not:
-- a / b rounds ((2^53 - 1) / 3 rounds up to a whole number), and b times
-- the quotient may pass 2^53 (-2^53 % 7 came out 4, not 3). fmod is exact
-- for doubles, a - fmod(a, b) is a whole multiple of b no larger than a, so
-- the truncated quotient divides exactly, and the floor is one step from it.
local function idivmod(a, b)
  local m = math.fmod(a, b)
  local q = (a - m) / b
  if m ~= 0 and (m < 0) ~= (b < 0) then
    q, m = q - 1, m + b
  end
  return q, m
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
    -- compared as text: 2^53+1 converts to 2^53, and a uint64 past 2^64
    -- does not convert at all in the Lua of miniredis
    if not within(cur, '-9007199254740992', '9007199254740992') or not within(x, '-9007199254740992', '9007199254740992') then
      fail('OVERFLOW', n, name .. ' is exact only within +-2^53 on the server')
    end
    local a, b = tonumber(cur), tonumber(x)
    local r
    if name == 'mul' then r = a * b
    elseif name == 'floordiv' then
      if b == 0 then fail('ARG', n, 'division by zero') end
      r = idivmod(a, b)
    elseif name == 'mod' then
      if b == 0 then fail('ARG', n, 'modulo by zero') end
      local _
      _, r = idivmod(a, b)
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
    -- + 0: a -0 (Mul of a negative by 0) is written 0, the integer text
    local s = string.format('%.0f', r + 0)
    if not within(s, lo, hi) then fail('OVERFLOW', n, s .. ' is out of range') end
    return s
  end
  return farith(name, cur, x, hi, n, 'the field')
end

-- cmpstr compares byte by byte, as Go compares strings: Lua's < follows the
-- server's locale (strcoll), which need not be bytewise.
-- shape: strs begin
local function cmpstr(a, b)
  if a == b then return 0 end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return #a < #b and -1 or 1
end
-- shape: strs end
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
  return cmpstr(cur, want)
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

-- map items (ops.IncrItem) -------------------------------------------------
-- The check pass keeps a shadow of the map items the batch sets or removes
-- (mapshadow), so that an increment sees the item as the batch has it by
-- then. PopAnyItem takes an item the check pass cannot name: the map is
-- then MURKY, and an increment of it fails before any write.
local MURKY = {}
local I64LO, I64HI = '-9223372036854775808', '9223372036854775807'
local function mapshadow(op, k, a)
  if op == 'mset' then
    for j = 3, #a, 2 do fset(k, a[j], a[j + 1]) end
  elseif op == 'mdel' then
    for j = 3, #a do fset(k, a[j], false) end
  elseif op == 'mpop' then
    fset(k, a[3], false)
  elseif op == 'mpopany' then
    fset(k, MURKY, true)
  end
end
-- mapstep adds the step by to the item cur (false: absent, 0) of kind
-- 'int' (HINCRBY: within [lo, hi] and int64) or 'float' (farith: written
-- by HSET), and returns the new item's text.
local function mapstep(kind, cur, by, lo, hi, n)
  if kind == 'int' then
    if cur == false then cur = '0' end
    if not isint(cur) then fail('CORRUPT', n, 'the item holds ' .. cur .. ', not an integer') end
    if not within(cur, I64LO, I64HI) then fail('OVERFLOW', n, 'the item holds ' .. cur .. ', past the 64-bit integers HINCRBY works on') end
    local r = addint(cur, by)
    if not within(r, lo, hi) then fail('OVERFLOW', n, 'the item would become ' .. r) end
    return r
  end
  return farith('add', cur, by, hi, n, 'the item')
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
-- Every write it sends goes through W.
local function chunked(cmd, k, vals, from)
  local n = #vals
  if n < from then return 0 end
  if n - from < 1000 then return W(cmd, k, unpack(vals, from)) end
  local r = 0
  for s = from, n, 1000 do
    r = r + W(cmd, k, unpack(vals, s, math.min(s + 999, n)))
  end
  return r
end
-- delall deletes the keys ks, 1000 at a time, and returns how many existed.
local function delall(ks)
  local r = 0
  for s = 1, #ks, 1000 do
    r = r + W('DEL', unpack(ks, s, math.min(s + 999, #ks)))
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
-- splice keeps [0, from) and [to, len) of the list k, of length len, and
-- puts vals between them. It rewrites only the shorter side: the head
-- [0, from) is read, trimmed off with what goes and pushed back on the left;
-- or the tail [to, len) is read, trimmed off and pushed back on the right
-- after vals. The elements it moves are min(from, len - to) (see moves).
local function splice(k, from, to, vals, len)
  if from == 0 and to == len then
    W('DEL', k)
    pushall(k, 'RPUSH', vals, 1)
  elseif from <= len - to then
    -- the head side: [to, len) is not empty here
    local head = from > 0 and redis.call('LRANGE', k, 0, from - 1) or {}
    W('LTRIM', k, to, -1)
    local rev, m = {}, 0
    for j = #vals, 1, -1 do m = m + 1; rev[m] = vals[j] end
    for j = #head, 1, -1 do m = m + 1; rev[m] = head[j] end
    pushall(k, 'LPUSH', rev, 1)
  else
    -- the tail side: [0, from) is not empty here
    local tail = to < len and redis.call('LRANGE', k, to, -1) or {}
    W('LTRIM', k, 0, from - 1)
    local all, m = {}, 0
    for j = 1, #vals do m = m + 1; all[m] = vals[j] end
    for j = 1, #tail do m = m + 1; all[m] = tail[j] end
    pushall(k, 'RPUSH', all, 1)
  end
end

-- budgets of work (promise 13: no single request holds the server for long).
-- The check pass counts what each op will cost before anything is written,
-- and fails with LIMIT once the batch is over a budget: BYTES of text the
-- text ops make (their results, summed), MOVES list elements the list ops
-- move or scan (summed); 0 for no budget. MAXVALUE is Redis's own limit on a
-- value (proto-max-bulk-len), which holds whatever the budget.
local MAXVALUE = 512 * 1024 * 1024
-- spent[1] bytes and spent[2] moves so far in the call (batch() resets
-- them).
local spent = {0, 0}
local function spend(n, what, cost, budget, field)
  local i = (what == 'bytes') and 1 or 2
  local total = spent[i] + cost
  if budget > 0 and total > budget then
    local msg = string.format('costs %.0f %s', cost, what)
    if total > cost then msg = msg .. string.format(' (%.0f with the ops before it)', total) end
    fail('LIMIT', n, msg .. string.format(', over the batch budget of %.0f %s (tx.Options.Budget.%s)', budget, what, field))
  end
  spent[i] = total
end
-- textcost counts an op that makes a text of size bytes.
local function textcost(n, size)
  if size > MAXVALUE then
    fail('LIMIT', n, string.format('would make a value of %.0f bytes, over the 512 MB Redis allows', size))
  end
  spend(n, 'bytes', size, BYTES, 'Bytes')
end
-- moves counts an op that moves or scans cost list elements.
local function moves(n, cost)
  if cost > 0 then spend(n, 'moves', cost, MOVES, 'Moves') end
end
-- rep is string.rep(s, t) in about log2(t) concatenations: string.rep
-- copies s t times into a buffer, which for a short s is several times
-- slower, and runs in C, where nothing can stop it.
local function rep(s, t)
  if t == 1 then return s end
  local out
  while t > 0 do
    if t % 2 == 1 then out = out and out .. s or s end
    t = math.floor(t / 2)
    if t > 0 then s = s .. s end
  end
  return out
end

-- slice bounds of ldelrange and ltrim: a Python slice [start:stop], stop ''
-- for the end
local function slice(a, l)
  local s = pyclamp(tonumber(a[3]), l)
  local e = a[4] == '' and l or pyclamp(tonumber(a[4]), l)
  if e < s then e = s end
  return s, e
end

-- predicates (is.Pred) -------------------------------------------------------
-- pred evaluates the predicate whose nodes start at a[i], seven words each
-- (key tag x kind rel arg zero), in prefix order: 'and', 'or' and 'not'
-- (x is the count of their operands), then the leaves: 'cmp' (the root's
-- field x read as kind, related by rel to arg, zero when absent), 'len'
-- (the length of the collection at key, of Redis type x, related by rel to
-- arg; x 'text' for the length in bytes of the root key's field kind) and 'has' (the collection at key holds arg). It writes nothing, and
-- returns whether the predicate holds, the index past it, and what the
-- first leaf saw, for the message of a guard that fails. In the check phase
-- it reads the data as the batch found it, checks the key types and fails
-- the batch on a value that does not parse; live (the apply phase of a
-- 'pred', after the writes before it) it reads the keys as they are then,
-- which the check phase has validated, and fails nothing.
local function pred(a, i, n, live)
  local key, tag, x = a[i], a[i + 1], a[i + 2]
  if tag == 'and' or tag == 'or' or tag == 'not' then
    local r, j, seen, read = tag == 'and', i + 7, nil, nil
    for _ = 1, tonumber(x) do
      local ok, nx, s, rd = pred(a, j, n, live)
      j, seen, read = nx, seen or s, read or rd
      if tag == 'and' then r = r and ok elseif tag == 'or' then r = r or ok else r = not ok end
    end
    return r, j, seen, read
  end
  local k, rel, arg = K(key), a[i + 4], a[i + 5]
  if tag == 'cmp' then
    local raw
    if live then raw = redis.call('HGET', k, x) else raw = sget(k, x) end
    local cur = raw or a[i + 6]
    if not valid(a[i + 3], cur) then
      if live then return false, i + 7, nil end
      fail('CORRUPT', n, x .. ' holds ' .. tostring(cur))
    end
    local said = raw and (x .. ' is ' .. cur) or (x .. ' is missing' .. (cur ~= '' and (', which counts as ' .. cur) or ''))
    -- rel 'pre' (is.HasPrefix): the text starts with arg
    if rel == 'pre' then return string.sub(cur, 1, #arg) == arg, i + 7, said, {x, raw or nil} end
    return holds(compare(a[i + 3], cur, arg), rel), i + 7, said, {x, raw or nil}
  end
  if not live then needtype(k, x == 'text' and 'hash' or x, n) end
  -- a collection of a model the batch creates is found empty
  local none = not live and gone[k]
  if tag == 'len' then
    local l
    if none then l = 0
    elseif x == 'list' then l = redis.call('LLEN', k)
    elseif x == 'hash' then l = redis.call('HLEN', k)
    elseif x == 'text' then l = redis.call('HSTRLEN', k, a[i + 3])
    else l = redis.call('SCARD', k) end
    local want = tonumber(arg)
    local field = x == 'text' and a[i + 3] or k
    return holds((l < want) and -1 or ((l > want) and 1 or 0), rel), i + 7, 'the length is ' .. l, {field, tostring(l)}
  end
  local found
  if none then found = false
  elseif x == 'set' then found = redis.call('SISMEMBER', k, arg) == 1
  elseif x == 'hash' then found = redis.call('HEXISTS', k, arg) == 1
  else
    -- LPOS came with Redis 6.0.6
    local r = redis.pcall('LPOS', k, arg)
    if failed(r) then
      if live then return false, i + 7, nil end
      if unknown(r.err) then fail('UNSUP', n, 'the server has no LPOS (Redis 6.0.6 and later have it)') end
      error(r.err)
    end
    found = r ~= false
  end
  local what = x == 'hash' and 'the key is ' or 'the element is '
  return found, i + 7, what .. (found and 'present' or 'missing'), {k, found and arg or nil}
end

local function check(op, a, n)
  if op == 'model' then -- root mode ttlmode ttlms colkey...
    local root = K(a[1])
    local m = {mode = a[2], ttl = a[3], ttlms = a[4], keys = {}, n = n}
    for j = 5, #a do m.keys[#m.keys + 1] = K(a[j]) end
    models[root] = m
    local has = hasversion(root, n)
    if not has and (m.mode == 'fresh' or m.mode == 'create') then
      -- the model starts empty: a collection key found without its root
      -- (the root evicted, expired or deleted by hand) is not its own, and
      -- run deletes it before the first op's write (the program lists
      -- every collection key of a model CreateIfMissing may create)
      m.fresh = true
      for _, k in ipairs(m.keys) do clearkey(k); gone[k] = true end
    end
    if m.mode == 'fresh' then
      if has then fail('EXISTS', n, root .. ' exists already') end
    elseif m.mode ~= 'create' then
      if not has then
        -- purge (a program that only deletes this model, prog.Purge):
        -- the root is gone but its collection keys and index entries may
        -- not be (the root evicted, expired or deleted by hand); the drop
        -- deletes them as it would the model's, and run reports SKIP
        if m.mode == 'purge' then ORPHAN = true
        elseif m.mode == 'skip' then error({code = 'SKIP'})
        else fail('NOTFOUND', n, root .. ' does not exist') end
      elseif m.mode == 'purge' then LIVE = true end
      -- a purge of several models (prog.Purge) that finds some missing
      -- and some not is a skip: nothing written, as with mode skip
      if ORPHAN and LIVE then error({code = 'SKIP'}) end
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
    -- a uint64 field may hold more than HINCRBY reads: refused here, before
    -- the first write, not by HINCRBY in the write phase
    if not within(cur, I64LO, I64HI) then fail('OVERFLOW', n, a[2] .. ' holds ' .. cur .. ', past the 64-bit integers HINCRBY works on') end
    local r = addint(cur, a[3])
    if not within(r, a[4], a[5]) then fail('OVERFLOW', n, a[2] .. ' would become ' .. r) end
    fset(k, a[2], r)
    a.result = r
  elseif op == 'rpush' or op == 'lpush' then -- root key v... (lpush: given in final order)
    listcheck(a, n, #a - 2)
  elseif op == 'mset' or op == 'mdel' or op == 'mpop' or op == 'mpopany' or op == 'mget' then
    needtype(K(a[2]), 'hash', n)
    mapshadow(op, K(a[2]), a)
  elseif op == 'mincr' then -- root key field kind by lo hi (a map item: HINCRBY, or farith and HSET)
    local k = K(a[2])
    needtype(k, 'hash', n)
    if fields[k] and fields[k][MURKY] then fail('ARG', n, 'a map item cannot be checked after PopAnyItem of the same map in the batch') end
    a.result = mapstep(a[4], fget(k, a[3]), a[5], a[6], a[7], n)
    fset(k, a[3], a.result)
  elseif op == 'ensure' then -- root ttlms field value ... (create the model when missing)
    -- before every other instruction of the model (the builder puts it
    -- there): a missing model is created with these fields, and the
    -- guards and checks after it see them as stored; the first wins
    local root = K(a[1])
    local m = models[root]
    if hasversion(root, n) or m.made then a.skip = true
    else
      m.made = true
      local t = stored[root]
      for j = 3, #a, 2 do t[a[j]] = a[j + 1]; fset(root, a[j], a[j + 1]) end
    end

  -- guards: checked in the first pass, against the data as the batch found it
  elseif op == 'gver' then -- root version
    local v = sget(K(a[1]), VERSION)
    if v ~= a[2] then guardfail(n, {'', v or nil}, 'the version is ' .. tostring(v or 'missing') .. ', not ' .. a[2]) end
  elseif op == 'gpred' then -- key tag x kind rel arg zero ...: a predicate (is.Pred), in prefix order
    local ok, _, seen, read = pred(a, 1, n)
    if not ok then guardfail(n, read, seen) end
  elseif op == 'pred' then -- key tag x kind rel arg zero ...: yields whether a predicate holds
    -- evaluated here as the batch found it, so that a value that does not
    -- parse, a key of another type or a server without LPOS fail the batch
    -- before the first write; apply evaluates it at its point of the batch
    pred(a, 1, n)
  elseif op == 'glock' then -- lockkey token
    if redis.call('GET', K(a[1])) ~= a[2] then fail('LOCKLOST', n, 'the lock ' .. K(a[1]) .. ' is no longer held') end

  -- more scalars
  elseif op == 'hdel' then -- root field...
    local k = K(a[1])
    for j = 2, #a do fset(k, a[j], false) end
  elseif op == 'incrf' then -- root field by max (floats: farith, written by HSET)
    local k = K(a[1])
    a.result = farith('add', fget(k, a[2]), a[3], a[4], n, a[2])
    fset(k, a[2], a.result)
  elseif op == 'arith' then -- root field name kind lo hi operand
    local k = K(a[1])
    local r = arith(a[3], fget(k, a[2]), a[4], a[7], a[5], a[6], n)
    fset(k, a[2], r)
    a.result = r
  elseif op == 'sappend' then -- root field text
    local k = K(a[1])
    local cur = fget(k, a[2]) or ''
    textcost(n, #cur + #a[3])
    a.result = cur .. a[3]
    fset(k, a[2], a.result)
  elseif op == 'srepeat' then -- root field times
    local k = K(a[1])
    local cur = fget(k, a[2]) or ''
    local t = tonumber(a[3])
    if not isint(a[3]) or t < 0 then fail('ARG', n, 'the count ' .. a[3] .. ' is not a whole number of at least 0') end
    local r = ''
    if #cur > 0 and t > 0 then
      -- compared before multiplying: #cur * t could be past what a double
      -- holds exactly
      if t > MAXVALUE / #cur then
        fail('LIMIT', n, 'repeating ' .. #cur .. ' bytes ' .. a[3] .. ' times would make a value over the 512 MB Redis allows')
      end
      textcost(n, #cur * t)
      r = rep(cur, t)
    end
    a.result = r
    fset(k, a[2], r)
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
  elseif op == 'rpop' or op == 'lpop' then -- root key
    local k, l = listcheck(a, n)
    if l > 0 then setlen(k, l - 1) end
  elseif op == 'popat' then -- root key index
    local k, l = listcheck(a, n)
    needlen(k, l, n)
    local i = pyindex(tonumber(a[3]), l)
    a.idx, a.len = i, l
    if i ~= nil then
      moves(n, math.min(i, l - 1 - i))
      setlen(k, l - 1)
    end
  elseif op == 'lset' then -- root key index value
    local k, l = listcheck(a, n)
    needlen(k, l, n)
    local i = pyindex(tonumber(a[3]), l)
    if i == nil then fail('RANGE', n, 'index ' .. a[3] .. ' is outside a list of ' .. l) end
    a.idx = i
  elseif op == 'linsert' then -- root key index value
    local k, l = listcheck(a, n)
    needlen(k, l, n)
    local i = pyclamp(tonumber(a[3]), l)
    a.idx, a.len = i, l
    moves(n, math.min(i, l - i))
    setlen(k, l + 1)
  elseif op == 'ldelrange' then -- root key start stop
    local k, l = listcheck(a, n)
    needlen(k, l, n)
    local s, e = slice(a, l)
    a.s, a.e, a.len = s, e, l
    if e > s then moves(n, math.min(s, l - e)) end
    setlen(k, l - (e - s))
  elseif op == 'ltrim' then -- root key start stop: keep the slice [start:stop]
    -- one LTRIM: it frees what goes node by node and moves nothing
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
  elseif op == 'sadd' or op == 'srem' then
    needtype(K(a[2]), 'set', n)

  -- the model as a whole
  elseif op == 'reset' then -- root: drop every field but the version (replace)
    local k = K(a[1])
    needtype(k, 'hash', n)
    clearkey(k)
  elseif op == 'drop' then -- root colkey type ...: delete the model
    -- a key of another type than the model's is not the model's: refuse
    -- rather than delete it
    local root = K(a[1])
    needtype(root, 'hash', n)
    for j = 2, #a, 2 do needtype(K(a[j]), a[j + 1], n) end
    clearkey(root)
    for j = 2, #a, 2 do clearkey(K(a[j])) end
  elseif op == 'ix' then -- root id ids back exp name kind use coll zkey aux ...
    IX.declare(models[K(a[1])], a, n)
  elseif op == 'unlock' then -- lockkey token channel
    -- nothing to check: it releases only if the lock is still held
  else
    fail('ARG', n, 'unknown instruction ' .. op)
  end
end

-- prewrite ------------------------------------------------------------------
-- prewrite runs after the checks and before the first write. It validates
-- the version of every model the batch writes (and reads the server's clock
-- for those it creates), and asks the server's ACL whether this user may
-- send each command the write phase will send, with its key: on Redis 7,
-- whose Lua can ask (redis.acl_check_cmd); elsewhere a refusal shows as the
-- command's own error, before the first write if it is a read of the
-- checks. sends(op, a, n) lists what apply(op, a) sends; a test
-- (writes_test.go) holds the two to each other.
local ACL          -- redis.acl_check_cmd, or nil: set at every call
local asked = {}   -- cmd -> {key -> true} once asked in this call

-- ask fails the batch when the user may not send cmd with key k, or the
-- server has no cmd.
local function ask(cmd, k, n)
  if ACL == nil then return end
  -- two levels, not cmd .. ' ' .. k: making that text costs half an ask
  local t = asked[cmd]
  if t == nil then t = {}; asked[cmd] = t elseif t[k] then return end
  t[k] = true
  local ok, yes = pcall(ACL, cmd, k)
  if not ok then fail('UNSUP', n, 'the server has no command ' .. cmd) end
  if not yes then fail('NOPERM', n, 'this user may not send ' .. cmd .. ' with the key ' .. k) end
end
-- mark notes that the batch writes the model at root, and the collection
-- key k if given, whose TTL the batch then sets.
local function mark(root, k)
  local m = models[root]
  m.w = true
  m.wn = SENDN -- the last op that writes it (IX.lives)
  if k and m.ttl ~= 'persist' then
    if m.ttl == 'keep' then ask('PTTL', k, m.n) end
    ask('PEXPIRE', k, m.n)
  end
end

local function sends(op, a, n)
  if op == 'hset' or op == 'arith' or op == 'sappend' or op == 'srepeat' or op == 'tadd' then
    ask('HSET', K(a[1]), n); mark(K(a[1]))
  elseif op == 'incr' then
    ask('HINCRBY', K(a[1]), n); mark(K(a[1]))
  elseif op == 'incrf' then
    ask('HSET', K(a[1]), n); mark(K(a[1]))
  elseif op == 'hdel' then
    ask('HDEL', K(a[1]), n); mark(K(a[1]))
  elseif op == 'rpush' then
    ask('RPUSH', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'lpush' then
    ask('LPUSH', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'mset' then
    ask('HSET', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'sadd' then
    ask('SADD', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'rpop' then
    ask('RPOP', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'lpop' then
    ask('LPOP', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'popat' then
    local k = K(a[2])
    ask('LPOP', k, n); ask('RPOP', k, n)
    ask('LINDEX', k, n); ask('LSET', k, n); ask('LREM', k, n); mark(K(a[1]), k)
  elseif op == 'lset' then
    ask('LSET', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'linsert' then
    local k = K(a[2])
    ask('LPUSH', k, n); ask('LRANGE', k, n); ask('DEL', k, n); ask('LTRIM', k, n); ask('RPUSH', k, n)
    mark(K(a[1]), k)
  elseif op == 'ldelrange' then
    local k = K(a[2])
    ask('LRANGE', k, n); ask('DEL', k, n); ask('LTRIM', k, n); ask('LPUSH', k, n); ask('RPUSH', k, n)
    mark(K(a[1]), k)
  elseif op == 'ltrim' then
    ask('DEL', K(a[2]), n); ask('LTRIM', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'lrem' then
    ask('LREM', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'lmove' then
    if a[5] == 'LEFT' then ask('LPOP', K(a[2]), n) else ask('RPOP', K(a[2]), n) end
    if a[6] == 'LEFT' then ask('LPUSH', K(a[4]), n) else ask('RPUSH', K(a[4]), n) end
    mark(K(a[1]), K(a[2])); mark(K(a[3]), K(a[4]))
  elseif op == 'len' then
    if a[3] == 'list' then ask('LLEN', K(a[2]), n)
    elseif a[3] == 'hash' then ask('HLEN', K(a[2]), n)
    else ask('SCARD', K(a[2]), n) end
  elseif op == 'clear' then
    ask('DEL', K(a[2]), n); mark(K(a[1]))
  elseif op == 'mdel' then
    ask('HDEL', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'mincr' then
    if a[4] == 'int' then ask('HINCRBY', K(a[2]), n) else ask('HSET', K(a[2]), n) end
    mark(K(a[1]), K(a[2]))
  elseif op == 'ensure' then
    if not a.skip then
      ask('HSET', K(a[1]), n)
      if a[2] ~= '0' then ask('PEXPIRE', K(a[1]), n) end
      mark(K(a[1]))
    end
  elseif op == 'mpop' then
    ask('HGET', K(a[2]), n); ask('HDEL', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'mpopany' then
    ask('HSCAN', K(a[2]), n); ask('HDEL', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'mget' then
    ask('HGET', K(a[2]), n)
  elseif op == 'srem' then
    ask('SREM', K(a[2]), n); mark(K(a[1]), K(a[2]))
  elseif op == 'pred' then
    -- reads only, made in the check phase
  elseif op == 'reset' then
    ask('DEL', K(a[1]), n); ask('HSET', K(a[1]), n); mark(K(a[1]))
  elseif op == 'drop' then
    ask('DEL', K(a[1]), n)
    for j = 2, #a, 2 do ask('DEL', K(a[j]), n) end
    models[K(a[1])].drops = true
    models[K(a[1])].dropn = n
  elseif op == 'unlock' then
    ask('GET', K(a[1]), n); ask('DEL', K(a[1]), n)
    ask('EXISTS', K(a[1]) .. ':fence:wait', n)
    -- a user who may not publish on the channel releases all the same;
    -- the waiters poll
    if ACL ~= nil then
      local ok, yes = pcall(ACL, 'PUBLISH', a[3], K(a[1]))
      a.nopub = not (ok and yes)
    end
  end
end

-- clock is the server's time in microseconds, as text: a created model's
-- first version, so that versions never repeat for a key across a delete
-- and a re-create (or an expiry). A double holds it exactly until 2255.
local function clock()
  local t = redis.call('TIME')
  return string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
end

local function prewrite(ops, args, count)
  for n = 1, count do SENDN = n; sends(ops[n], args[n], n) end
  local now
  for root, m in pairs(models) do
    if m.w then
      -- the version as the batch found it ('model' read it)
      local v = stored[root][VERSION]
      local nx
      if v ~= false then
        if not isint(v) or string.byte(v, 1) == 45 then -- '-'
          if not m.drops then fail('CORRUPT', m.n, root .. ' holds the version "' .. v .. '", not a count') end
        elseif #v > 16 or tonumber(v) >= MAXEXACT then
          if not m.drops then fail('OVERFLOW', m.n, root .. ' holds the version ' .. v .. ', at or past 2^53') end
        else
          nx = addint(v, '1')
        end
      end
      -- a created model counts from the clock; one the batch deletes and
      -- writes again, from the clock too unless its count is ahead
      if nx == nil or m.drops then
        now = now or clock()
        if nx == nil or cmpint(now, nx) > 0 then nx = now end
      end
      m.next = nx
      ask('HSET', root, m.n)
      if m.fresh then for _, k in ipairs(m.keys) do ask('DEL', k, m.n) end end
      if m.ttl == 'keep' then ask('PTTL', root, m.n) end
    end
    if m.ttl == 'set' then
      ask('PEXPIRE', root, m.n)
      for _, k in ipairs(m.keys) do ask('PEXPIRE', k, m.n) end
    elseif m.ttl == 'persist' then
      ask('PERSIST', root, m.n)
      for _, k in ipairs(m.keys) do ask('PERSIST', k, m.n) end
    end
  end
  -- the batch record: a lifetime SET PX takes, and leave to write it
  local rec = tonumber(AV[2])
  if rec > 0 then
    local ms = tonumber(AV[3])
    if ms == nil or ms < 1 or ms ~= math.floor(ms) then fail('ARG', 0, 'a batch record lives at least 1 ms, not ' .. AV[3]) end
    ask('SET', KS[rec], 0)
  end
end

local function apply(op, a)
  if op == 'hset' then
    local k = K(a[1])
    chunked('HSET', k, a, 2)
    touch(k)
    return false
  elseif op == 'incr' then
    W('HINCRBY', K(a[1]), a[2], a[3]); touch(K(a[1])); return a.result
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
    W('HSET', K(a[1]), a[2], a.result); touch(K(a[1])); return a.result
  elseif op == 'arith' or op == 'sappend' or op == 'srepeat' or op == 'tadd' then
    W('HSET', K(a[1]), a[2], a.result); touch(K(a[1])); return a.result

  -- lists
  elseif op == 'lpush' then
    local k = K(a[2])
    local rev = {}
    for j = #a, 3, -1 do rev[#rev + 1] = a[j] end
    pushall(k, 'LPUSH', rev, 1); touch(K(a[1]), k); return false
  elseif op == 'rpop' or op == 'lpop' then
    local k = K(a[2])
    local v
    if op == 'rpop' then v = W('RPOP', k) else v = W('LPOP', k) end
    shrink(K(a[1]), k)
    return v
  elseif op == 'popat' then
    if a.idx == nil then return false end
    local k, i, l = K(a[2]), a.idx, a.len
    local v
    if i == 0 then v = W('LPOP', k)
    elseif i == l - 1 then v = W('RPOP', k)
    else
      -- LREM finds the tombstone scanning from the nearer end (a negative
      -- count scans from the tail)
      v = redis.call('LINDEX', k, i)
      local tomb = '\0rapyer-tombstone\0' .. AV[1]
      W('LSET', k, i, tomb)
      W('LREM', k, (i <= l - 1 - i) and 1 or -1, tomb)
    end
    shrink(K(a[1]), k)
    return v
  elseif op == 'lset' then
    local k = K(a[2]); W('LSET', k, a.idx, a[4]); touch(K(a[1]), k); return false
  elseif op == 'linsert' then
    local k, i, l = K(a[2]), a.idx, a.len
    if i == 0 then W('LPUSH', k, a[4])
    elseif i == l then W('RPUSH', k, a[4])
    else splice(k, i, i, {a[4]}, l) end
    touch(K(a[1]), k)
    return false
  elseif op == 'ldelrange' then
    if a.e > a.s then splice(K(a[2]), a.s, a.e, {}, a.len); shrink(K(a[1]), K(a[2])) end
    return tostring(a.e - a.s)
  elseif op == 'ltrim' then
    local k = K(a[2])
    if a.e <= a.s then W('DEL', k) else W('LTRIM', k, a.s, a.e - 1) end
    shrink(K(a[1]), k)
    return false
  elseif op == 'lrem' then
    local k = K(a[2]); local r = W('LREM', k, tonumber(a[3]), a[4]); shrink(K(a[1]), k); return tostring(r)
  elseif op == 'lmove' then
    -- LMOVE, as a pop and a push: LMOVE came with Redis 6.2. The same
    -- element moves, to the same end, a list onto itself included.
    local src, dst = K(a[2]), K(a[4])
    local v
    if a[5] == 'LEFT' then v = W('LPOP', src) else v = W('RPOP', src) end
    if v then
      if a[6] == 'LEFT' then W('LPUSH', dst, v) else W('RPUSH', dst, v) end
      shrink(K(a[1]), src); touch(K(a[3]), dst)
    end
    return v
  elseif op == 'len' then
    local k = K(a[2])
    if a[3] == 'list' then return tostring(redis.call('LLEN', k)) end
    if a[3] == 'hash' then return tostring(redis.call('HLEN', k)) end
    return tostring(redis.call('SCARD', k))
  elseif op == 'clear' then
    local k = K(a[2]); W('DEL', k); existed[k] = nil; touch(K(a[1])); return false

  -- maps
  elseif op == 'mincr' then -- root key field kind by lo hi
    local k = K(a[2])
    if a[4] == 'int' then W('HINCRBY', k, a[3], a[5]) else W('HSET', k, a[3], a.result) end
    touch(K(a[1]), k)
    return a.result
  elseif op == 'ensure' then -- root ttlms field value ...
    if a.skip then return false end
    local root = K(a[1])
    local m = models[root]
    -- the version first (prewrite took it from the clock: the model is
    -- new), so that the hash exists for PEXPIRE whatever the fields; the
    -- lifetime only here, on creation
    W('HSET', root, VERSION, m.next)
    m.bumped = true
    chunked('HSET', root, a, 3)
    if a[2] ~= '0' then W('PEXPIRE', root, tonumber(a[2])) end
    touch(root)
    return false
  elseif op == 'mdel' then -- root key f...
    local k = K(a[2]); local r = chunked('HDEL', k, a, 3); shrink(K(a[1]), k); return tostring(r)
  elseif op == 'mpop' then -- root key field
    local k = K(a[2])
    local v = redis.call('HGET', k, a[3])
    if v then W('HDEL', k, a[3]); shrink(K(a[1]), k) end
    return v
  elseif op == 'mpopany' then -- root key
    local k = K(a[2])
    local cur = '0'
    repeat
      local r = redis.call('HSCAN', k, cur, 'COUNT', 16)
      cur = r[1]
      if #r[2] > 0 then
        local f, v = r[2][1], r[2][2]
        W('HDEL', k, f); shrink(K(a[1]), k)
        return {f, v}
      end
    until cur == '0'
    return false
  elseif op == 'mget' then -- root key field
    return redis.call('HGET', K(a[2]), a[3])

  -- sets
  elseif op == 'sadd' then -- root key member...
    local k = K(a[2])
    local r = chunked('SADD', k, a, 3)
    touch(K(a[1]), k)
    return tostring(r)
  elseif op == 'srem' then -- root key member...
    local k = K(a[2]); local r = chunked('SREM', k, a, 3); shrink(K(a[1]), k); return tostring(r)
  elseif op == 'pred' then
    return pred(a, 1, AT, true) and 1 or 0

  -- the model as a whole
  elseif op == 'reset' then
    local k = K(a[1])
    W('DEL', k)
    local m = models[k]
    -- the root has no TTL now; the batch's one version bump (prewrite
    -- validated the version it counts on from) is written here, saving
    -- the one at the end
    m.reset = true
    W('HSET', k, VERSION, m.next)
    m.bumped = true
    touch(k)
    return false
  elseif op == 'drop' then -- root colkey type ...
    local ks = {K(a[1])}
    for j = 2, #a, 2 do ks[#ks + 1] = K(a[j]) end
    for _, k in ipairs(ks) do existed[k] = nil end
    local r = delall(ks)
    local m = models[K(a[1])]
    m.deleted = true
    m.bumped = nil
    return tostring(r)
  elseif op == 'unlock' then
    if redis.call('GET', K(a[1])) == a[2] then
      W('DEL', K(a[1]))
      -- wake the waiters, if any wait (package lock's wait key, in the
      -- lock key's slot), unless this user may not publish there (prewrite
      -- asked): they poll then. pcall, for servers that cannot be asked.
      if not a.nopub and redis.call('EXISTS', K(a[1]) .. ':fence:wait') == 1 then
        redis.pcall('PUBLISH', a[3], K(a[1]))
      end
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

-- replay answers a resend of a batch of count instructions from its
-- record. A record that is no JSON array, an empty one, or one whose length
-- is not count (text written over it by hand: recorded never writes '[]',
-- '{}' or an object, and writes one entry per instruction, false for one
-- that yields nothing, so never [1] for a Save) is refused as corrupt
-- before anything is written: it was a Lua error, refused as if by the
-- server. A JSON object decodes to a table without r[1]; a null decodes to
-- cjson.null.
local function replay(prev, count)
  if prev == '1' then return {'DUP'} end
  if prev == '0' then return {'DUPX'} end
  local ok, r = pcall(cjson.decode, prev)
  if not ok or type(r) ~= 'table' or r[1] == nil or #r ~= count then
    fail('CORRUPT', 0, 'the batch record holds ' .. string.sub(prev, 1, 64) .. ', not a record')
  end
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
    -- 'F': a batch that failed and could not delete its record (a
    -- compiled shape writes its record before its writes: package
    -- internal/shape)
    if prev and prev ~= 'F' then return replay(prev, count) end
  end
  for n = 1, count do
    check(ops[n], args[n], n)
  end
  -- prewrite first: IX.check asks which models live after the batch
  -- (IX.lives), which ops write them
  prewrite(ops, args, count)
  IX.check(ops, args, count)
  for _, m in pairs(models) do
    if m.fresh and m.w then
      for _, k in ipairs(m.keys) do existed[k] = nil end
      delall(m.keys)
    end
  end
  IX.before()
  local out = {'OK'}
  for n = 1, count do
    AT = n
    out[n + 1] = apply(ops[n], args[n])
  end
  for root, m in pairs(models) do
    AT = m.n
    if m.written and not m.deleted and not m.bumped then
      -- m.next is set for every model an op of sends() marks; the
      -- increment is for an op it does not know
      if m.next then W('HSET', root, VERSION, m.next) else W('HINCRBY', root, VERSION, 1) end
    end
    if not m.deleted then
      if m.ttl == 'set' then
        local ms = tonumber(m.ttlms)
        W('PEXPIRE', root, ms)
        for _, k in ipairs(m.keys) do W('PEXPIRE', k, ms) end
        for k, r in pairs(written) do if r == root then W('PEXPIRE', k, ms) end end
      elseif m.ttl == 'persist' then
        W('PERSIST', root)
        for _, k in ipairs(m.keys) do W('PERSIST', k) end
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
          -- 0 is a TTL under a millisecond (-1: none): the new keys
          -- must not outlive a root that expires next
          local ms = redis.call('PTTL', root)
          if ms >= 0 then
            ms = math.max(ms, 1)
            for _, k in ipairs(mine) do
              if redis.call('PTTL', k) == -1 then W('PEXPIRE', k, ms) end
            end
          end
        end
      end
    end
  end
  IX.after()
  -- a missing model's leftovers deleted: reported as a skip, with no
  -- record (a resend finds the model missing again and deletes nothing)
  if ORPHAN then return {'SKIP'} end
  if rec then
    redis.call('SET', rec, recorded(out), 'PX', recms)
  end
  return out
end

-- refusal is the code of a failure of the server met before the first
-- write, from its error text.
local function refusal(msg)
  -- gopher-lua (miniredis) puts where the error was raised first
  local m = string.gsub(msg, '^[^%s]*:%d+: ', '')
  if string.find(m, '^NOPERM') or string.find(m, "^ERR The user executing the script can't") then return 'NOPERM' end
  if string.find(m, '^WRONGTYPE') then return 'WRONGTYPE' end
  if unknown(m) then return 'UNSUP' end
  return 'REFUSED'
end

-- answer is the reply of an entry point from what pcall returned: the
-- reply itself, or the error made into {'ERR', ...}.
local function answer(ok, res)
  if ok then return res end
  local code, n, msg
  if type(res) == 'table' and res.code ~= nil then
    if res.code == 'SKIP' then return {'SKIP'} end
    code, n, msg = res.code, tostring(res.n), res.msg
    -- a guard: {'ERR', 'PRECOND', n, message, field[, seen]}
    if res.guard ~= nil then return {'ERR', code, n, msg, res.guard[1], res.guard[2]} end
  else
    -- an error of the server (a table with err, or its text), or of Lua
    if type(res) == 'table' then res = res.err end
    msg = tostring(res)
    code, n = refusal(msg), tostring(AT)
  end
  if WROTE then
    -- the checks did not foresee it: say so, and which op
    return {'ERR', 'PARTIAL', tostring(AT), code .. ': ' .. msg}
  end
  return {'ERR', code, n, msg}
end


-- save: the lean form of whole-model writes ---------------------------------
-- save runs the programs of batches that only replace whole models: per
-- model, in the order of the declarations, ops.Replace's instructions
-- (reset, hset of the fields, clear of every collection, the fills), and
-- perhaps ops.Expire's TTL in the declaration. prog lays them out as for
-- batch (prog.Program.Lean says which programs save may run) and save reads
-- them where they lie: no table per instruction, no dispatch, no per-call
-- state to wipe, the version and the fields in one HSET. It keeps batch's
-- promises: the record, the key types, the versions and the ACL checked
-- before the first write, every write through W, the same stored layout,
-- the same replies, the same record.

-- sask is ask without the per-call cache: save asks each command and key
-- once.
local function sask(cmd, k, n)
  if ACL == nil then return end
  local ok, yes = pcall(ACL, cmd, k)
  if not ok then fail('UNSUP', n, 'the server has no command ' .. cmd) end
  if not yes then fail('NOPERM', n, 'this user may not send ' .. cmd .. ' with the key ' .. k) end
end

-- nextversion is the count after v, a count in canonical text, added on
-- the text: tonumber and string.format (strtod and printf of a 16-digit
-- clock version) cost the server more than the rest of the check.
local function nextversion(v)
  local p = #v
  while p > 0 and string.byte(v, p) == 57 do p = p - 1 end -- '9'
  local zeros = string.rep('0', #v - p)
  if p == 0 then return '1' .. zeros end
  return string.sub(v, 1, p - 1) .. string.char(string.byte(v, p) + 1) .. zeros
end

-- saveversion checks the model at root against its mode, with one HGET of
-- its version that also checks root's type, and returns its next version.
local function saveversion(root, mode, n)
  local v = redis.pcall('HGET', root, VERSION)
  if failed(v) then
    local t = redis.call('TYPE', root)
    if type(t) == 'table' then t = t.ok end
    if t ~= 'hash' then fail('WRONGTYPE', n, root .. ' holds a ' .. t .. ', not a hash') end
    error(v.err)
  end
  if mode == 'fresh' then
    if v then fail('EXISTS', n, root .. ' exists already') end
  elseif mode ~= 'create' and not v then
    if mode == 'skip' then error({code = 'SKIP'}) end
    fail('NOTFOUND', n, root .. ' does not exist')
  end
  if not v then return clock() end
  -- isint's test, without a sign, and tonumber(v) >= MAXEXACT as text:
  -- digit texts of one length order as numbers
  if #v > 20 or not (v == '0' or string.find(v, '^[1-9]%d*$')) then fail('CORRUPT', n, root .. ' holds the version "' .. v .. '", not a count') end
  if #v > 16 or (#v == 16 and v >= '9007199254740992') then fail('OVERFLOW', n, root .. ' holds the version ' .. v .. ', at or past 2^53') end
  return nextversion(v)
end

-- savekeys lists the keys of the model declared at AV[d]: its root and
-- every collection key.
local function savekeys(d)
  local ks = {}
  for j = d + 2, d + 1 + tonumber(AV[d + 1]) do
    if j ~= d + 3 and j ~= d + 4 and j ~= d + 5 then ks[#ks + 1] = KS[tonumber(AV[j])] end
  end
  return ks
end

-- savecheck is save's check phase. It checks every model (mode, type,
-- version) and every collection key (its type), and asks the ACL for every
-- command and key the write phase sends but the first (the first model's
-- DEL: a refusal of it comes before any write). It returns, by the root's
-- index, the declaration's place in AV and the next version, and the
-- number of declarations.
local function savecheck()
  local at, nx, i, n = {}, {}, 6, 0
  while AV[i] == 'model' or i == 6 do
    n = n + 1
    local root = KS[tonumber(AV[i + 2])]
    at[AV[i + 2]], nx[AV[i + 2]] = i, saveversion(root, AV[i + 3], n)
    sask('HSET', root, n)
    if AV[i + 4] == 'set' then sask('PEXPIRE', root, n) end
    i = i + 2 + tonumber(AV[i + 1])
  end
  local nd, last = n, #AV
  while i <= last do
    n = n + 1
    local op, d = AV[i], at[AV[i + 2]]
    -- a program cut short would make the write phase send nil
    if d == nil or i + 1 + tonumber(AV[i + 1]) > last then fail('ARG', n, 'save: instruction ' .. tostring(op) .. ' is cut short or of no declared model') end
    if op == 'clear' then
      local k, want = KS[tonumber(AV[i + 3])], AV[i + 4]
      local t = redis.call('TYPE', k)
      if type(t) == 'table' then t = t.ok end
      if t ~= 'none' and t ~= want then fail('WRONGTYPE', n, k .. ' holds a ' .. t .. ', not a ' .. want) end
    elseif op == 'rpush' or op == 'mset' or op == 'sadd' then
      local k = KS[tonumber(AV[i + 3])]
      if op == 'rpush' then sask('RPUSH', k, n) elseif op == 'mset' then sask('HSET', k, n) else sask('SADD', k, n) end
      if AV[d + 4] == 'set' then sask('PEXPIRE', k, n) end
    elseif op == 'reset' then
      if n > nd + 1 then
        for _, k in ipairs(savekeys(d)) do sask('DEL', k, n) end
      end
    elseif op ~= 'hset' then
      fail('ARG', n, 'save runs no instruction ' .. tostring(op))
    end
    i = i + 2 + tonumber(AV[i + 1])
  end
  return at, nx, nd
end

-- avsend sends cmd k [f v] AV[from..to], 1000 arguments of AV at a time
-- (the Lua stack of the server is limited). Every write goes through W.
local function avsend(cmd, k, from, to, f, v)
  if f ~= nil then
    if to - from < 998 then return W(cmd, k, f, v, unpack(AV, from, to)) end
    W(cmd, k, f, v)
  end
  for s = from, to, 1000 do W(cmd, k, unpack(AV, s, math.min(s + 999, to))) end
end

-- savereset writes the model declared at AV[d] anew from the reset at
-- AV[i]: deletes its keys, and writes its version with the fields of the
-- hset that follows. It returns the place in AV after what it wrote.
local function savereset(d, i, nx)
  local root = KS[tonumber(AV[i + 2])]
  if AV[d + 1] == '4' then W('DEL', root) else W('DEL', unpack(savekeys(d))) end
  i = i + 3
  if AV[i] == 'hset' and AV[i + 2] == AV[d + 2] then
    local c = tonumber(AV[i + 1])
    avsend('HSET', root, i + 3, i + 1 + c, VERSION, nx)
    return i + 2 + c, true
  end
  W('HSET', root, VERSION, nx)
  return i, false
end

-- savewrite is save's write phase: the instructions in order, then the
-- TTLs. Clears are done by the reset's DEL.
local function savewrite(at, nx, nd)
  local i, n, last, ttl = 6, nd, #AV, {}
  for _ = 1, nd do i = i + 2 + tonumber(AV[i + 1]) end
  while i <= last do
    n = n + 1
    AT = n
    local op, r = AV[i], AV[i + 2]
    if op == 'reset' then
      local merged
      i, merged = savereset(at[r], i, nx[r])
      if merged then n = n + 1 end
      if AV[at[r] + 4] == 'set' then ttl[#ttl + 1], ttl[#ttl + 2] = KS[tonumber(r)], AV[at[r] + 5] end
    else
      local c, k = tonumber(AV[i + 1]), KS[tonumber(AV[i + 3])]
      if op == 'hset' then
        avsend('HSET', KS[tonumber(r)], i + 3, i + 1 + c)
      elseif op == 'rpush' then
        avsend('RPUSH', k, i + 4, i + 1 + c)
      elseif op == 'mset' then
        avsend('HSET', k, i + 4, i + 1 + c)
      elseif op == 'sadd' then
        avsend('SADD', k, i + 4, i + 1 + c)
      end
      if op ~= 'clear' and op ~= 'hset' and AV[at[r] + 4] == 'set' then ttl[#ttl + 1], ttl[#ttl + 2] = k, AV[at[r] + 5] end
      i = i + 2 + c
    end
  end
  return ttl
end

-- saveone is savecheck and savewrite for the program of one model with no
-- collections (Model.Save, Create, Insert of such a model): its
-- declaration at AV[6], the reset, and one hset of the version's fields
-- to the end of AV. The same checks, asks and writes, straight through
-- with the numbers read once (tonumber is strtod, the tables cost the
-- collector). It returns false, having done nothing, for any other program.
local function saveone()
  local last, r = #AV, AV[8]
  if AV[7] ~= '4' or AV[12] ~= 'reset' or AV[13] ~= '1' or AV[14] ~= r or AV[15] ~= 'hset' or AV[17] ~= r then return false end
  local c = tonumber(AV[16])
  if c == nil or 16 + c ~= last or c > 997 then return false end
  local root, ttl = KS[tonumber(r)], AV[10]
  local nx = saveversion(root, AV[9], 1)
  sask('HSET', root, 1)
  if ttl == 'set' then sask('PEXPIRE', root, 1) end
  AT = 2
  W('DEL', root)
  W('HSET', root, VERSION, nx, unpack(AV, 18, last))
  if ttl == 'set' then W('PEXPIRE', root, AV[11]) end
  return true
end

-- SREC is the record key a save wrote before its checks, to take back
-- should the save fail, and SRECMS its lifetime.
local SREC, SRECMS

-- saverun runs a program of save: the record, the checks, the writes, the
-- TTLs (ttl holds keys and their TTLs in ms, in turn).
--
-- The record is written first, with NX, in the one call that also looks it
-- up: no instruction of a save yields, so its record is the batch's id
-- ('1' before session 18; '1' still for a batch without an id), and a save
-- that finds its id or '1' is a resend of an applied batch (a batch id is
-- fresh for every batch, and only a resend of it sends it again). A record
-- key that holds another batch's id is one of package tx's pool, which a
-- Save settled on its first send used before: no answer. A save
-- that fails after it takes its record back (save), so that a failed save
-- leaves no record, as before: the record key is bookkeeping of the call,
-- not a write of a model, and nobody can see it in between (the call is
-- atomic). One call instead of three (GET, ACL ask, SET).
local function saverun()
  local rec, recms = record()
  if rec then
    local mark = AV[1] ~= '' and AV[1] or '1'
    if not redis.call('SET', rec, mark, 'PX', recms, 'NX') then
      local prev = redis.call('GET', rec)
      -- '1' or the batch's id: this batch, applied; 'F': a save that
      -- failed and could not delete its record; another id: a record key
      -- of package tx's pool, which another Save used before
      if prev == '1' or prev == AV[1] then return {'DUP'} end
      redis.call('SET', rec, mark, 'PX', recms)
    end
    SREC, SRECMS = rec, recms
  end
  if saveone() then return {'OK'} end
  local at, nx, nd = savecheck()
  local ttl = savewrite(at, nx, nd)
  for j = 1, #ttl, 2 do W('PEXPIRE', ttl[j], ttl[j + 1]) end
  return {'OK'}
end

-- save is the entry point of the lean form: it runs one program of
-- whole-model writes.
local function save(keys, args)
  KS, AV = keys, args
  ACL = redis.acl_check_cmd
  WROTE, AT, SREC = false, 0, nil
  local ok, res = pcall(saverun)
  -- a user who may not DEL the record leaves it saying 'F' (failed)
  if not ok and SREC and failed(redis.pcall('DEL', SREC)) then redis.pcall('SET', SREC, 'F', 'PX', SRECMS) end
  return answer(ok, res)
end

-- batch is the entry point: it runs one program, on the lean form when its
-- first declaration says so (prog.Program.Lean).
local function batch(keys, args)
  if args[6] == 'save' then return save(keys, args) end
  KS, AV = keys, args
  BYTES, MOVES = tonumber(args[4]) or 0, tonumber(args[5]) or 0
  wipe(types); wipe(cleared); wipe(fields); wipe(stored); wipe(lens)
  wipe(existed); wipe(gone); wipe(models); wipe(written); wipe(KI)
  ACL = redis.acl_check_cmd
  if ACL ~= nil then for _, t in pairs(asked) do wipe(t) end end
  WROTE, AT, ORPHAN, LIVE = false, 0, false, false
  spent[1], spent[2] = 0, 0
  return answer(pcall(run, parse()))
end
