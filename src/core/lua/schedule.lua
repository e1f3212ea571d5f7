--[[
  schedule: inserts or upserts a batch of jobs into one shard, atomically (all or nothing).

  KEYS[1]  jobs      HASH  id -> packed body
  KEYS[2]  keys      HASH  user key -> id
  KEYS[3]  prio      HASH  id -> priority (non-zero only)
  KEYS[4]  state     HASH  id -> claim state
  KEYS[5]  handlers  SET   handler names of this shard
  KEYS[6]  seq       STRING revision counter
  KEYS[7]  dead      ZSET  id -> failedAt
  KEYS[8]  arm       SET   cron series whose next occurrence Node must compute
  KEYS[9]  meta      HASH  stored format version
  KEYS[10 + 3*(g-1)], KEYS[11 + 3*(g-1)], KEYS[12 + 3*(g-1)]
           delayed:<h>, ready:<h>, inflight:<h> for handler group g = 1..G

  ARGV[1]  stored format version
  ARGV[2]  N, the number of jobs
  ARGV[3]  G, the number of handler groups
  ARGV[4 .. 3+G]  handler name of each group
  then 6 values per job:
           id to use when the job is new, group index (1-based), runAt ms, user key or "",
           priority, header JSON without its closing brace and without "v" (e.g. 1{"h":"x","r":5)
  ARGV[4+G + 6*N]  payload JSON per job, in order

  Returns: { wake, id_1, revision_1, ..., id_N, revision_N }
           wake is 1 when some job became the head of its delayed queue (the tick may be sleeping past it).
  Errors:  "TICKSET_KEY_HANDLER_CONFLICT <key>|<existing handler>|<requested handler>" and nothing is written.
]]
-- @include body.lua

local n = tonumber(ARGV[2])
local groups = tonumber(ARGV[3])
local first_job_arg = 4 + groups
local first_payload_arg = first_job_arg + 6 * n

-- Pass 1: resolve ids and check every upsert before writing anything.
local ids = {}
local existed = {}
local batch_keys = {}
for i = 1, n do
  local base = first_job_arg + 6 * (i - 1)
  local id = ARGV[base]
  local key = ARGV[base + 3]
  local handler = ARGV[3 + tonumber(ARGV[base + 1])]
  if key ~= "" then
    local known = batch_keys[key]
    if known then
      if known.handler ~= handler then
        return redis.error_reply("TICKSET_KEY_HANDLER_CONFLICT " .. key .. "|" .. known.handler .. "|" .. handler)
      end
      id = known.id
    else
      local existing_id = redis.call("HGET", KEYS[2], key)
      if existing_id then
        local body = redis.call("HGET", KEYS[1], existing_id)
        if body then
          local header = decode_body(body)
          if header.h ~= handler then
            return redis.error_reply("TICKSET_KEY_HANDLER_CONFLICT " .. key .. "|" .. header.h .. "|" .. handler)
          end
          id = existing_id
          existed[i] = true
        end
      end
    end
    batch_keys[key] = { id = id, handler = handler }
  end
  ids[i] = id
end

-- Pass 2: write.
local wake = 0
local heads = {}
for g = 1, groups do
  local head = redis.call("ZRANGE", KEYS[10 + 3 * (g - 1)], 0, 0, "WITHSCORES")
  heads[g] = head[2] and tonumber(head[2]) or math.huge
  redis.call("SADD", KEYS[5], ARGV[3 + g])
end
redis.call("HSETNX", KEYS[9], "format", ARGV[1])

local last_rev = redis.call("INCRBY", KEYS[6], n)
local result = { 0 }
-- Bodies and due times go out as one multi-field HSET and one multi-member ZADD per handler for each
-- chunk of jobs: one redis.call per job cost more than the commands themselves (BENCHMARKS.md). Chunks
-- keep unpack() under its ~8000-value limit. `written` stands in for HEXISTS on bodies not yet flushed.
local CHUNK = 1000
local bodies = {}
local due = {}
local written = {}
local function flush()
  if #bodies > 0 then redis.call("HSET", KEYS[1], unpack(bodies)) end
  for g, list in pairs(due) do redis.call("ZADD", KEYS[10 + 3 * (g - 1)], unpack(list)) end
  bodies = {}
  due = {}
end
for i = 1, n do
  local base = first_job_arg + 6 * (i - 1)
  local id = ids[i]
  local g = tonumber(ARGV[base + 1])
  local run_at = tonumber(ARGV[base + 2])
  local key = ARGV[base + 3]
  local priority = tonumber(ARGV[base + 4])
  local rev = last_rev - n + i
  local upsert = key ~= "" and (existed[i] or written[id] or redis.call("HEXISTS", KEYS[1], id) == 1)
  if upsert then
    -- Upsert: supersede any queued, claimed or dead copy; a claim's late ack is then rejected.
    redis.call("ZREM", KEYS[11 + 3 * (g - 1)], id)
    redis.call("ZREM", KEYS[12 + 3 * (g - 1)], id)
    redis.call("ZREM", KEYS[7], id)
    redis.call("HDEL", KEYS[4], id)
    redis.call("SREM", KEYS[8], id)
  end
  bodies[#bodies + 1] = id
  bodies[#bodies + 1] = ARGV[base + 5] .. ',"v":' .. rev .. "}\n" .. ARGV[first_payload_arg + i - 1]
  if key ~= "" then
    written[id] = true
    redis.call("HSET", KEYS[2], key, id)
  end
  -- A new id (a fresh ULID) has no priority entry: only an upsert can leave one behind.
  if priority ~= 0 then redis.call("HSET", KEYS[3], id, priority) elseif upsert then redis.call("HDEL", KEYS[3], id) end
  local list = due[g]
  if not list then
    list = {}
    due[g] = list
  end
  -- The score string exactly as Node sent it (the same number, without a trip through a Lua double).
  list[#list + 1] = ARGV[base + 2]
  list[#list + 1] = id
  if run_at < heads[g] then
    wake = 1
    heads[g] = run_at
  end
  result[#result + 1] = id
  result[#result + 1] = rev
  if #bodies >= 2 * CHUNK then flush() end
end
flush()
result[1] = wake
return result
