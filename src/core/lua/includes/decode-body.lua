-- @include id-time.lua

-- A packed job body (see src/core/codec.ts), format 2 written, format 1 still read:
--   format 2: "2", the handler code ([0-9a-z]*), an optional JSON object of the other non-default header
--             fields, "\n", the payload JSON. "r" absent: the due time in the id (id_time); "r":-1: a cron
--             series left unarmed; "v" absent: revision 0. No code: the handler name is "h" in the JSON.
--   format 1: "1", the header as a JSON object (with "h", "v" and, unless unarmed, "r"), "\n", the payload.
-- Decoded, a header has `hc` (the code) or `h` (the name), `r` (nil when unarmed) and `v`. The payload is
-- never parsed in Lua.

-- Returns the header and the payload of job `id`'s body.
local function decode_body(body, id)
  local nl = string.find(body, "\n", 1, true)
  if string.byte(body, 1) == 49 then
    return cjson.decode(string.sub(body, 2, nl - 1)), string.sub(body, nl + 1)
  end
  local code = string.match(body, "^[0-9a-z]*", 2)
  local json_start = 2 + #code
  local header
  if json_start < nl then header = cjson.decode(string.sub(body, json_start, nl - 1)) else header = {} end
  if code ~= "" then header.hc = code end
  if header.r == nil then header.r = id_time(id) elseif header.r == -1 then header.r = nil end
  if header.v == nil then header.v = 0 end
  return header, string.sub(body, nl + 1)
end
