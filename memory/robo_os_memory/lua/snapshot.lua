-- Every record of the given kinds, read in one atomic step.
-- ARGV: kinds ('robot', 'object', 'place'). Returns one list of HGETALL lists per kind.
local out = {}
for i = A + 1, #ARGV do
  local kind = ARGV[i]
  local records = {}
  for _, name in ipairs(redis.call('SMEMBERS', P .. ':' .. kind .. 's')) do
    local h = redis.call('HGETALL', key(kind, name))
    if #h > 0 then
      records[#records + 1] = h
    end
  end
  out[#out + 1] = records
end
return out
