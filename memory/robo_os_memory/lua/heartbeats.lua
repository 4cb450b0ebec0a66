-- Many robots' heartbeats in one call (an agent host beats for all its robots): for each,
-- what heartbeat.lua does, written by that robot. A robot with no record is skipped.
-- ARGV: ttl ms, then the robots. Returns each robot's status after its heartbeat (false:
-- no such robot).
local ttl = tonumber(ARGV[A + 1])
local out = {}
for i = A + 2, #ARGV do
  local robot = ARGV[i]
  local rk = key('robot', robot)
  if redis.call('EXISTS', rk) == 0 then
    out[#out + 1] = false
  else
    BY = robot
    BY_JSON = cjson.encode(robot)
    touch_alive(robot, ttl)
    local status = dec(redis.call('HGET', rk, 'status'))
    if status == 'offline' then
      redis.call('HSET', rk, 'status', '"idle"')
      emit('robot', robot, 'online', '{"status":"idle"}', bump(rk), nil)
      status = 'idle'
    end
    out[#out + 1] = status
  end
end
return out
