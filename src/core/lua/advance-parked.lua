--[[
  advance-parked: moves up to ARGV[5] entries of one parking slot of a handler into its delayed queue
  (src/core/parking.ts). An entry is a hint, not a claim on the job: it moves the job only when the job is
  still parked here, i.e. a one-off job (no series fields) of this handler, due inside this slot, in none
  of the handler's queues nor dead. Anything else (cancelled, completed, upserted to another time or into a
  queue, an id reused by another handler) is dropped. The entries read are removed in the same call, so a
  crash between calls loses nothing: what was not read is still in the list.

  KEYS[1]  slot      LIST  ids parked in this slot (parked:<h>#<slot>)
  KEYS[2]  index     ZSET  slot -> slot start, of this handler (parked:<h>)
  KEYS[3]  jobs      HASH  id -> packed body
  KEYS[4]  delayed   ZSET  id -> due ms, of this handler
  KEYS[5]  ready     ZSET  of this handler
  KEYS[6]  inflight  ZSET  of this handler
  KEYS[7]  dead      ZSET  id -> failedAt
  KEYS[8]  parkedn   HASH  handler -> number of parked jobs
  KEYS[9]  hcodes    HASH  handler name -> handler code

  ARGV[1]  the slot's name in the index ("<start>+<width>")
  ARGV[2]  slot start ms (inclusive)
  ARGV[3]  slot end ms (exclusive)
  ARGV[4]  handler name
  ARGV[5]  most entries to read

  Returns: { jobs moved, 1 when the slot is now empty (and left the index) else 0 }
]]
-- @include decode-body.lua
-- @include is-one-off.lua

local start = tonumber(ARGV[2])
local finish = tonumber(ARGV[3])
local handler = ARGV[4]
local limit = tonumber(ARGV[5])
if not (start and finish and limit and limit > 0) then
  return redis.error_reply("TICKSET_BAD_ARGS advance-parked.lua slot bounds or limit")
end
local entries = redis.call("LRANGE", KEYS[1], 0, limit - 1)
local code = redis.call("HGET", KEYS[9], handler)
local moved = 0
local seen = {}
-- In chunks of 1,000 entries: one HMGET of bodies, one ZMSCORE per queue, one ZADD NX for the chunk (a
-- job already in delayed is not added, and not counted).
local CHUNK = 1000
for first = 1, #entries, CHUNK do
  local last = math.min(first + CHUNK - 1, #entries)
  local bodies = redis.call("HMGET", KEYS[3], unpack(entries, first, last))
  local ids, dues = {}, {}
  for i = first, last do
    local id = entries[i]
    local body = bodies[i - first + 1]
    if body and not seen[id] then
      seen[id] = true
      local header = decode_body(body, id)
      local due = header.r
      if ((code and header.hc == code) or header.h == handler) and is_one_off(header)
        and due and due >= start and due < finish then
        ids[#ids + 1] = id
        dues[#ids] = due
      end
    end
  end
  if #ids > 0 then
    local ready = redis.call("ZMSCORE", KEYS[5], unpack(ids))
    local inflight = redis.call("ZMSCORE", KEYS[6], unpack(ids))
    local dead = redis.call("ZMSCORE", KEYS[7], unpack(ids))
    local adds = {}
    for j = 1, #ids do
      if not ready[j] and not inflight[j] and not dead[j] then
        adds[#adds + 1] = string.format("%d", dues[j])
        adds[#adds + 1] = ids[j]
      end
    end
    if #adds > 0 then moved = moved + redis.call("ZADD", KEYS[4], "NX", unpack(adds)) end
  end
end
if #entries > 0 then
  if moved > 0 then redis.call("HINCRBY", KEYS[8], handler, -moved) end
  redis.call("LTRIM", KEYS[1], #entries, -1)
end
if redis.call("EXISTS", KEYS[1]) == 1 then return { moved, 0 } end
redis.call("ZREM", KEYS[2], ARGV[1])
return { moved, 1 }
