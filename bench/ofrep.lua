-- wrk script of ofrep_bench.py: POST bodies rotate over 100 evaluation contexts.
-- Arguments after "--": the request path and an optional API key.
-- done() prints one JSON line (prefixed "WRK_JSON ") that ofrep_bench.py reads.

local requests = {}
local count = 0
local n = 0

function init(args)
  local path = args[1] or "/"
  local headers = { ["Content-Type"] = "application/json" }
  if args[2] then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  local countries = { "US", "CA", "DE", "FR", "BR" }
  local plans = { "pro", "free", "team" }
  local versions = { "2.4.0", "2.6.1", "3.0.0" }
  for i = 0, 99 do
    local domain = (i % 4 == 0) and "example.com" or "mail.test"
    local body = string.format(
      '{"context":{"targetingKey":"user-%d","country":"%s","plan":"%s",' ..
      '"email":"user-%d@%s","app_version":"%s"}}',
      i, countries[i % 5 + 1], plans[i % 3 + 1], i, domain, versions[i % 3 + 1])
    requests[i + 1] = wrk.format("POST", path, headers, body)
  end
  n = #requests
end

function request()
  count = count % n + 1
  return requests[count]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"max_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
