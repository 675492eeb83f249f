-- rapyer-go model read: the root hash and every collection of one model, in
-- one atomic step. KEYS: the root, then the collection keys; ARGV: the
-- Redis type of each collection key ('list', 'hash' or 'set').
local out = {redis.call('HGETALL', KEYS[1])}
for i = 2, #KEYS do
  local t = ARGV[i - 1]
  if t == 'list' then out[i] = redis.call('LRANGE', KEYS[i], 0, -1)
  elseif t == 'hash' then out[i] = redis.call('HGETALL', KEYS[i])
  else out[i] = redis.call('SMEMBERS', KEYS[i]) end
end
return out
