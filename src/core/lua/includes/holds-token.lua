-- Whether claim state `raw` holds claim token `token` (a non-empty token): what comparing parse_state's
-- token with it says for a state this code wrote, without the pattern match and its two new strings.
local function holds_token(raw, token)
  if not raw then return false end
  local bar = string.find(raw, "|", 1, true)
  if not bar then return false end
  local last = bar + #token
  return string.find(raw, token, bar + 1, true) == bar + 1
    and (last == #raw or string.byte(raw, last + 1) == 124)
end
