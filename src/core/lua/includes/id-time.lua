-- The due time an id carries: base-62 digits 1-7 of a 14-character job id, the time after "@" of an
-- occurrence id, or nil (a format-1 ULID). Same rule as idTimeOf in src/core/ids.ts.
local function id_time(id)
  local at = string.find(id, "@", 1, true)
  if at then return tonumber(string.sub(id, at + 1)) end
  if #id ~= 14 then return nil end
  local value = 0
  for i = 1, 7 do
    local c = string.byte(id, i)
    local digit
    if c >= 48 and c <= 57 then digit = c - 48
    elseif c >= 65 and c <= 90 then digit = c - 55
    elseif c >= 97 and c <= 122 then digit = c - 61
    else return nil end
    value = value * 62 + digit
  end
  return value
end
