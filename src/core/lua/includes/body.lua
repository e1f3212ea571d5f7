-- A packed job body (see src/core/codec.ts), format 2 written, format 1 still read:
--   format 2: "2", the handler code ([0-9a-z]*), an optional JSON object of the other non-default header
--             fields, "\n", the payload JSON. "r" absent: the due time in the id (id_time); "r":-1: a cron
--             series left unarmed; "v" absent: revision 0. No code: the handler name is "h" in the JSON.
--   format 1: "1", the header as a JSON object (with "h", "v" and, unless unarmed, "r"), "\n", the payload.
-- Decoded, a header has `hc` (the code) or `h` (the name), `r` (nil when unarmed) and `v`. The payload is
-- never parsed in Lua.

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

-- Encodes a decoded header back into a (format-2) body for job `id`.
local function encode_body(header, payload, id)
  local fields = {}
  local any = false
  for name, value in pairs(header) do
    if name ~= "hc" and name ~= "r" and name ~= "v" and not (name == "h" and header.hc) then
      fields[name] = value
      any = true
    end
  end
  if header.r == nil then
    fields.r = -1
    any = true
  elseif header.r ~= id_time(id) then
    fields.r = header.r
    any = true
  end
  if header.v and header.v ~= 0 then
    fields.v = header.v
    any = true
  end
  return "2" .. (header.hc or "") .. (any and cjson.encode(fields) or "") .. "\n" .. payload
end

-- The header of occurrence `occurrence` of a series: what a retry or redelivery of it needs.
local function occurrence_header(series, series_id, occurrence)
  return { h = series.h, hc = series.hc, r = occurrence, v = series.v, m = series.m, x = series.x,
           p = series.p, b = series.b, s = series_id, o = occurrence }
end

-- Whether a decoded header is a one-off job: not a series (everyMs, cron) nor an occurrence of one. Only
-- one-off jobs are parked (src/core/parking.ts), so a one-off job in none of its queues is parked.
local function is_one_off(header)
  return not (header.c or header.e or header.s)
end

-- What cancel and replay-dead compare with the handler Node read: the code, or the name when there is none.
local function handler_ref(header)
  return header.hc or header.h
end

-- The body schedule.lua writes: `extras` is "" or the JSON object Node encoded (codec.ts
-- encodeScheduleExtras). An upsert adds its revision and its due time (the id's time is an older one).
-- A '"r":' in extras can only be the key r (quotes inside strings are escaped).
local function schedule_body(code, extras, run_at, rev, payload)
  if rev then
    local fields = '"v":' .. rev
    if not string.find(extras, '"r":', 1, true) then fields = '"r":' .. run_at .. "," .. fields end
    if extras == "" then extras = "{" .. fields .. "}" else extras = "{" .. fields .. "," .. string.sub(extras, 2) end
  end
  return "2" .. code .. extras .. "\n" .. payload
end

-- The claim state is "attempt|token|reason|error"; the error text is last because it may contain "|".
local function parse_state(raw)
  if not raw then return 0, "" end
  local a, t = string.match(raw, "^(%d+)|([^|]*)")
  return tonumber(a) or 0, t or ""
end

-- The attempt of a job in flight, from its state: no state is a job's first claim, which writes none
-- (claim.lua), so attempt 1.
local function inflight_attempt(raw)
  if not raw then return 1 end
  return (parse_state(raw))
end

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

local DEFAULT_MAX_ATTEMPTS = 3
