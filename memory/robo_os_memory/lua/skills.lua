-- Publish a robot's skill specs and its skill names on its record, together.
-- ARGV: robot, specs (JSON object), names (JSON array). Returns the new version.
local robot, specs, names = ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
local rk = key('robot', robot)
if redis.call('EXISTS', rk) == 0 then
  fail('not_found', {kind = 'robot', name = robot})
end
redis.call('SET', P .. ':skills:' .. robot, specs)
redis.call('HSET', rk, 'skills', names)
local v = bump(rk)
emit('robot', robot, 'update', '{"skills":' .. names .. '}', v, nil)
return v
