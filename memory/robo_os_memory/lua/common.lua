-- Prepended to every robo-os memory script (see scripts.py).
-- ARGV[1] is the client's fixed setting, "<key prefix> <MAXLEN of the global change
-- stream> <MAXLEN of a per-entity history stream> <history max age in ms, 0: none>"
-- (one argument: fewer to pack on every call), ARGV[2] the writer (updated_by).
-- Script arguments start at ARGV[A + 1].
--
-- Keys are built here from the prefix with the patterns of keys.py: a move has to reach
-- records it only learns about while running (the object's old place, its old holder).
-- That is fine on one Redis (or a primary with replicas) but not on Redis Cluster.
--
-- Scripts check everything before their first write: Redis does not roll a script back,
-- so an error raised after a write would leave half a change behind.
local P, GMAX, EMAX, AGE_MS = string.match(ARGV[1], '^(%S+) (%d+) (%d+) (%d+)$')
AGE_MS = tonumber(AGE_MS)
local BY = ARGV[2]
local A = 2

local _t = redis.call('TIME')
local NOW_MS = tonumber(_t[1]) * 1000 + math.floor(tonumber(_t[2]) / 1000)
local NOW = string.format('%d.%06d', tonumber(_t[1]), tonumber(_t[2]))
local BY_JSON = cjson.encode(BY)

-- Local metric projection onto Redis GEO (same constants as spatial.py): one metre of
-- world becomes GEO_SCALE metres on the equator, for ~6 mm geohash resolution.
local DEG_PER_M = 100.0 / (6372797.560856 * math.pi / 180.0)

local function key(kind, name)
  return P .. ':' .. kind .. ':' .. name
end

local function fail(code, info)
  info = info or {}
  info.code = code
  error({err = 'ROBOOS ' .. cjson.encode(info)})
end

-- A stored field (JSON text) to a Lua value; JSON null and missing fields are nil.
local function dec(v)
  if v == false or v == nil then
    return nil
  end
  local x = cjson.decode(v)
  if x == cjson.null then
    return nil
  end
  return x
end

local function js(s)
  if s == nil then
    return 'null'
  end
  return cjson.encode(s)
end

local function bump(k)
  local v = redis.call('HINCRBY', k, 'version', 1)
  redis.call('HSET', k, 'updated_at', NOW, 'updated_by', BY_JSON)
  return v
end

-- Append one change to the global stream and to the entity's own history stream (same id,
-- so a cursor means the same point in time in both). `state` (the whole record after the
-- change) is kept for objects and places so that "the object at time t" is one lookup.
local function emit(kind, name, op, fields, version, state)
  local id = redis.call('XADD', P .. ':changes', 'MAXLEN', '~', GMAX, '*',
    'k', kind, 'n', name, 'op', op, 'by', BY, 't', NOW, 'v', version, 'f', fields)
  local hk = P .. ':hist:' .. kind .. ':' .. name
  if state then
    redis.call('XADD', hk, 'MAXLEN', '~', EMAX, id,
      'op', op, 'by', BY, 't', NOW, 'v', version, 'f', fields, 's', state)
  else
    redis.call('XADD', hk, 'MAXLEN', '~', EMAX, id,
      'op', op, 'by', BY, 't', NOW, 'v', version, 'f', fields)
  end
  if AGE_MS > 0 then
    local minid = string.format('%d', NOW_MS - AGE_MS)
    redis.call('XTRIM', P .. ':changes', 'MINID', '~', minid)
    redis.call('XTRIM', hk, 'MINID', '~', minid)
    redis.call('PEXPIRE', hk, AGE_MS)
  end
  return id
end

-- The record as one JSON object: stored values are JSON text already, so this is
-- concatenation; `attrs.<key>` fields are gathered into "attrs". The client parses it
-- with a single model_validate_json.
local function record_json(kind, k)
  local h = redis.call('HGETALL', k)
  if #h == 0 then
    return nil
  end
  local parts, attrs = {}, {}
  for i = 1, #h, 2 do
    local f = h[i]
    if string.sub(f, 1, 6) == 'attrs.' then
      attrs[#attrs + 1] = cjson.encode(string.sub(f, 7)) .. ':' .. h[i + 1]
    else
      parts[#parts + 1] = '"' .. f .. '":' .. h[i + 1]
    end
  end
  if kind ~= 'robot' then
    parts[#parts + 1] = '"attrs":{' .. table.concat(attrs, ',') .. '}'
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

local function state_of(kind, k)
  if kind == 'robot' then
    return nil
  end
  return record_json(kind, k)
end

-- Keep the geo index equal to the record: indexed at its pose, unless it has none or is
-- held (a held object is where its holder is).
local function reindex(kind, name, k)
  local g = P .. ':geo:' .. kind
  local pose = dec(redis.call('HGET', k, 'pose'))
  local held = nil
  if kind == 'object' then
    held = dec(redis.call('HGET', k, 'held_by'))
  end
  if pose == nil or held ~= nil then
    redis.call('ZREM', g, name)
  else
    redis.call('GEOADD', g, pose.x * DEG_PER_M, pose.y * DEG_PER_M, name)
  end
end

local function move_contents(name, old_on, new_on)
  if old_on == new_on then
    return
  end
  if old_on ~= nil then
    redis.call('SREM', P .. ':contents:' .. old_on, name)
  end
  if new_on ~= nil then
    redis.call('SADD', P .. ':contents:' .. new_on, name)
  end
end

-- Fencing: a write guarded by a lease goes through only while that lease is current.
local function check_guard(resource, token)
  if resource == '' or token == '-' then
    return
  end
  local cur = redis.call('GET', P .. ':lease:' .. resource)
  local l = cur and cjson.decode(cur)
  if not l or l.t ~= tonumber(token) then
    fail('lease_lost', {resource = resource, token = tonumber(token)})
  end
end

local function exists_any(name)
  return redis.call('EXISTS', key('place', name)) == 1 or redis.call('EXISTS', key('object', name)) == 1
    or redis.call('EXISTS', key('robot', name)) == 1
end

local function touch_alive(robot, ttl_ms)
  redis.call('SET', P .. ':alive:' .. robot, NOW, 'PX', ttl_ms)
  local added = redis.call('ZADD', P .. ':deadlines', NOW_MS + ttl_ms, robot)
  if added == 1 then
    -- a new deadline may be earlier than the one the watchers wait for: wake them
    redis.call('XADD', P .. ':wake', 'MAXLEN', '~', '100', '*', 'r', robot)
  end
  redis.call('HSET', key('robot', robot), 'last_heartbeat', NOW)
end
