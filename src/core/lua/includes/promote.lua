-- Promoting due jobs into a ready queue, shared by promote.lua and claim.lua.
--
-- A ready queue is ranked by due ms - priority * aging step: a job that has waited longer than
-- `priority * step` ms is ahead of any job that becomes due later, whatever its priority (the aging rule,
-- why no due job starves). A job enters ready only once it is due, so priority never makes it run early.

-- unpack() of more than ~8000 values fails ("too many results to unpack"): multi-member calls go in chunks.
local CHUNK = 1000

-- The due jobs of a delayed queue, earliest first, at most `limit`: their ids, their ready ranks, and
-- whether any of them has a priority. They are members 0 .. #ids - 1 of `delayed`, which is how
-- remove_promoted takes them out.
local function due_ranked(prio, delayed, now, limit, step)
  local due = redis.call("ZRANGEBYSCORE", delayed, "-inf", now, "WITHSCORES", "LIMIT", 0, limit)
  local count = #due / 2
  local ids = {}
  local ranks = {}
  local prioritised = false
  for first = 1, count, CHUNK do
    local last = math.min(first + CHUNK - 1, count)
    local chunk = {}
    for i = first, last do chunk[#chunk + 1] = due[2 * i - 1] end
    local priorities = redis.call("HMGET", prio, unpack(chunk))
    for j = 1, #chunk do
      local i = first + j - 1
      local priority = priorities[j]
      ids[i] = chunk[j]
      if priority then
        prioritised = true
        ranks[i] = tonumber(due[2 * i]) - tonumber(priority) * step
      else
        ranks[i] = tonumber(due[2 * i])
      end
    end
  end
  return ids, ranks, prioritised
end

-- Removes the jobs due_ranked returned from their delayed queue: by rank, since they are its first members
-- (cheaper than ZREM by id). Call it before anything else writes to `delayed`.
local function remove_promoted(delayed, ids)
  if #ids > 0 then redis.call("ZREMRANGEBYRANK", delayed, 0, #ids - 1) end
end

-- Moves the jobs due_ranked returned into the ready queue with their ranks.
local function move_to_ready(delayed, ready, ids, ranks)
  for first = 1, #ids, CHUNK do
    local last = math.min(first + CHUNK - 1, #ids)
    local zadd = {}
    for i = first, last do
      zadd[#zadd + 1] = ranks[i]
      zadd[#zadd + 1] = ids[i]
    end
    redis.call("ZADD", ready, unpack(zadd))
  end
  remove_promoted(delayed, ids)
end
