-- Whether a decoded header is a one-off job: not a series (everyMs, cron) nor an occurrence of one. Only
-- one-off jobs are parked (src/core/parking.ts), so a one-off job in none of its queues is parked.
local function is_one_off(header)
  return not (header.c or header.e or header.s)
end
