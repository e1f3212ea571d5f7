-- The header of occurrence `occurrence` of a series: what a retry or redelivery of it needs.
local function occurrence_header(series, series_id, occurrence)
  return { h = series.h, hc = series.hc, r = occurrence, v = series.v, m = series.m, x = series.x,
           p = series.p, b = series.b, s = series_id, o = occurrence }
end
