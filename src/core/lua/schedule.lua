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
  KEYS[12] parkedn   HASH  handler -> number of parked jobs
  KEYS[13 + 5*(g-1)] .. KEYS[17 + 5*(g-1)], for group g = 1..G (a group: the jobs of one handler that go to
           one place, `delayed` or one parking slot):
           delayed:<h>, ready:<h>, inflight:<h>, parked:<h> (the slot index), and the group's target: the
           slot's LIST parked:<h>#<slot>, or delayed:<h> again when the group is not parked

  ARGV[1]  stored format version
  ARGV[2]  G, the number of groups
  ARGV[3 .. 2+G]  handler name of each group
  Plain jobs (new, no key, priority 0, no header extras, a 14-character id that carries the due time):
  ARGV[3+G .. 2+2G]  P_g, the number of plain jobs of each group g
  ARGV[3+2G .. 2+3G]  each group's parking slot "<start ms>+<width ms>", or "" (not parked). Node parks
           only one-off jobs (src/core/parking.ts).
  ARGV[3+3G]  the plain jobs' ids, 14 characters each, concatenated without separator: group 1's first (in
           batch order), then group 2's, ...; a plain job's due time is the one in its id (id_time)
  ARGV[4+3G]  their payloads, same order, each one preceded by "\n": "\n" <payload JSON> "\n" <payload
           JSON> ... (JSON text as JSON.stringify writes it has no raw newline; Node sends any payload that
           has one as a full job)
  Full jobs (any other job), in batch order:
  ARGV[5+3G]  F, the number of full jobs
  then 7 values per full job: id to use when the job is new, group index (1-based), runAt ms, user key or
           "", priority, header extras: "" or a JSON object of the header fields other than h and v, without
           r when the id carries it (codec.ts encodeScheduleExtras), payload JSON

  Returns: { wake, id_1, revision_1, ..., id_F, revision_F }, ids and revisions of the full jobs only, in
           their order (a plain job is new: its id is the one sent, its revision 0).
           wake is 1 when some job became the head of its delayed queue (the tick may be sleeping past it);
           a parked job never wakes it.
           A new job has revision 0; an upsert gets the next value of seq.
  Errors (nothing is written):
           "TICKSET_KEY_HANDLER_CONFLICT <key>|<existing handler>|<requested handler>"
           "TICKSET_ID_COLLISION <id> <id> ...": new ids that are already jobs here (Node retries with others)
           "TICKSET_BAD_ARGS <what>": arguments not in this layout
]]
-- @include id-time.lua
-- @include decode-body.lua
-- @include is-one-off.lua
-- @include schedule-body.lua

local groups = tonumber(ARGV[2]) or -1
local plain_ids = ARGV[3 + 3 * groups] or ""
local plain_payloads = ARGV[4 + 3 * groups] or ""
local n = tonumber(ARGV[5 + 3 * groups]) or -1
local first_job_arg = 6 + 3 * groups
local plain_count = 0
for g = 1, groups do plain_count = plain_count + (tonumber(ARGV[2 + groups + g]) or 0 / 0) end
if groups < 0 or n < 0 or #plain_ids ~= 14 * plain_count or #ARGV ~= first_job_arg - 1 + 7 * n then
  return redis.error_reply("TICKSET_BAD_ARGS schedule.lua argument counts")
end

-- Handler codes: the code of each group's handler, nil when this shard has not assigned it one yet.
local codes = {}
for g = 1, groups do codes[g] = redis.call("HGET", KEYS[10], ARGV[2 + g]) or false end
-- Each group's keys and parking slot.
local function group_key(g, k) return KEYS[12 + 5 * (g - 1) + k] end
local slots = {}
for g = 1, groups do
  local slot = ARGV[2 + 2 * groups + g]
  if slot ~= "" then
    local start = string.match(slot, "^(%d+)%+%d+$")
    if not start then return redis.error_reply("TICKSET_BAD_ARGS schedule.lua parking slot " .. g) end
    slots[g] = { name = slot, start = start }
  end
end

-- Pass 1: resolve ids and check every upsert and every new id before writing anything.
local ids = {}
local upserts = {}
local upsert_count = 0
local batch_keys = {}
local fresh = {}
local existing_headers = {}
for i = 1, n do
  local base = first_job_arg + 7 * (i - 1)
  local id = ARGV[base]
  local key = ARGV[base + 3]
  local g = tonumber(ARGV[base + 1])
  local handler = ARGV[2 + g]
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
          existing_headers[id] = header
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

-- Plain jobs: ids cut from the packed string, due times read from the ids (14-character job ids: 7 base-62
-- digits of the due time, then 7 of a counter; see id_time), payloads cut at the newlines. All before
-- writing anything, so a malformed argument writes nothing.
local DIGIT = {}
for c = 48, 57 do DIGIT[c] = c - 48 end
for c = 65, 90 do DIGIT[c] = c - 55 end
for c = 97, 122 do DIGIT[c] = c - 61 end
local plain_run_at = {}
local plain_payload = {}
local cursor = 1
local payloads_length = #plain_payloads
local fresh_count = #fresh
for j = 1, plain_count do
  local id = string.sub(plain_ids, 14 * j - 13, 14 * j)
  local c1, c2, c3, c4, c5, c6, c7 = string.byte(id, 1, 7)
  local d1, d2, d3, d4, d5, d6, d7 = DIGIT[c1], DIGIT[c2], DIGIT[c3], DIGIT[c4], DIGIT[c5], DIGIT[c6], DIGIT[c7]
  if not (d1 and d2 and d3 and d4 and d5 and d6 and d7) or string.byte(plain_payloads, cursor) ~= 10 then
    return redis.error_reply("TICKSET_BAD_ARGS schedule.lua plain job " .. j)
  end
  plain_run_at[j] = ((((((d1 * 62 + d2) * 62 + d3) * 62 + d4) * 62 + d5) * 62 + d6) * 62) + d7
  local next_nl = string.find(plain_payloads, "\n", cursor + 1, true) or payloads_length + 1
  -- "\n" <payload>: the tail of the body.
  plain_payload[j] = string.sub(plain_payloads, cursor, next_nl - 1)
  cursor = next_nl
  fresh_count = fresh_count + 1
  fresh[fresh_count] = id
  ids[n + j] = id
end
if cursor ~= payloads_length + 1 then return redis.error_reply("TICKSET_BAD_ARGS schedule.lua plain payloads") end

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
local assigned = {}
for g = 1, groups do
  local handler = ARGV[2 + g]
  if not slots[g] then
    local head = redis.call("ZRANGE", group_key(g, 1), 0, 0, "WITHSCORES")
    heads[g] = head[2] and tonumber(head[2]) or math.huge
  end
  redis.call("SADD", KEYS[5], handler)
  if not codes[g] then codes[g] = assigned[handler] end
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
    assigned[handler] = code
  end
end
redis.call("HSET", KEYS[9], "format", ARGV[1])

local rev = 0
if upsert_count > 0 then rev = redis.call("INCRBY", KEYS[6], upsert_count) - upsert_count end
local result = { 0 }
-- Bodies, due times and parked ids go out as one multi-field HSET, one multi-member ZADD or RPUSH per
-- group for each chunk of jobs: one redis.call per job cost more than the commands themselves
-- (BENCHMARKS.md). Chunks keep unpack() under its ~8000-value limit.
local bodies = {}
local due = {}
local parked_delta = {}
local function flush()
  if #bodies > 0 then redis.call("HSET", KEYS[1], unpack(bodies)) end
  for g, list in pairs(due) do
    if #list > 0 then
      if slots[g] then
        redis.call("RPUSH", group_key(g, 5), unpack(list))
        redis.call("ZADD", group_key(g, 4), slots[g].start, slots[g].name)
      else
        redis.call("ZADD", group_key(g, 1), unpack(list))
      end
    end
  end
  for handler, delta in pairs(parked_delta) do
    if delta ~= 0 then redis.call("HINCRBY", KEYS[12], handler, delta) end
  end
  bodies = {}
  due = {}
  parked_delta = {}
end
local function count_parked(handler, delta)
  parked_delta[handler] = (parked_delta[handler] or 0) + delta
end
-- Where each job of this batch went ("p" parked, "d" delayed), for a key scheduled twice in one batch.
local placed = {}
for i = 1, n do
  local base = first_job_arg + 7 * (i - 1)
  local id = ids[i]
  local g = tonumber(ARGV[base + 1])
  local handler = ARGV[2 + g]
  local run_at = tonumber(ARGV[base + 2])
  local key = ARGV[base + 3]
  local priority = tonumber(ARGV[base + 4])
  local upsert = upserts[i]
  local job_rev = 0
  if upsert then
    rev = rev + 1
    job_rev = rev
    -- A job placed earlier in this batch is written out first, so the removals below see it.
    if placed[id] then flush() end
    -- Upsert: supersede any queued, claimed, parked or dead copy; a claim's late ack is then rejected.
    -- Attempts start again, but a job that was ever claimed keeps a state entry (attempt 0): its next claim
    -- then writes its token, since claim.lua fences a first claim by the absence of state.
    local queued = redis.call("ZREM", group_key(g, 1), id) + redis.call("ZREM", group_key(g, 2), id)
    local was_claimed = redis.call("ZREM", group_key(g, 3), id) == 1
    queued = queued + redis.call("ZREM", KEYS[7], id)
    if was_claimed then queued = queued + 1 end
    -- A one-off job in no queue is parked (its list entry stays behind; advance-parked.lua skips it).
    local before = existing_headers[id]
    if placed[id] == "p"
      or (not placed[id] and queued == 0 and before and is_one_off(before)) then
      count_parked(handler, -1)
    end
    if redis.call("HDEL", KEYS[4], id) == 1 or was_claimed then redis.call("HSET", KEYS[4], id, "0||") end
    redis.call("SREM", KEYS[8], id)
  end
  bodies[#bodies + 1] = id
  bodies[#bodies + 1] = schedule_body(codes[g], ARGV[base + 5], ARGV[base + 2], upsert and job_rev,
    ARGV[base + 6])
  if key ~= "" then redis.call("HSET", KEYS[2], key, id) end
  -- A new id is not a job (checked above), so it has no priority entry: only an upsert can leave one behind.
  if priority ~= 0 then redis.call("HSET", KEYS[3], id, priority) elseif upsert then redis.call("HDEL", KEYS[3], id) end
  local list = due[g]
  if not list then
    list = {}
    due[g] = list
  end
  if slots[g] then
    list[#list + 1] = id
    count_parked(handler, 1)
    placed[id] = "p"
  else
    -- The score string exactly as Node sent it (the same number, without a trip through a Lua double).
    list[#list + 1] = ARGV[base + 2]
    list[#list + 1] = id
    if run_at < heads[g] then
      wake = 1
      heads[g] = run_at
    end
    placed[id] = "d"
  end
  result[#result + 1] = id
  result[#result + 1] = job_rev
  if #bodies >= 2 * CHUNK then flush() end
end
-- Plain jobs: new (checked above), so no upsert, key or priority to write. Their order relative to the full
-- jobs does not matter: every id in the batch is distinct and new, and wake only depends on each group's
-- earliest due time. Counters instead of `#t` (a binary search per use in Lua 5.1).
local j = 0
local nb = #bodies
local score, score_ms = nil, nil
-- Writes out a full chunk; group g's list of due entries starts again, empty.
local function next_chunk(g)
  flush()
  local list = {}
  due[g] = list
  return list
end
for g = 1, groups do
  local code_prefix = "2" .. codes[g]
  local list = due[g] or {}
  due[g] = list
  local nd = #list
  local count = tonumber(ARGV[2 + groups + g])
  if slots[g] and count > 0 then
    local handler = ARGV[2 + g]
    local pushed = 0
    for _ = 1, count do
      j = j + 1
      local id = ids[n + j]
      bodies[nb + 1] = id
      bodies[nb + 2] = code_prefix .. plain_payload[j]
      nb = nb + 2
      nd = nd + 1
      list[nd] = id
      pushed = pushed + 1
      if nb >= 2 * CHUNK then
        count_parked(handler, pushed)
        list, nb, nd, pushed = next_chunk(g), 0, 0, 0
      end
    end
    count_parked(handler, pushed)
  elseif count > 0 then
    local head = heads[g]
    for _ = 1, count do
      j = j + 1
      local id = ids[n + j]
      local run_at = plain_run_at[j]
      -- The score as its decimal digits, made once per distinct due time (a batch's jobs often share one).
      if run_at ~= score_ms then
        score_ms = run_at
        score = string.format("%d", run_at)
      end
      bodies[nb + 1] = id
      bodies[nb + 2] = code_prefix .. plain_payload[j]
      nb = nb + 2
      list[nd + 1] = score
      list[nd + 2] = id
      nd = nd + 2
      if run_at < head then
        wake = 1
        head = run_at
      end
      if nb >= 2 * CHUNK then list, nb, nd = next_chunk(g), 0, 0 end
    end
    heads[g] = head
  end
end
flush()
result[1] = wake
return result
