-- One pass of the liveness watcher: robots whose heartbeat deadline passed go offline
-- (one `offline` change each), leases whose expiry passed get an `expire` change. Safe to
-- run from many watchers at once: whoever runs first does the work, the others find
-- nothing left.
-- ARGV: max items per pass. Returns {now ms, next deadline ms or -1, robots marked offline}.
local limit = tonumber(ARGV[A + 1])
local dl = P .. ':deadlines'
local marked = 0
for _, robot in ipairs(redis.call('ZRANGEBYSCORE', dl, '-inf', '(' .. NOW_MS, 'LIMIT', 0, limit)) do
  if redis.call('EXISTS', P .. ':alive:' .. robot) == 0 then
    redis.call('ZREM', dl, robot)
    local rk = key('robot', robot)
    if redis.call('EXISTS', rk) == 1 and dec(redis.call('HGET', rk, 'status')) ~= 'offline' then
      redis.call('HSET', rk, 'status', '"offline"')
      emit('robot', robot, 'offline', '{"status":"offline"}', bump(rk), nil)
      marked = marked + 1
    end
  end
end
local ld = P .. ':lease-deadlines'
for _, m in ipairs(redis.call('ZRANGEBYSCORE', ld, '-inf', '(' .. NOW_MS, 'LIMIT', 0, limit)) do
  local l = cjson.decode(m)
  local cur = redis.call('GET', P .. ':lease:' .. l[1])
  cur = cur and cjson.decode(cur)
  if not cur or cur.t ~= l[3] then
    redis.call('ZREM', ld, m)
    emit('lease', l[1], 'expire', cjson.encode({holder = l[2], token = l[3]}), l[3], nil)
  end
end
local nxt = -1
for _, z in ipairs({dl, ld}) do
  local first = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
  if first[2] then
    local s = tonumber(first[2])
    if nxt < 0 or s < nxt then
      nxt = s
    end
  end
end
return {NOW_MS, nxt, marked}
