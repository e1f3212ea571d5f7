--[[
  purge-dead: deletes dead jobs that failed at or before a cutoff, with their bodies, state and key
  mappings.

  KEYS[1]  dead   ZSET id -> failedAt
  KEYS[2]  jobs   HASH id -> packed body
  KEYS[3]  state  HASH id -> claim state
  KEYS[4]  keys   HASH user key -> id
  KEYS[5]  prio   HASH id -> priority

  ARGV[1]  cutoff ms (inclusive)
  ARGV[2]  most jobs to purge in this call

  Returns: the number purged
]]
-- @include decode-body.lua

local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local body = redis.call("HGET", KEYS[2], id)
  if body then
    local header = decode_body(body, id)
    if header.k and redis.call("HGET", KEYS[4], header.k) == id then redis.call("HDEL", KEYS[4], header.k) end
  end
  redis.call("HDEL", KEYS[2], id)
  redis.call("HDEL", KEYS[3], id)
  redis.call("HDEL", KEYS[5], id)
  redis.call("ZREM", KEYS[1], id)
end
return #ids
