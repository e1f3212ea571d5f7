-- @include decode-body.lua
-- @include holds-claim.lua

-- Acks claims, fenced by their tokens: removes each job from in-flight and deletes its body, claim state,
-- user-key mapping (when the key still maps to it) and priority. A job on its first claim has no state;
-- its token is checked against its id and lease deadline instead (holds_claim in holds-claim.lua). Shared by
-- ack.lua and complete.lua, whose KEYS[1..5] are: jobs, state, keys, prio, inflight (of the jobs' handler). `check_keys` / `check_prio`
-- false skip the key and priority lookups (the caller knows the shard has none).
-- Scores and states are read with one ZMSCORE and one HMGET per chunk and the removals written with one
-- multi-member command each: one redis.call per job and step cost more than the commands themselves
-- (BENCHMARKS.md). The result is what acking the jobs one after another gives: an id that appears twice
-- is acked once, and its later entries find no claim (-1).
-- The ids are args[ids_at .. ids_at + n - 1] and their tokens args[tokens_at .. tokens_at + n - 1] (ARGV,
-- read in place: no copy per job).
-- Returns one code per job, in order: 1 acknowledged, -1 no such claimed job, -2 stale token (nothing
-- changed for that job).
local function ack_claims(args, ids_at, tokens_at, n, check_keys, check_prio)
  local out = {}
  local acked = {}
  local done = {}
  local CHUNK = 1000
  for first = 1, n, CHUNK do
    local last = math.min(first + CHUNK - 1, n)
    local scores = redis.call("ZMSCORE", KEYS[5], unpack(args, ids_at + first - 1, ids_at + last - 1))
    local states = redis.call("HMGET", KEYS[2], unpack(args, ids_at + first - 1, ids_at + last - 1))
    for j = 1, last - first + 1 do
      local i = first + j - 1
      local id = args[ids_at + i - 1]
      if done[id] then
        out[i] = -1
      elseif not scores[j] then
        -- Not in flight: a job that still exists was claimed again, cancelled or superseded meanwhile.
        out[i] = redis.call("HEXISTS", KEYS[1], id) == 1 and -2 or -1
      elseif not holds_claim(states[j], args[tokens_at + i - 1], scores[j], id) then
        out[i] = -2
      else
        out[i] = 1
        done[id] = true
        acked[#acked + 1] = id
        if check_keys then
          local body = redis.call("HGET", KEYS[1], id)
          if body then
            local header = decode_body(body, id)
            if header.k and redis.call("HGET", KEYS[3], header.k) == id then redis.call("HDEL", KEYS[3], header.k) end
          end
        end
      end
    end
  end
  for first = 1, #acked, CHUNK do
    local last = math.min(first + CHUNK - 1, #acked)
    redis.call("ZREM", KEYS[5], unpack(acked, first, last))
    redis.call("HDEL", KEYS[2], unpack(acked, first, last))
    redis.call("HDEL", KEYS[1], unpack(acked, first, last))
    if check_prio then redis.call("HDEL", KEYS[4], unpack(acked, first, last)) end
  end
  return out
end
