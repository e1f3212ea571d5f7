-- @include id-time.lua

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
