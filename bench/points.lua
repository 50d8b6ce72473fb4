-- wrk script: GET PATH with lat/lng taken in turn from the file POINTS ("lat,lng" per line).
local path = os.getenv("BENCH_PATH")
local extra = os.getenv("BENCH_QUERY") or ""
local points = {}
for line in io.lines(os.getenv("BENCH_POINTS")) do points[#points + 1] = line end
local i = 0

setup = function(thread)
  thread:set("offset", i)
  i = i + 1
end

init = function(args)
  i = offset * 7919
end

request = function()
  i = i + 1
  local lat, lng = points[(i % #points) + 1]:match("([^,]+),([^,]+)")
  return wrk.format("GET", path .. "?lat=" .. lat .. "&lng=" .. lng .. extra)
end
