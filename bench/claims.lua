-- wrk script: POST /v1/offers/{id}/claims, every request from a new user standing at the offer's
-- store, to the offers of BENCH_OFFERS ("offer_id,lat,lng" per line) in turn, with the app keys
-- of BENCH_APP_KEYS (comma-separated) in turn. With BENCH_KEYED=1 each request carries its own
-- Idempotency-Key. A line with a fourth field (a share code) makes its claims name that share.
local offers = {}
for line in io.lines(os.getenv("BENCH_OFFERS")) do offers[#offers + 1] = line end
local run = os.getenv("BENCH_RUN")
local keyed = os.getenv("BENCH_KEYED") == "1"
local keys = {}
for key in os.getenv("BENCH_APP_KEYS"):gmatch("[^,]+") do keys[#keys + 1] = "Bearer " .. key end
local threads = 0

setup = function(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

init = function(args)
  n = 0
end

request = function()
  n = n + 1
  local line = offers[(n + thread_id * 7919) % #offers + 1]
  local offer_id, lat, lng, share = line:match("([^,]+),([^,]+),([^,]+),?([^,]*)")
  local user = run .. "-" .. thread_id .. "-" .. n
  local body = '{"user_id":"' .. user .. '","lat":' .. lat .. ',"lng":' .. lng
  if share ~= "" then body = body .. ',"share":"' .. share .. '"' end
  body = body .. '}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = keys[(n + thread_id) % #keys + 1],
  }
  if keyed then headers["Idempotency-Key"] = user end
  return wrk.format("POST", "/v1/offers/" .. offer_id .. "/claims", headers, body)
end
