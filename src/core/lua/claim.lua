--[[
  claim: promotes each handler's due jobs into its ready queue, then takes ready jobs, within the
  handler's claim deadline (its rate-limit reservation) and in-flight cap, into in-flight with a lease deadline and a fresh claim token,
  and counts the attempt. Expired jobs go to dead (reason "expired"); a series claimed after its
  expiresAt ends as completed instead (nothing in dead: its end is the normal end of a series, reported
  as "series ended", reason series-expired), its pending occurrence not run. Claiming a recurring series creates
  the occurrence "<id>@<occurrence ms>" and arms the series' next occurrence in the same step: the
  interval series is computed here, a cron series uses the nextRunAt Node precomputed, or, when that is
  missing or already past, is left unarmed in `arm` for Node, with the claim time (`a`) Node arms the next
  occurrence after.

  Promote and claim are one script so that one round trip does both. Ranks and the aging rule are
  promote's (includes/promote.lua). When the ready queue is empty and no priority can reorder the due jobs
  (none in the shard, for a handler without limits; or none among them, when the budget takes them all),
  the jobs it would claim go from delayed straight to in-flight, in due order: the same jobs in the same
  order as promoting and popping, without two sorted-set writes and a rank per job. A handler whose rate
  limit or in-flight cap leaves no budget only has its due jobs promoted: its backlog waits in its own
  ready queue and blocks no other.

  Rate limits are not counted here: the tick reserves a rate-limited handler's claims over all shards
  first (rate-reserve.lua) and passes the number granted as the group's budget, with the reservation's
  claim deadline. The deadline is Redis time: when any group has one, this script reads TIME once, and a
  group whose deadline has passed claims nothing (it only promotes). The reply starts with that Redis time,
  which the tick settles the reservation with (rate-settle.lua). Without a deadline, no TIME call.

  KEYS[1]  jobs      HASH id -> packed body
  KEYS[2]  state     HASH id -> "attempt|token|reason|error"
  KEYS[3]  dead      ZSET id -> failedAt
  KEYS[4]  arm       SET  cron series ids that need Node to compute their next occurrence
  KEYS[5]  keys      HASH user key -> id
  KEYS[6]  prio      HASH id -> priority
  KEYS[7 + 3*(g-1)], KEYS[8 + 3*(g-1)], KEYS[9 + 3*(g-1)]  delayed:<h>, ready:<h>, inflight:<h>

  ARGV[1]  now ms
  ARGV[2]  token prefix (random, from Node: Lua has no good randomness)
  ARGV[3]  aging step ms per unit of priority
  ARGV[4]  most jobs to promote per handler
  then 5 values per group g: handler name, most jobs to claim (0: promote only), claim deadline
           (Redis TIME ms of its rate-limit reservation; -1: not rate-limited), in-flight cap (-1: none),
           lease ms

  Returns: { expired, claimed at (Redis TIME ms, read when a group has a claim deadline; else -1),
             series ended (series that completed in this call: past expiresAt, or no occurrence left
             before it), claimed_id, body, attempt, ... }. The claim token of a claimed job is
  "<lease deadline ms>.<token prefix>.<claimed id>" (the deadline is now + the handler's lease, as "%d"
  formats it), so it is not repeated in the reply.
]]
-- @include decode-body.lua
-- @include claim-header.lua
-- @include encode-body.lua
-- @include occurrence-header.lua
-- @include parse-state.lua
-- @include promote.lua

local now = tonumber(ARGV[1])
local token_prefix = ARGV[2]
local step = tonumber(ARGV[3])
local promote_limit = tonumber(ARGV[4])
local result = { 0, -1, 0 }
local expired = 0
local series_ended = 0
local groups = (#ARGV - 4) / 5

-- Redis time, once, when some group is rate-limited: its reservation is valid until its deadline.
local redis_now = nil
for g = 1, groups do
  if tonumber(ARGV[7 + 5 * (g - 1)]) >= 0 then
    local t = redis.call("TIME")
    redis_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    result[2] = redis_now
    break
  end
end

local function to_dead(id, attempt, reason)
  redis.call("ZADD", KEYS[3], now, id)
  redis.call("HSET", KEYS[2], id, attempt .. "||" .. reason .. "|" .. reason)
end

-- Removes a finished series: its body, pending arming, priority and key mapping (if the key is still its).
local function end_series(id, header)
  redis.call("HDEL", KEYS[1], id)
  redis.call("SREM", KEYS[4], id)
  redis.call("HDEL", KEYS[6], id)
  if header.k and redis.call("HGET", KEYS[5], header.k) == id then redis.call("HDEL", KEYS[5], header.k) end
end

-- Arms the next occurrence of a series just fired at `occurrence`; returns false when the series is over.
local function arm_series(id, header, occurrence, delayed)
  header.l = occurrence
  if header.e then
    local next_at = occurrence + header.e
    if next_at <= now then
      -- Catch-up policy: after an outage the missed occurrence fires once, then the series goes on from now.
      next_at = occurrence + header.e * (math.floor((now - occurrence) / header.e) + 1)
    end
    if header.x and next_at > header.x then return false end
    header.r = next_at
    redis.call("ZADD", delayed, next_at, id)
  else
    if header.n and header.n > now and not (header.x and header.n > header.x) then
      header.r = header.n
      redis.call("ZADD", delayed, header.r, id)
    else
      -- Unarmed: Node arms the first occurrence after this claim, even if it only gets to it later.
      header.r = nil
      header.a = now
    end
    header.n = nil
    redis.call("SADD", KEYS[4], id)
  end
  return true
end

-- Writes the job of a series' pending occurrence "<id>@<occurrence ms>"; returns its id and body.
local function write_occurrence(id, header, payload)
  local occurrence = header.r
  local claim_id = id .. "@" .. string.format("%d", occurrence)
  local claim_body = encode_body(occurrence_header(header, id, occurrence), payload, claim_id)
  redis.call("HSET", KEYS[1], claim_id, claim_body)
  -- The occurrence keeps the series' priority when it is retried or redelivered.
  if header.p then redis.call("HSET", KEYS[6], claim_id, header.p) end
  return claim_id, claim_body
end

-- A series claimed after its expiresAt (a late tick): it ends as completed, as it would have at its last
-- occurrence before expiresAt. Its pending occurrence does not run (nothing runs after expiresAt) and goes
-- nowhere: a dead entry would trip the dead-task alarm for a series that simply ended, and a replay of it
-- could not restart a finished series anyway. The tick reports the end (SeriesEnded, reason series-expired).
local function expire_series(id, body)
  local header = decode_body(body, id)
  end_series(id, header)
  redis.call("HDEL", KEYS[2], id)
  series_ended = series_ended + 1
end

-- Fires a recurring series: writes the occurrence and re-arms (or completes) the series. Returns the
-- occurrence's id and body.
local function fire_series(id, body, delayed)
  local header, payload = decode_body(body, id)
  local occurrence = header.r
  local claim_id, claim_body = write_occurrence(id, header, payload)
  if arm_series(id, header, occurrence, delayed) then
    redis.call("HSET", KEYS[1], id, encode_body(header, payload, id))
  else
    -- The series has no occurrence before expiresAt: it is complete.
    end_series(id, header)
    series_ended = series_ended + 1
  end
  return claim_id, claim_body
end

-- Claims the jobs `ids` (already out of their queue), in order, into `inflight`; returns how many it
-- claimed. Bodies and states are read with one HMGET each per chunk, and claims of plain jobs written with
-- one multi-member ZADD and one multi-field HSET: one redis.call per job cost more than the commands
-- themselves (BENCHMARKS.md). A recurring job writes at once, after flushing what is pending, and the jobs
-- after it in its chunk are read again one by one, so every read sees what it saw with one write per job.
--
-- A first claim writes no state (one multi-field HSET less per batch: about a fifth of the end-to-end
-- Redis time, BENCHMARKS.md). A one-off job with no state entry has never been claimed: its claim is
-- attempt 1 and the only claim that id has had, fenced by its token's lease deadline matching its
-- in-flight score (holds_claim in includes/holds-claim.lua). Every step that takes a claimed job out of in-flight and
-- keeps it (requeue, release, fail, upsert, replay) leaves a state entry, so any later claim writes its
-- token. An occurrence of a series always writes its state: its id ("<series>@<ms>") can come back after
-- an upsert of the series.
local function claim_ids(ids, delayed, inflight, deadline)
  local claimed = 0
  local n = #result
  -- "|<deadline>.<token prefix>." : the state of a claim is attempt .. state_token .. id.
  local state_token = "|" .. deadline .. "." .. token_prefix .. "."
  local pending_inflight = {}
  local pending_state = {}
  local pending = 0
  local pending_states = 0
  local function flush()
    if pending > 0 then
      redis.call("ZADD", inflight, unpack(pending_inflight, 1, 2 * pending))
      pending = 0
    end
    if pending_states > 0 then
      redis.call("HSET", KEYS[2], unpack(pending_state, 1, 2 * pending_states))
      pending_states = 0
    end
  end
  for first = 1, #ids, CHUNK do
    local last = math.min(first + CHUNK - 1, #ids)
    local bodies = redis.call("HMGET", KEYS[1], unpack(ids, first, last))
    local states = redis.call("HMGET", KEYS[2], unpack(ids, first, last))
    local reread = false
    for j = 1, last - first + 1 do
      local id = ids[first + j - 1]
      local body = bodies[j]
      local raw_state = states[j]
      if reread then
        body = redis.call("HGET", KEYS[1], id)
        raw_state = redis.call("HGET", KEYS[2], id)
      end
      if not body then
        redis.call("HDEL", KEYS[2], id)
      else
        local attempt = parse_state(raw_state)
        local header = claim_header(body, id)
        if header and header.x and now > header.x then
          if header.e or header.c then
            flush()
            expire_series(id, body)
            reread = true
          else
            to_dead(id, attempt, "expired")
            expired = expired + 1
          end
        else
          local claim_id = id
          local claim_body = body
          local recurring = header and (header.e or header.c)
          if recurring then
            flush()
            claim_id, claim_body = fire_series(id, body, delayed)
            attempt = parse_state(redis.call("HGET", KEYS[2], claim_id))
            reread = true
          end
          attempt = attempt + 1
          pending = pending + 1
          if raw_state or recurring then
            pending_states = pending_states + 1
            pending_state[2 * pending_states - 1] = claim_id
            pending_state[2 * pending_states] = attempt .. state_token .. claim_id
          end
          pending_inflight[2 * pending - 1] = deadline
          pending_inflight[2 * pending] = claim_id
          if recurring then flush() end
          claimed = claimed + 1
          result[n + 1] = claim_id
          result[n + 2] = claim_body
          result[n + 3] = attempt
          n = n + 3
        end
      end
    end
    flush()
  end
  return claimed
end

for g = 1, groups do
  local base = 5 + 5 * (g - 1)
  local budget = tonumber(ARGV[base + 1])
  local claim_deadline = tonumber(ARGV[base + 2])
  local max_in_flight = tonumber(ARGV[base + 3])
  local lease = tonumber(ARGV[base + 4])
  local delayed = KEYS[7 + 3 * (g - 1)]
  local ready = KEYS[8 + 3 * (g - 1)]
  local inflight = KEYS[9 + 3 * (g - 1)]
  local limited = claim_deadline >= 0
  -- A reservation whose deadline passed (the call reached Redis late) claims nothing: its claims could
  -- fall in a window the rate limiter no longer counts them in.
  if limited and redis_now > claim_deadline then budget = 0 end
  if budget > 0 and max_in_flight >= 0 then
    budget = math.min(budget, max_in_flight - redis.call("ZCARD", inflight))
  end

  local claimed = 0
  -- Straight to in-flight when nothing would be ahead of the due jobs in ready: an empty ready queue and
  -- no priority among them (fetched without scores: no rank is needed).
  -- * No priority in the whole shard and no limit on the handler: ranks are due times, so the first
  --   `budget` due jobs are exactly what promoting all of them and popping `budget` would claim; the rest
  --   stay in delayed, in the same order, and are claimed by the next call the same way (a backlog drained
  --   by a bounded consumer never enters ready).
  -- * Otherwise, only when the budget takes all the due jobs and none of them has a priority (a later job
  --   with a priority could rank ahead of the ones left behind; a limited handler's backlog waits in ready,
  --   where the tick sees it).
  local direct = nil
  if budget > 0 and redis.call("ZCARD", ready) == 0 then
    local any_priority = redis.call("HLEN", KEYS[6]) > 0
    -- Nothing can reorder the due jobs: take the first `budget`. Otherwise fetch one more, to see whether
    -- the budget takes them all.
    local unranked = not limited and max_in_flight < 0 and not any_priority
    local fetch = unranked and budget or budget + 1
    direct = redis.call("ZRANGEBYSCORE", delayed, "-inf", now, "LIMIT", 0, math.min(promote_limit, fetch))
    if #direct == 0 or #direct > budget or #direct > promote_limit then
      direct = nil
    elseif any_priority then
      for first = 1, #direct, CHUNK do
        local priorities = redis.call("HMGET", KEYS[6], unpack(direct, first, math.min(first + CHUNK - 1, #direct)))
        for j = 1, #priorities do
          if priorities[j] then direct = nil break end
        end
        if not direct then break end
      end
    end
  end
  if direct then
    remove_promoted(delayed, direct)
    claimed = claim_ids(direct, delayed, inflight, string.format("%d", now + lease))
  else
    local due, ranks = due_ranked(KEYS[6], delayed, now, promote_limit, step)
    move_to_ready(delayed, ready, due, ranks)
    if budget > 0 then
      local popped = redis.call("ZPOPMIN", ready, budget)
      local ids = {}
      for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
      claimed = claim_ids(ids, delayed, inflight, string.format("%d", now + lease))
    end
  end
end
result[1] = expired
result[3] = series_ended
return result
