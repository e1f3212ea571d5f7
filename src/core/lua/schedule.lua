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
  KEYS[10] hcodes    HASH  handler name -> handler code
  KEYS[11] hnames    HASH  handler code -> handler name
  KEYS[12 + 3*(g-1)], KEYS[13 + 3*(g-1)], KEYS[14 + 3*(g-1)]
           delayed:<h>, ready:<h>, inflight:<h> for handler group g = 1..G

  ARGV[1]  stored format version
  ARGV[2]  N, the number of jobs
  ARGV[3]  G, the number of handler groups
  ARGV[4 .. 3+G]  handler name of each group
  then 6 values per job:
           id to use when the job is new, group index (1-based), runAt ms, user key or "",
           priority, header extras: "" or a JSON object of the header fields other than h and v, without
           r when the id carries it (codec.ts encodeScheduleExtras)
  ARGV[4+G + 6*N]  payload JSON per job, in order

  Returns: { wake, id_1, revision_1, ..., id_N, revision_N }
           wake is 1 when some job became the head of its delayed queue (the tick may be sleeping past it).
           A new job has revision 0; an upsert gets the next value of seq.
  Errors (nothing is written):
           "TICKSET_KEY_HANDLER_CONFLICT <key>|<existing handler>|<requested handler>"
           "TICKSET_ID_COLLISION <id> <id> ...": new ids that are already jobs here (Node retries with others)
]]
-- @include body.lua

local n = tonumber(ARGV[2])
local groups = tonumber(ARGV[3])
local first_job_arg = 4 + groups
local first_payload_arg = first_job_arg + 6 * n

-- Handler codes: the code of each group's handler, nil when this shard has not assigned it one yet.
local codes = {}
for g = 1, groups do codes[g] = redis.call("HGET", KEYS[10], ARGV[3 + g]) or false end

-- Pass 1: resolve ids and check every upsert and every new id before writing anything.
local ids = {}
local upserts = {}
local upsert_count = 0
local batch_keys = {}
local fresh = {}
for i = 1, n do
  local base = first_job_arg + 6 * (i - 1)
  local id = ARGV[base]
  local key = ARGV[base + 3]
  local g = tonumber(ARGV[base + 1])
  local handler = ARGV[3 + g]
  local is_new = true
  if key ~= "" then
    local known = batch_keys[key]
    if known then
      if known.handler ~= handler then
        return redis.error_reply("TICKSET_KEY_HANDLER_CONFLICT " .. key .. "|" .. known.handler .. "|" .. handler)
      end
      id = known.id
      is_new = false
    else
      local existing_id = redis.call("HGET", KEYS[2], key)
      if existing_id then
        local body = redis.call("HGET", KEYS[1], existing_id)
        if body then
          local header = decode_body(body, existing_id)
          if not (header.hc and header.hc == codes[g]) and not (header.h and header.h == handler) then
            local existing = header.h or redis.call("HGET", KEYS[11], header.hc) or header.hc
            return redis.error_reply("TICKSET_KEY_HANDLER_CONFLICT " .. key .. "|" .. existing .. "|" .. handler)
          end
          id = existing_id
          is_new = false
        end
      end
    end
    batch_keys[key] = { id = id, handler = handler }
  end
  if is_new then
    fresh[#fresh + 1] = id
  else
    upserts[i] = true
    upsert_count = upsert_count + 1
  end
  ids[i] = id
end

-- A new id must not be a job already (ids are unique per process, not across processes: see ids.ts).
local collisions = {}
local seen = {}
local CHUNK = 1000
for first = 1, #fresh, CHUNK do
  local last = math.min(first + CHUNK - 1, #fresh)
  local existing = redis.call("HMGET", KEYS[1], unpack(fresh, first, last))
  for j = first, last do
    local id = fresh[j]
    if existing[j - first + 1] or seen[id] then collisions[#collisions + 1] = id end
    seen[id] = true
  end
end
if #collisions > 0 then return redis.error_reply("TICKSET_ID_COLLISION " .. table.concat(collisions, " ")) end

-- Pass 2: write.
local wake = 0
local heads = {}
for g = 1, groups do
  local head = redis.call("ZRANGE", KEYS[12 + 3 * (g - 1)], 0, 0, "WITHSCORES")
  heads[g] = head[2] and tonumber(head[2]) or math.huge
  local handler = ARGV[3 + g]
  redis.call("SADD", KEYS[5], handler)
  if not codes[g] then
    -- Codes are never reused: the next one is the registry's size + 1 in base 36, skipping any taken.
    local next_code = redis.call("HLEN", KEYS[11]) + 1
    local code
    repeat
      local digits, value = "", next_code
      repeat
        local d = value % 36
        digits = string.sub("0123456789abcdefghijklmnopqrstuvwxyz", d + 1, d + 1) .. digits
        value = math.floor(value / 36)
      until value == 0
      code = digits
      next_code = next_code + 1
    until redis.call("HSETNX", KEYS[11], code, handler) == 1
    redis.call("HSET", KEYS[10], handler, code)
    codes[g] = code
  end
end
redis.call("HSET", KEYS[9], "format", ARGV[1])

local rev = 0
if upsert_count > 0 then rev = redis.call("INCRBY", KEYS[6], upsert_count) - upsert_count end
local result = { 0 }
-- Bodies and due times go out as one multi-field HSET and one multi-member ZADD per handler for each
-- chunk of jobs: one redis.call per job cost more than the commands themselves (BENCHMARKS.md). Chunks
-- keep unpack() under its ~8000-value limit.
local bodies = {}
local due = {}
local function flush()
  if #bodies > 0 then redis.call("HSET", KEYS[1], unpack(bodies)) end
  for g, list in pairs(due) do redis.call("ZADD", KEYS[12 + 3 * (g - 1)], unpack(list)) end
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
  local upsert = upserts[i]
  local job_rev = 0
  if upsert then
    rev = rev + 1
    job_rev = rev
    -- Upsert: supersede any queued, claimed or dead copy; a claim's late ack is then rejected.
    redis.call("ZREM", KEYS[13 + 3 * (g - 1)], id)
    redis.call("ZREM", KEYS[14 + 3 * (g - 1)], id)
    redis.call("ZREM", KEYS[7], id)
    redis.call("HDEL", KEYS[4], id)
    redis.call("SREM", KEYS[8], id)
  end
  bodies[#bodies + 1] = id
  bodies[#bodies + 1] = schedule_body(codes[g], ARGV[base + 5], ARGV[base + 2], upsert and job_rev,
    ARGV[first_payload_arg + i - 1])
  if key ~= "" then redis.call("HSET", KEYS[2], key, id) end
  -- A new id is not a job (checked above), so it has no priority entry: only an upsert can leave one behind.
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
  result[#result + 1] = job_rev
  if #bodies >= 2 * CHUNK then flush() end
end
flush()
result[1] = wake
return result
