-- pick / place / transfer: move an object between holders and places in one step.
-- ARGV: mode, robot ('' none), object, to_on ('' none), to_holder ('' none),
--       pose (JSON, '' keep), guard resource, guard token.
-- Returns {stream id of the object's change, the object as JSON}.
local mode, robot, obj = ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
local to_on, to_holder, pose = ARGV[A + 4], ARGV[A + 5], ARGV[A + 6]
if to_on == '' then to_on = nil end
if to_holder == '' then to_holder = nil end

local ok = key('object', obj)
if redis.call('EXISTS', ok) == 0 then
  fail('not_found', {kind = 'object', name = obj})
end
local held = dec(redis.call('HGET', ok, 'held_by'))
local on = dec(redis.call('HGET', ok, 'on'))

local function holding_of(r)
  local rk = key('robot', r)
  if redis.call('EXISTS', rk) == 0 then
    fail('not_found', {kind = 'robot', name = r})
  end
  return dec(redis.call('HGET', rk, 'holding'))
end

local function check_target(target)
  if target == obj then
    fail('invalid', {message = 'object ' .. obj .. ' cannot rest on itself'})
  end
  if not exists_any(target) then
    fail('not_found', {kind = 'place', name = target})
  end
end

if mode == 'pick' then
  local h = holding_of(robot)
  if h ~= nil then
    fail('conflict', {message = robot .. ' already holds ' .. h, holder = robot})
  end
  if held ~= nil then
    fail('conflict', {message = obj .. ' is held by ' .. held, holder = held})
  end
  to_holder, to_on = robot, nil
elseif mode == 'place' then
  local h = holding_of(robot)
  if h ~= obj or held ~= robot then
    fail('conflict', {message = robot .. ' does not hold ' .. obj .. ' (holds ' .. (h or 'nothing') .. ')',
      holder = held})
  end
  check_target(to_on)
  to_holder = nil
else
  if to_holder ~= nil then
    local h = holding_of(to_holder)
    if h ~= nil and h ~= obj then
      fail('conflict', {message = to_holder .. ' already holds ' .. h, holder = to_holder})
    end
  end
  if to_on ~= nil then
    check_target(to_on)
  end
end
check_guard(ARGV[A + 7], ARGV[A + 8])

-- checks done; writes from here on
local changes = {}
if held ~= nil and held ~= to_holder then
  local rk = key('robot', held)
  if dec(redis.call('HGET', rk, 'holding')) == obj then
    redis.call('HSET', rk, 'holding', 'null')
    changes[#changes + 1] = {held, bump(rk), 'null'}
  end
end
if to_holder ~= nil and to_holder ~= held then
  local rk = key('robot', to_holder)
  redis.call('HSET', rk, 'holding', js(obj))
  changes[#changes + 1] = {to_holder, bump(rk), js(obj)}
end

redis.call('HSET', ok, 'held_by', js(to_holder), 'on', js(to_on))
-- a move is what a skill expects to have happened: no longer an observation, no longer lost
redis.call('HSET', ok, 'source', '"believed"', 'unknown_since', 'null')
local fields = '{"held_by":' .. js(to_holder) .. ',"on":' .. js(to_on)
if pose ~= '' then
  redis.call('HSET', ok, 'pose', pose)
  fields = fields .. ',"pose":' .. pose
end
fields = fields .. '}'
local version = bump(ok)
move_contents(obj, on, to_on)
reindex('object', obj, ok)
local id = emit('object', obj, 'update', fields, version, state_of('object', ok))
for _, c in ipairs(changes) do
  emit('robot', c[1], 'update', '{"holding":' .. c[3] .. '}', c[2], nil)
end
return {id, record_json('object', ok)}
