-- Create, replace or update one record, with its version, history, contents and geo index.
-- ARGV: spec "<kind> <op> <must_exist 1/0> <replace 1/0> <expected version> <heartbeat
--       ttl ms> <guard token>" ('-': none), name, guard resource ('' none), then
--       field/value pairs (values are JSON text).
-- Returns {stream id, the record as JSON}.
local kind, op, must, rep, expected, ttl, token = string.match(ARGV[A + 1],
  '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
local name = ARGV[A + 2]
local must_exist, replace = must == '1', rep == '1'
local FIRST = A + 4
local k = key(kind, name)

local exists = redis.call('EXISTS', k) == 1
if must_exist and not exists then
  fail('not_found', {kind = kind, name = name})
end
local version = tonumber(redis.call('HGET', k, 'version') or '0')
if expected ~= '-' and tonumber(expected) ~= version then
  fail('version', {kind = kind, name = name, expected = tonumber(expected), actual = version})
end
check_guard(ARGV[A + 3], token)

-- A robot's `holding` and an object's `held_by` change only through moves (move.lua), so
-- they stay each other's mirror: a replace keeps the stored value and refuses another.
local rel = ({robot = 'holding', object = 'held_by'})[kind]
local old_rel = nil
if rel then
  old_rel = dec(redis.call('HGET', k, rel))
end
local old_on, new_on = nil, nil
if kind == 'object' then
  old_on = dec(redis.call('HGET', k, 'on'))
  new_on = old_on
end
for i = FIRST, #ARGV, 2 do
  if ARGV[i] == rel then
    local v = dec(ARGV[i + 1])
    if v ~= nil and v ~= old_rel then
      fail('invalid', {message = kind .. ' ' .. name .. '.' .. rel .. ' changes only through pick/place/transfer'})
    end
  elseif kind == 'object' and ARGV[i] == 'on' then
    new_on = dec(ARGV[i + 1])
  end
end
if kind == 'object' then
  if new_on ~= nil and old_rel ~= nil then
    fail('conflict', {message = 'object ' .. name .. ' is held by ' .. old_rel ..
      ' and cannot also rest on ' .. new_on .. '; use place() or transfer()', holder = old_rel})
  end
  if new_on == name then
    fail('invalid', {message = 'object ' .. name .. ' cannot rest on itself'})
  end
end

-- checks done; writes from here on
if replace then
  redis.call('DEL', k)
end
local pairs_ = {}
for i = FIRST, #ARGV do
  pairs_[#pairs_ + 1] = ARGV[i]
end
if #pairs_ > 0 then
  redis.call('HSET', k, unpack(pairs_))
end
redis.call('HSET', k, 'version', version)
if rel then
  redis.call('HSET', k, rel, js(old_rel))
end
version = bump(k)
redis.call('SADD', P .. ':' .. kind .. 's', name)
if kind == 'object' then
  move_contents(name, old_on, new_on)
end
if ttl ~= '-' then
  touch_alive(name, tonumber(ttl))
end
reindex(kind, name, k)
-- the change lists the fields written, less the relation (kept, see above) and the
-- heartbeat stamp (liveness metadata)
local parts, attrs = {}, {}
for i = FIRST, #ARGV, 2 do
  local f = ARGV[i]
  if string.sub(f, 1, 6) == 'attrs.' then
    attrs[#attrs + 1] = cjson.encode(string.sub(f, 7)) .. ':' .. ARGV[i + 1]
  elseif f ~= rel and f ~= 'last_heartbeat' then
    parts[#parts + 1] = '"' .. f .. '":' .. ARGV[i + 1]
  end
end
if #attrs > 0 or (replace and kind ~= 'robot') then
  parts[#parts + 1] = '"attrs":{' .. table.concat(attrs, ',') .. '}'
end
local fields = '{' .. table.concat(parts, ',') .. '}'
local id = emit(kind, name, op, fields, version, state_of(kind, k))
return {id, record_json(kind, k)}
