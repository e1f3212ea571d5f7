-- The claim state is "attempt|token|reason|error"; the error text is last because it may contain "|".
local function parse_state(raw)
  if not raw then return 0, "" end
  local a, t = string.match(raw, "^(%d+)|([^|]*)")
  return tonumber(a) or 0, t or ""
end
