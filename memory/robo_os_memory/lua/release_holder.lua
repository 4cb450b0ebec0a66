-- Release every lease one holder has now (its robot is known dead), in one step.
-- ARGV: holder, reason. Returns the resources released.
-- Fencing holds afterwards: a released lease's key is gone, so a write guarded by its old
-- token fails (`check_guard`), and the next acquire gets a higher token (the INCR counter
-- is never reset).
local holder, reason = ARGV[A + 1], ARGV[A + 2]
local dl = P .. ':lease-deadlines'
local out = {}
for _, m in ipairs(redis.call('ZRANGE', dl, 0, -1)) do
  local l = cjson.decode(m)
  if l[2] == holder then
    local lk = P .. ':lease:' .. l[1]
    local cur = redis.call('GET', lk)
    cur = cur and cjson.decode(cur)
    -- an expired lease (key gone) is left to the sweep, which reports it as `expire`
    if cur and cur.h == holder and cur.t == l[3] then
      redis.call('DEL', lk)
      redis.call('ZREM', dl, m)
      emit('lease', l[1], 'release',
        cjson.encode({holder = holder, token = l[3], reason = reason}), l[3], nil)
      out[#out + 1] = l[1]
    end
  end
end
return out
