-- The scale-out benchmark's load through wrk (a C load generator: its requests cost the two cores
-- next to nothing, where Python clients cost about a sixth of them). Called by bench_scaleout.py:
--   wrk -t1 -cN -dS -s benchmarks/wrk_load.lua URL -- validate TOKEN
--   wrk -t1 -cN -dS -s benchmarks/wrk_load.lua URL -- intake TOKEN FILE   (one JSON event per line)
-- Validation cycles through the seeded codes 40-10.00.00 … 40-49.00.00; intake sends each line once,
-- then stops (a second pass would only measure duplicates). wrk's own Requests/sec divides by the
-- whole -d duration even when the lines run out before it ends, so intake prints its own figure:
-- "Intake answered: N from T0 to T1": the first request and the last answer (epoch seconds, by
-- gettimeofday through FFI), so that several wrk at once can be read as one load.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } yima_timeval;
  int gettimeofday(yima_timeval *tv, void *tz);
]]
local clock = ffi.new("yima_timeval")
local function now()
  ffi.C.gettimeofday(clock, nil)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_usec) / 1e6
end

local mode, headers
local bodies, n = {}, 0
-- read by done() through thread:get (each wrk thread has its own Lua state)
answered, started, finished = 0, nil, nil
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  mode = args[1]
  headers = { ["Authorization"] = "Bearer " .. args[2], ["Content-Type"] = "application/json" }
  if mode == "intake" then
    for line in io.lines(args[3]) do bodies[#bodies + 1] = line end
  end
end

function request()
  n = n + 1
  if started == nil then started = now() end
  if mode == "intake" then
    return wrk.format("POST", "/api/v1/lineage", headers, bodies[((n - 1) % #bodies) + 1])
  end
  local path = string.format("/api/v1/validate/codes?scheme=szgws-me&code=40-%d.00.00", 10 + n % 40)
  return wrk.format("GET", path, headers)
end

function response(status, _headers, _body)
  answered = answered + 1
  finished = now()
  if mode == "intake" and answered >= #bodies then
    wrk.thread:stop()
  end
end

function done(_summary, _latency, _requests)
  local total, first, last = 0, nil, nil
  for _, t in ipairs(threads) do
    total = total + (t:get("answered") or 0)
    local s, f = t:get("started"), t:get("finished")
    if s and (first == nil or s < first) then first = s end
    if f and (last == nil or f > last) then last = f end
  end
  if first and last and last > first then
    io.write(string.format("Intake answered: %d from %.6f to %.6f\n", total, first, last))
  end
end
