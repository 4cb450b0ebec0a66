-- A robot's heartbeat: refresh its own TTL key and deadline (nobody else's), and bring it
-- back online if it had been marked offline. A heartbeat is liveness metadata, not a
-- change of the record: it does not bump the version or write history unless the status
-- changes.
-- ARGV: robot, ttl ms. Returns the robot's status after the heartbeat.
local robot, ttl = ARGV[A + 1], tonumber(ARGV[A + 2])
local rk = key('robot', robot)
if redis.call('EXISTS', rk) == 0 then
  fail('not_found', {kind = 'robot', name = robot})
end
touch_alive(robot, ttl)
local status = dec(redis.call('HGET', rk, 'status'))
if status == 'offline' then
  redis.call('HSET', rk, 'status', '"idle"')
  emit('robot', robot, 'online', '{"status":"idle"}', bump(rk), nil)
  return 'idle'
end
return status
