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
