-- A packed job body is: one format-version byte ("1"), the header as a JSON object, "\n", the payload JSON.
-- The header is decoded on its own, so the payload is never parsed in Lua.
local function decode_body(body)
  local nl = string.find(body, "\n", 1, true)
  return cjson.decode(string.sub(body, 2, nl - 1)), string.sub(body, nl + 1)
end

local function encode_body(header, payload)
  return "1" .. cjson.encode(header) .. "\n" .. payload
end

-- The claim state is "attempt|token|reason|error"; the error text is last because it may contain "|".
local function parse_state(raw)
  if not raw then return 0, "" end
  local a, t = string.match(raw, "^(%d+)|([^|]*)")
  return tonumber(a) or 0, t or ""
end

local DEFAULT_MAX_ATTEMPTS = 3
