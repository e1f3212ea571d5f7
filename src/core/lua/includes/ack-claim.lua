-- Acks a claim, fenced by its token: removes the job from in-flight and deletes its body, claim state,
-- user-key mapping (when the key still maps to it) and priority. Shared by ack.lua and complete.lua, whose
-- KEYS[1..5] are: jobs, state, keys, prio, inflight (of the job's handler). `check_keys` / `check_prio`
-- false skip the key and priority lookups (the caller knows the shard has none).
-- Returns 1 acknowledged, -1 no such claimed job, -2 stale token (nothing changed).
local function ack_claim(id, token, check_keys, check_prio)
  if not redis.call("ZSCORE", KEYS[5], id) then
    if redis.call("HEXISTS", KEYS[1], id) == 1 then return -2 end
    return -1
  end
  local _, current = parse_state(redis.call("HGET", KEYS[2], id))
  if current ~= token then return -2 end
  if check_keys then
    local body = redis.call("HGET", KEYS[1], id)
    if body then
      local header = decode_body(body, id)
      if header.k and redis.call("HGET", KEYS[3], header.k) == id then redis.call("HDEL", KEYS[3], header.k) end
    end
  end
  redis.call("ZREM", KEYS[5], id)
  redis.call("HDEL", KEYS[2], id)
  redis.call("HDEL", KEYS[1], id)
  if check_prio then redis.call("HDEL", KEYS[4], id) end
  return 1
end
