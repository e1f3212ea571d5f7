-- What cancel and replay-dead compare with the handler Node read: the code, or the name when there is none.
local function handler_ref(header)
  return header.hc or header.h
end
