-- wrk script for bench/run.py. Driven by environment variables so one file serves every run:
--   BENCH_METHOD, BENCH_BODY, BENCH_CONTENT_TYPE, BENCH_AUTH   a static request
--   BENCH_UPDATE_PLANTS (comma-separated plantIds) + BENCH_RUN  plant/config/update bodies, each
--     with its own configUpdateReqCode, cycling over the plants (a repeated code would be replayed,
--     not applied: CONTRACT §6)
-- done() prints one JSON line that run.py parses: requests, duration and latency in microseconds.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH")
local plants_env = os.getenv("BENCH_UPDATE_PLANTS")
local run_id = os.getenv("BENCH_RUN") or tostring(os.time())

wrk.method = method
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
end
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local thread_number = 0
function setup(thread)
  thread_number = thread_number + 1
  thread:set("tid", thread_number)
end

if plants_env and plants_env ~= "" then
  local plants = {}
  for plant in string.gmatch(plants_env, "[^,]+") do
    plants[#plants + 1] = plant
  end
  local schedule = '[{"from":"00:00","to":"12:00","pBatMax":40,"pBatMin":-40,"socMax":90,'
    .. '"socMin":20},{"from":"12:00","to":"23:59","pBatMax":50,"pBatMin":-50,"socMax":95,'
    .. '"socMin":10}]'
  local counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  request = function()
    counter = counter + 1
    local plant = plants[(counter % #plants) + 1]
    local payload = string.format(
      '{"plantId":"%s","configUpdateReqCode":"bench-%s-%d-%d","validateOnly":false,'
        .. '"timeConfigs":%s}',
      plant, run_id, tid or 0, counter, schedule
    )
    return wrk.format(nil, nil, nil, payload)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,'
      .. '"max_us":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,'
      .. '"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout
  ))
end
