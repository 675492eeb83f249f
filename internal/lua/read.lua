-- rapyer-go model read: the root hash and every collection of one model, in
-- one atomic step. keys: the root, then the collection keys; args: the
-- Redis type of each collection key ('list', 'hash' or 'set').
local function read(keys, args)
  local out = {redis.call('HGETALL', keys[1])}
  for i = 2, #keys do
    local t = args[i - 1]
    if t == 'list' then out[i] = redis.call('LRANGE', keys[i], 0, -1)
    elseif t == 'hash' then out[i] = redis.call('HGETALL', keys[i])
    else out[i] = redis.call('SMEMBERS', keys[i]) end
  end
  return out
end
