--[[
  claim: takes ready jobs of each handler, within its rate limit and in-flight cap, into in-flight with a
  lease deadline and a fresh claim token, and counts the attempt. Expired jobs go to dead (reason
  "expired"); an expired series ends instead. Claiming a recurring series creates the occurrence
  "<id>@<occurrence ms>" and arms the series' next occurrence in the same step: the interval series is computed here, a cron series uses the
  nextRunAt Node precomputed, or, when that is missing or already past, is left unarmed in `arm` for Node,
  with the claim time (`a`) Node arms the next occurrence after.

  KEYS[1]  jobs      HASH id -> packed body
  KEYS[2]  state     HASH id -> "attempt|token|reason|error"
  KEYS[3]  dead      ZSET id -> failedAt
  KEYS[4]  rate      HASH handler -> "windowSecond:count"
  KEYS[5]  arm       SET  cron series ids that need Node to compute their next occurrence
  KEYS[6]  keys      HASH user key -> id
  KEYS[7]  prio      HASH id -> priority
  KEYS[8 + 3*(g-1)], KEYS[9 + 3*(g-1)], KEYS[10 + 3*(g-1)]  delayed:<h>, ready:<h>, inflight:<h>

  ARGV[1]  now ms
  ARGV[2]  token prefix (random, from Node: Lua has no good randomness)
  then 5 values per group g: handler name, most jobs to claim, per-second limit (-1: none),
           in-flight cap (-1: none), lease ms

  Returns: { expired, claimed_id, body, attempt, token, ... }
           expired counts one-off jobs moved to dead (reason "expired") and series ended because they
           were claimed after their expiresAt (removed, not dead-lettered).
]]
-- @include body.lua

local now = tonumber(ARGV[1])
local token_prefix = ARGV[2]
local window = math.floor(now / 1000)
local result = { 0 }
local expired = 0
local counter = 0

local function to_dead(id, attempt, reason)
  redis.call("ZADD", KEYS[3], now, id)
  redis.call("HSET", KEYS[2], id, attempt .. "||" .. reason .. "|" .. reason)
end

-- Removes a finished series: its body, pending arming, priority and key mapping (if the key is still its).
local function end_series(id, header)
  redis.call("HDEL", KEYS[1], id)
  redis.call("SREM", KEYS[5], id)
  redis.call("HDEL", KEYS[7], id)
  if header.k and redis.call("HGET", KEYS[6], header.k) == id then redis.call("HDEL", KEYS[6], header.k) end
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
    redis.call("SADD", KEYS[5], id)
  end
  return true
end

local groups = (#ARGV - 2) / 5
for g = 1, groups do
  local base = 3 + 5 * (g - 1)
  local handler = ARGV[base]
  local budget = tonumber(ARGV[base + 1])
  local per_second = tonumber(ARGV[base + 2])
  local max_in_flight = tonumber(ARGV[base + 3])
  local lease = tonumber(ARGV[base + 4])
  local delayed = KEYS[8 + 3 * (g - 1)]
  local ready = KEYS[9 + 3 * (g - 1)]
  local inflight = KEYS[10 + 3 * (g - 1)]
  local used = 0
  if max_in_flight >= 0 then
    budget = math.min(budget, max_in_flight - redis.call("ZCARD", inflight))
  end
  if per_second >= 0 then
    local raw = redis.call("HGET", KEYS[4], handler)
    if raw then
      local w, c = string.match(raw, "^(%d+):(%d+)$")
      if tonumber(w) == window then used = tonumber(c) end
    end
    budget = math.min(budget, per_second - used)
  end
  if budget > 0 then
    local popped = redis.call("ZPOPMIN", ready, budget)
    local claimed = 0
    local deadline = now + lease
    -- Claims of plain jobs are written with one multi-member ZADD and one multi-field HSET: one redis.call
    -- per job cost more than the commands themselves (BENCHMARKS.md). A recurring job flushes first and
    -- writes at once, so every read in this loop sees what it saw with one write per job.
    local pending_inflight = {}
    local pending_state = {}
    local function flush()
      if #pending_inflight > 0 then
        redis.call("ZADD", inflight, unpack(pending_inflight))
        redis.call("HSET", KEYS[2], unpack(pending_state))
        pending_inflight = {}
        pending_state = {}
      end
    end
    for i = 1, #popped, 2 do
      local id = popped[i]
      local body = redis.call("HGET", KEYS[1], id)
      if not body then
        redis.call("HDEL", KEYS[2], id)
      else
        local attempt = parse_state(redis.call("HGET", KEYS[2], id))
        -- The header only, and only when it has a field this loop reads (see peek_header).
        local header, nl = peek_header(body, id)
        if header.x and now > header.x then
          if header.e or header.c then
            -- A series claimed after expiresAt is over: no occurrence runs after it, and it ends as cleanly
            -- as a series whose next occurrence falls after expiresAt. Counted as expired, not dead-lettered:
            -- reaching the end of a series is not a failure (and must not trip the dead-letter alarm).
            end_series(id, header)
            redis.call("HDEL", KEYS[2], id)
          else
            to_dead(id, attempt, "expired")
          end
          expired = expired + 1
        else
          local claim_id = id
          local claim_body = body
          local recurring = header.e or header.c
          if recurring then
            flush()
            local payload = string.sub(body, nl + 1)
            local occurrence = header.r
            claim_id = id .. "@" .. string.format("%d", occurrence)
            claim_body = encode_body(occurrence_header(header, id, occurrence), payload, claim_id)
            redis.call("HSET", KEYS[1], claim_id, claim_body)
            -- The occurrence keeps the series' priority when it is retried or redelivered.
            if header.p then redis.call("HSET", KEYS[7], claim_id, header.p) end
            if arm_series(id, header, occurrence, delayed) then
              redis.call("HSET", KEYS[1], id, encode_body(header, payload, id))
            else
              -- The series has no occurrence before expiresAt: it is complete.
              end_series(id, header)
            end
            attempt = parse_state(redis.call("HGET", KEYS[2], claim_id))
          end
          attempt = attempt + 1
          counter = counter + 1
          local token = token_prefix .. "." .. counter
          pending_state[#pending_state + 1] = claim_id
          pending_state[#pending_state + 1] = attempt .. "|" .. token
          pending_inflight[#pending_inflight + 1] = deadline
          pending_inflight[#pending_inflight + 1] = claim_id
          if recurring or #pending_inflight >= 2000 then flush() end
          claimed = claimed + 1
          result[#result + 1] = claim_id
          result[#result + 1] = claim_body
          result[#result + 1] = attempt
          result[#result + 1] = token
        end
      end
    end
    flush()
    if per_second >= 0 then
      redis.call("HSET", KEYS[4], handler, window .. ":" .. (used + claimed))
    end
  end
end
result[1] = expired
return result
