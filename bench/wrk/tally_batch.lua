-- wrk script: batches to tally (POST /v1/metrics/batch).
-- Usage: wrk -t2 -c32 -d10s --latency -s tally_batch.lua URL -- POINTS
-- (POINTS per request, default 100). Point i belongs to series i % 100: 10
-- metrics (5 counters, 5 gauges) x 10 tag combinations (host, region, endpoint).
-- 8 bodies with different values are pre-built per thread in init() and rotated.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
requests = {}  -- global: common.lua rotates through it
local regions = { "eu-west", "us-east", "ap-south", "sa-east" }
local endpoints = { "/login", "/search", "/checkout", "/cart", "/home" }

local function point(i, variant)
  local series = i % 100
  local metric = series % 10
  local name, kind
  if metric % 2 == 0 then
    name, kind = "bench.requests_" .. metric, "counter"
  else
    name, kind = "bench.queue_depth_" .. metric, "gauge"
  end
  return string.format(
    '{"name":"%s","type":"%s","value":%d,"tags":{"host":"web-%d","region":"%s","endpoint":"%s"}}',
    name, kind, 1 + (i + variant) % 7, math.floor(series / 10), regions[series % 4 + 1],
    endpoints[series % 5 + 1])
end

function init(args)
  local n = tonumber(args[1] or "100")
  local headers = tally_headers()
  for variant = 0, 7 do
    local parts = {}
    for i = 0, n - 1 do parts[#parts + 1] = point(i, variant) end
    local body = '{"points":[' .. table.concat(parts, ",") .. "]}"
    requests[#requests + 1] = wrk.format("POST", "/v1/metrics/batch", headers, body)
  end
end

