-- The scale-out benchmark's load through wrk (a C load generator: its requests cost the two cores
-- next to nothing, where Python clients cost about a sixth of them). Called by bench_scaleout.py:
--   wrk -t1 -cN -dS -s benchmarks/wrk_load.lua URL -- validate TOKEN
--   wrk -t1 -cN -dS -s benchmarks/wrk_load.lua URL -- intake TOKEN FILE   (one JSON event per line)
-- Validation cycles through the seeded codes 40-10.00.00 … 40-49.00.00; intake sends each line once,
-- then stops (a second pass would only measure duplicates).
local mode, headers
local bodies, n, answered = {}, 0, 0

function init(args)
  mode = args[1]
  headers = { ["Authorization"] = "Bearer " .. args[2], ["Content-Type"] = "application/json" }
  if mode == "intake" then
    for line in io.lines(args[3]) do bodies[#bodies + 1] = line end
  end
end

function request()
  n = n + 1
  if mode == "intake" then
    return wrk.format("POST", "/api/v1/lineage", headers, bodies[((n - 1) % #bodies) + 1])
  end
  local path = string.format("/api/v1/validate/codes?scheme=szgws-me&code=40-%d.00.00", 10 + n % 40)
  return wrk.format("GET", path, headers)
end

function response(status, _headers, _body)
  answered = answered + 1
  if mode == "intake" and answered >= #bodies then
    wrk.thread:stop()
  end
end
