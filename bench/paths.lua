-- wrk script: GET the paths of the file BENCH_PATHS (one per line) in turn, with the header
-- "Authorization: BENCH_AUTH" when it is set.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local auth = os.getenv("BENCH_AUTH")
local threads = 0

setup = function(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

init = function(args)
  n = thread_id * 7919
end

request = function()
  n = n + 1
  local headers = {}
  if auth and auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end
