-- Every record of the given kinds, read in one atomic step.
-- ARGV: kinds ('robot', 'object', 'place'). Returns one list of record JSON texts per kind.
local out = {}
for i = A + 1, #ARGV do
  local kind = ARGV[i]
  local records = {}
  for _, name in ipairs(redis.call('SMEMBERS', P .. ':' .. kind .. 's')) do
    local j = record_json(kind, key(kind, name))
    if j then
      records[#records + 1] = j
    end
  end
  out[#out + 1] = records
end
return out
