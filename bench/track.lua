-- wrk script: POST /v1/track, one point a call, at the points of BENCH_POINTS ("lat,lng" per
-- line) in turn, as BENCH_USERS users of the app whose key is BENCH_APP_KEY (user ids begin
-- with BENCH_RUN). BENCH_MODE "stay": each point always reported by the same user (after a
-- user's first call, nothing changes but its newest point); "move": the users take the points
-- in turn, so most calls move their user from one fence to another (events and writes on most
-- calls).
local points = {}
for line in io.lines(os.getenv("BENCH_POINTS")) do points[#points + 1] = line end
local run = os.getenv("BENCH_RUN")
local users = tonumber(os.getenv("BENCH_USERS"))
local stay = os.getenv("BENCH_MODE") == "stay"
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. os.getenv("BENCH_APP_KEY"),
}
local i = 0

setup = function(thread)
  thread:set("offset", i)
  i = i + 1
end

init = function(args)
  i = offset * 7919
  n = 0
end

request = function()
  i = i + 1
  n = n + 1
  local p = i % #points
  local lat, lng = points[p + 1]:match("([^,]+),([^,]+)")
  local user
  if stay then user = p % users else user = (n * 2 + offset) % users end
  local body = '{"user_id":"' .. run .. "-" .. user .. '","points":[{"lat":' .. lat
    .. ',"lng":' .. lng .. ',"accuracy_m":10}]}'
  return wrk.format("POST", "/v1/track", headers, body)
end
