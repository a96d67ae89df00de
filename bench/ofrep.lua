-- wrk script of ofrep_bench.py: POST bodies rotate over 100 evaluation contexts, or with
-- "unique" every request names a new user (no answer the API keeps can serve it).
-- Arguments after "--": the request path, an API key ("-" for none), "repeat" or "unique".
-- done() prints one JSON line (prefixed "WRK_JSON ") that ofrep_bench.py reads.

local requests = {}
local count = 0
local n = 0
local unique = false
local path = "/"
local headers = {}
local countries = { "US", "CA", "DE", "FR", "BR" }
local plans = { "pro", "free", "team" }
local versions = { "2.4.0", "2.6.1", "3.0.0" }

local function body(i, user)
  local domain = (i % 4 == 0) and "example.com" or "mail.test"
  return string.format(
    '{"context":{"targetingKey":"%s","country":"%s","plan":"%s",' ..
    '"email":"%s@%s","app_version":"%s"}}',
    user, countries[i % 5 + 1], plans[i % 3 + 1], user, domain, versions[i % 3 + 1])
end

function init(args)
  path = args[1] or "/"
  headers = { ["Content-Type"] = "application/json" }
  if args[2] and args[2] ~= "-" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  unique = args[3] == "unique"
  for i = 0, 99 do
    requests[i + 1] = wrk.format("POST", path, headers, body(i, "user-" .. i))
  end
  n = #requests
  -- Each wrk thread runs its own copy: a random prefix keeps their users apart.
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  prefix = string.format("u%08x-", math.random(0, 0x7fffffff))
end

function request()
  count = count + 1
  if unique then
    return wrk.format("POST", path, headers, body(count % 100, prefix .. count))
  end
  return requests[count % n + 1]
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
