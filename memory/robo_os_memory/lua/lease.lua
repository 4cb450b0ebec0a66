-- acquire / renew / release a lease. The lease is a string {h: holder, t: token, e: expiry
-- in ms} with a PX TTL, so it expires by itself when its holder dies; the fencing token
-- comes from a per-resource INCR counter, so it only ever grows.
-- ARGV: mode, resource, holder, token ('' for acquire), ttl ms ('' for release).
-- Returns {holder, token, expires_at ms}.
local mode, resource, holder = ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
local token, ttl = tonumber(ARGV[A + 4]), tonumber(ARGV[A + 5])
local lk = P .. ':lease:' .. resource
local dl = P .. ':lease-deadlines'
local cur = redis.call('GET', lk)
cur = cur and cjson.decode(cur)

local function member(h, t)
  return cjson.encode({resource, h, t})
end

if mode == 'acquire' then
  if cur and cur.h ~= holder then
    fail('lease_held', {resource = resource, holder = cur.h, until_ms = cur.e})
  end
  local op = 'renew'
  if cur then
    token = cur.t
  else
    op = 'acquire'
    token = redis.call('INCR', P .. ':fence:' .. resource)
  end
  redis.call('SET', lk, cjson.encode({h = holder, t = token, e = NOW_MS + ttl}), 'PX', ttl)
  redis.call('ZADD', dl, NOW_MS + ttl, member(holder, token))
  emit('lease', resource, op, cjson.encode({holder = holder, token = token, expires_at = (NOW_MS + ttl) / 1000}), token, nil)
  return {holder, token, NOW_MS + ttl}
end

if not cur or cur.h ~= holder or cur.t ~= token then
  fail('lease_lost', {resource = resource, token = token, holder = cur and cur.h or nil})
end
if mode == 'renew' then
  redis.call('SET', lk, cjson.encode({h = holder, t = token, e = NOW_MS + ttl}), 'PX', ttl)
  redis.call('ZADD', dl, NOW_MS + ttl, member(holder, token))
  emit('lease', resource, 'renew', cjson.encode({holder = holder, token = token, expires_at = (NOW_MS + ttl) / 1000}), token, nil)
  return {holder, token, NOW_MS + ttl}
end
redis.call('DEL', lk)
redis.call('ZREM', dl, member(holder, token))
emit('lease', resource, 'release', cjson.encode({holder = holder, token = token}), token, nil)
return {holder, token, NOW_MS}
