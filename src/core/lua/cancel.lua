--[[
  cancel: removes a job from every queue and deletes its body. A claim in flight is cancelled too: its
  late ack or fail is rejected. Occurrences of a series that are already in flight are separate jobs
  ("<id>@<ms>") and finish on their own.

  KEYS[1]  jobs      HASH id -> packed body
  KEYS[2]  keys      HASH user key -> id
  KEYS[3]  state     HASH id -> claim state
  KEYS[4]  prio      HASH id -> priority
  KEYS[5]  dead      ZSET id -> failedAt
  KEYS[6]  arm       SET  cron series waiting for Node
  KEYS[7]  delayed   ZSET (of the job's handler)
  KEYS[8]  ready     ZSET (of the job's handler)
  KEYS[9]  inflight  ZSET (of the job's handler)
  KEYS[10] parkedn   HASH handler -> number of parked jobs

  ARGV[1]  id
  ARGV[2]  handler as the body Node read stores it (its code, or its name in a format-1 body): guards
           against a body replaced in between
  ARGV[3]  handler name (a parked job is counted under it)

  Returns: 1 cancelled, 0 no such job, -1 the handler changed (read again)
]]
-- @include decode-body.lua
-- @include is-one-off.lua
-- @include handler-ref.lua

local id = ARGV[1]
local body = redis.call("HGET", KEYS[1], id)
if not body then return 0 end
local header = decode_body(body, id)
if handler_ref(header) ~= ARGV[2] then return -1 end
if header.k and redis.call("HGET", KEYS[2], header.k) == id then redis.call("HDEL", KEYS[2], header.k) end
local queued = redis.call("ZREM", KEYS[7], id) + redis.call("ZREM", KEYS[8], id)
  + redis.call("ZREM", KEYS[9], id) + redis.call("ZREM", KEYS[5], id)
-- A one-off job in no queue is parked: its list entry stays behind (advance-parked.lua drops it).
if queued == 0 and is_one_off(header) then redis.call("HINCRBY", KEYS[10], ARGV[3], -1) end
redis.call("SREM", KEYS[6], id)
redis.call("HDEL", KEYS[3], id)
redis.call("HDEL", KEYS[4], id)
redis.call("HDEL", KEYS[1], id)
return 1
