-- Corrections from one observation, in one step: objects moved to where a robot saw them
-- (or marked unknown), the robot's pose/place as it sensed them. Every record written is
-- marked source "observed" with the observation's time.
-- ARGV: robot ('' none), robot fields JSON ({pose?, place?, slot?} or ''), observed_at (unix s),
--       object corrections JSON [{n, v (expected version, -1 any), on, h, pose, unknown}].
-- A correction whose object changed since it was read (version), or that names a holder
-- or support that does not exist, is skipped, not applied: a newer writer wins.
-- An object leased by another holder (a skill mid-motion) is skipped as "leased".
-- Returns {robot version or -1, {name, "applied" | "stale" | "missing" | "invalid" |
-- "leased"}...}.
local robot, robot_json, at = ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
local corrections = cjson.decode(ARGV[A + 4])
-- kept as the client wrote it (JSON number text): cjson would round it to 14 digits
if tonumber(at) == nil then
  fail('invalid', {message = 'observed_at must be a number, not ' .. at})
end
local AT = at

local function nn(v)
  if v == cjson.null then
    return nil
  end
  return v
end

local function let_go(r, obj)
  local rk = key('robot', r)
  if dec(redis.call('HGET', rk, 'holding')) == obj then
    redis.call('HSET', rk, 'holding', 'null', 'source', '"observed"', 'observed_at', AT)
    emit('robot', r, 'update', '{"holding":null,"source":"observed"}', bump(rk), nil)
  end
end

-- an object whose holder turned out to hold something else: held by nobody, place unknown
local function loosen(obj)
  local ok = key('object', obj)
  if redis.call('EXISTS', ok) == 0 then
    return
  end
  redis.call('HSET', ok, 'held_by', 'null', 'on', 'null', 'source', '"observed"',
    'observed_at', AT, 'unknown_since', AT)
  local v = bump(ok)
  reindex('object', obj, ok)
  emit('object', obj, 'update', '{"held_by":null,"on":null,"source":"observed","unknown_since":' .. AT .. '}',
    v, state_of('object', ok))
end

local function apply(c)
  local name = c.n
  local ok = key('object', name)
  if redis.call('EXISTS', ok) == 0 then
    return 'missing'
  end
  local version = tonumber(redis.call('HGET', ok, 'version') or '0')
  if c.v >= 0 and version ~= c.v then
    return 'stale'
  end
  -- a skill of another robot holds it (mid-motion): its own write will say where it is
  local lease = redis.call('GET', P .. ':lease:' .. name)
  if lease and cjson.decode(lease).h ~= robot then
    return 'leased'
  end
  local to_h, to_on, pose = nn(c.h), nn(c.on), nn(c.pose)
  if to_h ~= nil and (to_on ~= nil or redis.call('EXISTS', key('robot', to_h)) == 0) then
    return 'invalid'
  end
  if to_on ~= nil and (to_on == name or not exists_any(to_on)) then
    return 'invalid'
  end
  local held = dec(redis.call('HGET', ok, 'held_by'))
  local on = dec(redis.call('HGET', ok, 'on'))
  if held ~= nil and held ~= to_h then
    let_go(held, name)
  end
  if to_h ~= nil and to_h ~= held then
    local rk = key('robot', to_h)
    local prev = dec(redis.call('HGET', rk, 'holding'))
    if prev ~= nil and prev ~= name then
      loosen(prev)
    end
    redis.call('HSET', rk, 'holding', js(name), 'source', '"observed"', 'observed_at', AT)
    emit('robot', to_h, 'update', '{"holding":' .. js(name) .. ',"source":"observed"}', bump(rk), nil)
  end
  local unknown = 'null'
  if nn(c.unknown) then
    unknown = redis.call('HGET', ok, 'unknown_since')
    if unknown == false or unknown == 'null' then
      unknown = AT
    end
  end
  redis.call('HSET', ok, 'held_by', js(to_h), 'on', js(to_on), 'source', '"observed"',
    'observed_at', AT, 'unknown_since', unknown)
  local fields = '{"held_by":' .. js(to_h) .. ',"on":' .. js(to_on) ..
    ',"source":"observed","observed_at":' .. AT .. ',"unknown_since":' .. unknown
  if pose ~= nil then
    local pj = cjson.encode(pose)
    redis.call('HSET', ok, 'pose', pj)
    fields = fields .. ',"pose":' .. pj
  end
  local v = bump(ok)
  move_contents(name, on, to_on)
  reindex('object', name, ok)
  emit('object', name, 'update', fields .. '}', v, state_of('object', ok))
  return 'applied'
end

local out = {}
for _, c in ipairs(corrections) do
  out[#out + 1] = {c.n, apply(c)}
end

local rv = -1
if robot ~= '' and redis.call('EXISTS', key('robot', robot)) == 1 then
  local rk = key('robot', robot)
  local parts = {'"source":"observed"', '"observed_at":' .. AT}
  redis.call('HSET', rk, 'source', '"observed"', 'observed_at', AT)
  if robot_json ~= '' then
    local f = cjson.decode(robot_json)
    if f.pose ~= nil and f.pose ~= cjson.null then
      local pj = cjson.encode(f.pose)
      redis.call('HSET', rk, 'pose', pj)
      parts[#parts + 1] = '"pose":' .. pj
    end
    if f.place ~= nil then
      redis.call('HSET', rk, 'place', js(nn(f.place)))
      parts[#parts + 1] = '"place":' .. js(nn(f.place))
    end
    if f.slot ~= nil then
      redis.call('HSET', rk, 'slot', js(nn(f.slot)))
      parts[#parts + 1] = '"slot":' .. js(nn(f.slot))
    end
  end
  rv = bump(rk)
  reindex('robot', robot, rk)
  emit('robot', robot, 'update', '{' .. table.concat(parts, ',') .. '}', rv, nil)
end
return {rv, out}
