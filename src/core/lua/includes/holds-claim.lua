-- @include holds-token.lua

-- Whether claim token `token` is the current claim of job `id` in flight, given its state `raw` and its
-- in-flight score `score` (its lease deadline). With a state, the state holds the token. Without one, the
-- job is on its first claim, which writes no state (claim.lua), and no other claim of that id has been
-- made: a claim token is "<lease deadline>.<prefix>.<id>", so its deadline matching the score and its id
-- matching the job are the check.
local function holds_claim(raw, token, score, id)
  if raw then return holds_token(raw, token) end
  local dot = string.find(token, ".", 1, true)
  if not dot then return false end
  local at = #token - #id
  return at > dot and string.byte(token, at) == 46 and string.find(token, id, at + 1, true) == at + 1
    and tonumber(string.sub(token, 1, dot - 1)) == tonumber(score)
end
