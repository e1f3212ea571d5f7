-- @include decode-body.lua

-- The header as claim needs it: decoded only when it has a field claim acts on (x expiresAt, e everyMs,
-- c cron), otherwise nil, so most jobs skip cjson (about a quarter of claim's CPU when it decoded every
-- header). In header JSON a quote inside a string is escaped, so '"x":' before the newline can only be
-- the key x; a match after the newline is in the payload and does not count. No substring is made. A
-- format-2 body of a plain job has no JSON at all: a header JSON ends with "}" right before the newline,
-- so without one the payload is not searched.
local function claim_header(body, id)
  local nl = string.find(body, "\n", 1, true)
  if string.byte(body, nl - 1) ~= 125 then return nil end
  local at = string.find(body, '"x":', 2, true)
  if not (at and at < nl) then at = string.find(body, '"e":', 2, true) end
  if not (at and at < nl) then at = string.find(body, '"c":', 2, true) end
  if at and at < nl then return (decode_body(body, id)) end
  return nil
end
