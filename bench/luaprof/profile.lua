-- Profiles the batch interpreter's own Lua, outside Redis.
--
--   lua5.1 bench/luaprof/profile.lua [internal/lua/batch.lua]
--
-- It loads the interpreter with redis.call and cjson stubbed (each call
-- answers a fixed reply), runs the program of scenario 1 of the benchmarks
-- (Append + Incr + SetItem on one model, with its batch record) and an
-- empty one many times, prints the time per call, then samples which lines
-- the interpreter spends its instructions on (a count hook every 100 VM
-- instructions). Inside Redis every figure is larger (each redis.call is a
-- whole command), but where the Lua goes is the same. Needs Debian's
-- lua5.1; not part of make test.

local path = arg[1] or 'internal/lua/batch.lua'
local f = assert(io.open(path))
local src = f:read('*a')
f:close()

local calls = 0
local replies = {
  GET = false, HEXISTS = 1, LLEN = 5, HGET = '100', TYPE = {ok = 'hash'},
  RPUSH = 6, HINCRBY = 101, HSET = 1, SET = {ok = 'OK'}, PTTL = -1,
}
redis = {}
function redis.call(cmd) calls = calls + 1; return replies[cmd] end
redis.pcall = redis.call
cjson = {encode = function() return '[]' end, decode = function() return {} end}

local batch = assert(loadstring(src .. '\nreturn batch\n', '=batch.lua'))()

local keys = {'acct', 'acct:l', 'acct:m', 'acct:tx:1'}
local program = {'id', '4', '60000',
  'model', '4', '1', 'need', 'keep', '0',
  'rpush', '3', '1', '2', 'x',
  'incr', '5', '1', 'n', '1', '-9223372036854775808', '9223372036854775807',
  'mset', '4', '1', '3', 'k', 'v'}
local empty = {'id', '0', '60000'}

local n = 100000
local t0 = os.clock()
for _ = 1, n do batch(keys, program) end
local t1 = os.clock()
local percall = calls / n
for _ = 1, n do batch(keys, empty) end
local t2 = os.clock()
print(string.format('scenario 1: %.2f us per call (%.1f redis.calls), empty program: %.2f us',
  (t1 - t0) / n * 1e6, percall, (t2 - t1) / n * 1e6))

local hits, total = {}, 0
debug.sethook(function()
  local info = debug.getinfo(2, 'Sl')
  if info and info.source == '=batch.lua' then
    hits[info.currentline] = (hits[info.currentline] or 0) + 1
    total = total + 1
  end
end, '', 100)
for _ = 1, n do batch(keys, program) end
debug.sethook()

local lines = {}
for line in (src .. '\n'):gmatch('([^\n]*)\n') do lines[#lines + 1] = line end
local rows = {}
for line, c in pairs(hits) do rows[#rows + 1] = {line, c} end
table.sort(rows, function(a, b) return a[2] > b[2] end)
print('share of sampled instructions by line of ' .. path .. ':')
for i = 1, math.min(20, #rows) do
  local line, c = rows[i][1], rows[i][2]
  print(string.format('%5.1f%% %4d  %s', 100 * c / total, line, (lines[line] or ''):gsub('^%s+', ''):sub(1, 90)))
end
