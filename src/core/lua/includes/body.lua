-- A packed job body is: one format-version byte ("1"), the header as a JSON object, "\n", the payload JSON.
-- The header is decoded on its own, so the payload is never parsed in Lua.
local function decode_body(body)
  local nl = string.find(body, "\n", 1, true)
  return cjson.decode(string.sub(body, 2, nl - 1)), string.sub(body, nl + 1)
end

-- The header as claim needs it: decoded only when it has a field claim acts on (x expiresAt, e everyMs,
-- c cron), otherwise nil, so most jobs skip cjson (about a quarter of claim's CPU when it decoded every
-- header). In header JSON a quote inside a string is escaped, so '"x":' before the newline can only be
-- the key x; a match after the newline is in the payload and does not count. No substring is made.
local function claim_header(body)
  local nl = string.find(body, "\n", 1, true)
  local at = string.find(body, '"x":', 2, true)
  if not (at and at < nl) then at = string.find(body, '"e":', 2, true) end
  if not (at and at < nl) then at = string.find(body, '"c":', 2, true) end
  if at and at < nl then return cjson.decode(string.sub(body, 2, nl - 1)) end
  return nil
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
