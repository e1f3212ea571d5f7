--[[
  idempotency-begin: starts the executions of a batch of tasks of one handler in one shard (the handler
  wrapper's begin step, batched per event-loop turn). For each task, in order:
  1. start fencing: the task must exist, be in flight, and its live claim must be the one the event
     carries (the check an ack makes: holds_claim in includes/holds-claim.lua; the token names the id, so
     an occurrence "<series>@<ms>" is checked too). A task that fails it is a stale start: nothing is
     written, the function does not run.
  2. the idempotency record: write it "in progress" (SET NX), unless a record says the function already
     completed, or is running elsewhere. An orphan (an in-progress record whose execution timed out, or an
     expired record) is taken over in the same step: this script is atomic, so no lock is needed and a
     COMPLETED record is never overwritten.

  Records are Powertools' cache-layer records, byte for byte: key `<prefix>#<md5 of the key>`, JSON
  {"status", "expiration" (s), "in_progress_expiration" (ms), "data"} (Node builds the JSON).

  KEYS[1]    jobs      HASH id -> packed body
  KEYS[2]    state     HASH id -> "attempt|token|reason|error"
  KEYS[3]    inflight  ZSET id -> lease deadline (of the tasks' handler)
  KEYS[3+i]  idempotency record of task i   STRING JSON, with EX

  ARGV[1]    now ms
  ARGV[2]    TTL seconds of a record
  ARGV[3]    the in-progress record (JSON), the same for every task of the batch
  ARGV[3+i]      id of task i          (n = #KEYS - 3 tasks)
  ARGV[3+n+i]    claim token of task i

  Returns: one entry per task: 1 started (record written), 2 running elsewhere (nothing written),
           the COMPLETED record (JSON string, nothing written: a duplicate; also for a task already
           acknowledged, whose job is gone), or a stale start (nothing written):
           -1 cancelled (no job with this id: cancelled, purged, or never scheduled),
           -2 superseded (the job exists, but this claim is not its live one: the lease expired and it was
              requeued or claimed again, the attempt failed or was released, or an upsert replaced it),
           -3 unknown (the token is not a claim token of this id: "<digits>.<prefix>.<id>")
]]
-- @include holds-claim.lua
-- @include record-state.lua

local now = tonumber(ARGV[1])
-- The TTL stays the string it came as: a Lua number would be formatted again for every SET.
local ttl = ARGV[2]
local in_progress = ARGV[3]
local n = #KEYS - 3

-- Whether `token` has the form of a claim token of `id`: "<lease deadline digits>.<prefix>.<id>".
local function names_claim_of(token, id)
  local dot = string.find(token, ".", 1, true)
  if not dot or dot == 1 or string.find(string.sub(token, 1, dot - 1), "%D") then return false end
  local at = #token - #id
  return at > dot and string.byte(token, at) == 46 and string.sub(token, at + 1) == id
end

local out = {}
local CHUNK = 1000
for first = 1, n, CHUNK do
  local last = math.min(first + CHUNK - 1, n)
  local scores = redis.call("ZMSCORE", KEYS[3], unpack(ARGV, 3 + first, 3 + last))
  local states = redis.call("HMGET", KEYS[2], unpack(ARGV, 3 + first, 3 + last))
  for j = 1, last - first + 1 do
    local i = first + j - 1
    local id = ARGV[3 + i]
    local token = ARGV[3 + n + i]
    local record = KEYS[3 + i]
    local stale = nil
    if not names_claim_of(token, id) then
      stale = -3
    elseif not scores[j] then
      if redis.call("HEXISTS", KEYS[1], id) == 1 then
        stale = -2
      else
        -- Gone: a duplicate of a delivery that completed finds its COMPLETED record (nothing written).
        local raw = redis.call("GET", record)
        if raw and record_state(raw, now) == "completed" then out[i] = raw else stale = -1 end
      end
    elseif not holds_claim(states[j], token, scores[j], id) then
      stale = -2
    end
    if stale then
      out[i] = stale
    elseif out[i] == nil then
      if redis.call("SET", record, in_progress, "EX", ttl, "NX") then
        out[i] = 1
      else
        local raw = redis.call("GET", record)
        local state = record_state(raw, now)
        if state == "completed" then
          out[i] = raw
        elseif state == "running" then
          out[i] = 2
        else
          redis.call("SET", record, in_progress, "EX", ttl)
          out[i] = 1
        end
      end
    end
  end
end
return out
