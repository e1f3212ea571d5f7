--[[
  promote: moves due jobs from each handler's delayed queue into its ready queue, ranked for claiming
  (rank = due ms - priority * aging step; see includes/promote.lua). The tick's claim.lua promotes by
  itself; this script is for callers that promote without claiming.

  KEYS[1]  prio     HASH id -> priority
  KEYS[2 + 2*(g-1)], KEYS[3 + 2*(g-1)]  delayed:<h>, ready:<h> for group g = 1..G

  ARGV[1]  now ms
  ARGV[2]  most jobs to move per handler
  ARGV[3]  aging step ms per unit of priority

  Returns: the number of jobs moved.
]]
-- @include promote.lua

local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local step = tonumber(ARGV[3])
local moved = 0
for g = 1, (#KEYS - 1) / 2 do
  local delayed = KEYS[2 + 2 * (g - 1)]
  local ready = KEYS[3 + 2 * (g - 1)]
  local ids, ranks = due_ranked(KEYS[1], delayed, now, limit, step)
  move_to_ready(delayed, ready, ids, ranks)
  moved = moved + #ids
end
return moved
