--[[
  ack: completes a claimed job, fenced by its claim token. A late ack (the lease expired and the job was
  claimed again, or the job was cancelled or upserted) is rejected and changes nothing.

  KEYS[1]  jobs      HASH id -> packed body
  KEYS[2]  state     HASH id -> "attempt|token|reason|error"
  KEYS[3]  keys      HASH user key -> id
  KEYS[4]  prio      HASH id -> priority
  KEYS[5]  inflight  ZSET id -> lease deadline (of the job's handler)

  ARGV[1]  id
  ARGV[2]  claim token

  Returns:  1 acknowledged, -1 no such claimed job, -2 stale token
]]
-- @include ack-claim.lua

return ack_claims(ARGV, 1, 2, 1, true, true)[1]
