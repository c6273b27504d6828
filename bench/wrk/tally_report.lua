-- wrk script: single-point reports to tally (POST /v1/metrics/report).
-- Rotates over 8 tag combinations of one counter; requests are pre-built per
-- thread in init(). Usage: wrk -t2 -c32 -d10s --latency -s tally_report.lua URL
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
requests = {}  -- global: common.lua rotates through it

function init(args)
  local regions = { "eu-west", "us-east" }
  local hosts = { "web-1", "web-2", "web-3", "web-4" }
  local headers = tally_headers()
  for _, region in ipairs(regions) do
    for _, host in ipairs(hosts) do
      local body = string.format(
        '{"name":"bench.report.requests","type":"counter","value":1,' ..
        '"tags":{"host":"%s","region":"%s","endpoint":"/checkout"}}', host, region)
      requests[#requests + 1] = wrk.format("POST", "/v1/metrics/report", headers, body)
    end
  end
end

