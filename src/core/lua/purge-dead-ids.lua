--[[
  purge-dead-ids: deletes the given jobs, each only if it is still in the dead set (one replayed or
  cancelled meanwhile is left alone), with their bodies, state, priorities and key mappings.

  KEYS[1]  dead   ZSET id -> failedAt
  KEYS[2]  jobs   HASH id -> packed body
  KEYS[3]  state  HASH id -> claim state
  KEYS[4]  keys   HASH user key -> id
  KEYS[5]  prio   HASH id -> priority

  ARGV[i]  id of a dead job

  Returns: the ids purged, in order
]]
-- @include decode-body.lua

local purged = {}
for _, id in ipairs(ARGV) do
  if redis.call("ZSCORE", KEYS[1], id) then
    local body = redis.call("HGET", KEYS[2], id)
    if body then
      local header = decode_body(body, id)
      if header.k and redis.call("HGET", KEYS[4], header.k) == id then redis.call("HDEL", KEYS[4], header.k) end
    end
    redis.call("HDEL", KEYS[2], id)
    redis.call("HDEL", KEYS[3], id)
    redis.call("HDEL", KEYS[5], id)
    redis.call("ZREM", KEYS[1], id)
    purged[#purged + 1] = id
  end
end
return purged
