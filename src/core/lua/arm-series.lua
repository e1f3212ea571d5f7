--[[
  arm-series: compare-and-set of a cron series' next occurrences, computed by Node (Lua has no time-zone
  data). Applies only if the series is still the revision Node read and its armed occurrence is unchanged,
  so a stale or concurrent writer can neither drop the series nor arm one occurrence twice.

  KEYS[1]  jobs     HASH id -> packed body
  KEYS[2]  arm      SET  series waiting for Node
  KEYS[3]  delayed  ZSET id -> due ms (of the series' handler)
  KEYS[4]  keys     HASH user key -> id
  KEYS[5]  prio     HASH id -> priority

  ARGV[1]  series id
  ARGV[2]  expected revision
  ARGV[3]  expected armed occurrence ms, or "" when Node saw it unarmed
  ARGV[4]  occurrence to arm now ms, or "" to keep the armed one
  ARGV[5]  the occurrence after it (nextRunAt) ms, or "" when there is none

  Returns: 1 written, 0 series complete (removed from arm), -1 series gone, -2 revision changed,
           -3 armed occurrence changed
]]
-- @include decode-body.lua
-- @include encode-body.lua

local id = ARGV[1]
local body = redis.call("HGET", KEYS[1], id)
if not body then
  redis.call("SREM", KEYS[2], id)
  return -1
end
local header, payload = decode_body(body, id)
if header.v ~= tonumber(ARGV[2]) then return -2 end
if ARGV[3] == "" then
  if header.r ~= nil then return -3 end
elseif header.r == nil or string.format("%d", header.r) ~= ARGV[3] then
  return -3
end
if ARGV[4] ~= "" then
  header.r = tonumber(ARGV[4])
  redis.call("ZADD", KEYS[3], header.r, id)
elseif header.r == nil then
  -- Nothing left to arm (the series ended before expiresAt): drop it, with its key mapping and priority.
  if header.k and redis.call("HGET", KEYS[4], header.k) == id then redis.call("HDEL", KEYS[4], header.k) end
  redis.call("HDEL", KEYS[5], id)
  redis.call("HDEL", KEYS[1], id)
  redis.call("SREM", KEYS[2], id)
  return 0
end
if ARGV[5] ~= "" then header.n = tonumber(ARGV[5]) else header.n = nil end
header.a = nil
redis.call("HSET", KEYS[1], id, encode_body(header, payload, id))
redis.call("SREM", KEYS[2], id)
return 1
