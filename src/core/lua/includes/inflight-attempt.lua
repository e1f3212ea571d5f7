-- @include parse-state.lua

-- The attempt of a job in flight, from its state: no state is a job's first claim, which writes none
-- (claim.lua), so attempt 1.
local function inflight_attempt(raw)
  if not raw then return 1 end
  return (parse_state(raw))
end
