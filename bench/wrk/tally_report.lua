-- wrk script: single-point reports to tally (POST /v1/metrics/report).
-- Rotates over 8 tag combinations of one counter; requests are pre-built per
-- thread in init(). Usage: wrk -t2 -c32 -d10s --latency -s tally_report.lua URL
local requests = {}
local next_request = 0

function init(args)
  local regions = { "eu-west", "us-east" }
  local hosts = { "web-1", "web-2", "web-3", "web-4" }
  local headers = { ["Content-Type"] = "application/json" }
  for _, region in ipairs(regions) do
    for _, host in ipairs(hosts) do
      local body = string.format(
        '{"name":"bench.report.requests","type":"counter","value":1,' ..
        '"tags":{"host":"%s","region":"%s","endpoint":"/checkout"}}', host, region)
      requests[#requests + 1] = wrk.format("POST", "/v1/metrics/report", headers, body)
    end
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

-- One machine-readable line for bench/run.sh (latency in microseconds).
function done(summary, latency, requests)
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
