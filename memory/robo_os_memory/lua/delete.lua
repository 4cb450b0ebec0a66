-- Delete one record. Refused (nothing changes) while other records point at it: a robot
-- holding something, a place or object something rests on. A held object is let go by
-- its holder in the same step.
-- ARGV: kind, name. Returns the delete change's stream id.
local kind, name = ARGV[A + 1], ARGV[A + 2]
local k = key(kind, name)
if redis.call('EXISTS', k) == 0 then
  fail('not_found', {kind = kind, name = name})
end
local ck = P .. ':contents:' .. name
if redis.call('SCARD', ck) > 0 then
  fail('conflict', {message = kind .. ' ' .. name .. ' still carries ' ..
    table.concat(redis.call('SMEMBERS', ck), ', ') .. '; move those first'})
end
local holding = nil
if kind == 'robot' then
  holding = dec(redis.call('HGET', k, 'holding'))
  if holding ~= nil then
    fail('conflict', {message = 'robot ' .. name .. ' holds ' .. holding .. '; place or transfer it first'})
  end
end

-- checks done; writes from here on
local version = tonumber(redis.call('HGET', k, 'version') or '0') + 1
if kind == 'object' then
  local held = dec(redis.call('HGET', k, 'held_by'))
  if held ~= nil then
    local rk = key('robot', held)
    if dec(redis.call('HGET', rk, 'holding')) == name then
      redis.call('HSET', rk, 'holding', 'null')
      emit('robot', held, 'update', '{"holding":null}', bump(rk), nil)
    end
  end
  move_contents(name, dec(redis.call('HGET', k, 'on')), nil)
elseif kind == 'robot' then
  redis.call('DEL', P .. ':alive:' .. name, P .. ':skills:' .. name)
  redis.call('ZREM', P .. ':deadlines', name)
end
redis.call('DEL', k)
redis.call('SREM', P .. ':' .. kind .. 's', name)
redis.call('ZREM', P .. ':geo:' .. kind, name)
return emit(kind, name, 'delete', '{}', version, nil)
