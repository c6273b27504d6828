-- wrk script: the same metrics pushed to a Prometheus Pushgateway in the text
-- format (POST /metrics/job/bench). Usage:
--   wrk -t2 -c32 -d10s --latency -s pushgateway.lua URL -- SAMPLES
-- (SAMPLES per request, default 1). A push may not repeat a series, so a body
-- holds SAMPLES distinct series: 10 metrics (5 counters, 5 gauges) with labels
-- host, region, endpoint. With SAMPLES=1, 8 one-series bodies are rotated (like
-- tally_report.lua); otherwise 8 bodies with different values.
requests = {}  -- global: common.lua rotates through it
local regions = { "eu-west", "us-east", "ap-south", "sa-east" }
local endpoints = { "/login", "/search", "/checkout", "/cart", "/home" }

local function body_for(n, variant)
  -- Series s: metric s % 10, host s // 10 (so every (metric, host) pair is unique).
  local by_metric = {}
  for s = 0, n - 1 do
    local series = (n == 1) and variant or s
    local metric = series % 10
    local lines = by_metric[metric] or {}
    lines[#lines + 1] = string.format('{host="web-%d",region="%s",endpoint="%s"} %d',
      math.floor(series / 10), regions[series % 4 + 1], endpoints[series % 5 + 1], 1 + (s + variant) % 7)
    by_metric[metric] = lines
  end
  local out = {}
  for metric = 0, 9 do
    local lines = by_metric[metric]
    if lines then
      local name, kind
      if metric % 2 == 0 then
        name, kind = "bench_requests_" .. metric .. "_total", "counter"
      else
        name, kind = "bench_queue_depth_" .. metric, "gauge"
      end
      out[#out + 1] = "# TYPE " .. name .. " " .. kind
      for _, l in ipairs(lines) do out[#out + 1] = name .. l end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

function init(args)
  local n = tonumber(args[1] or "1")
  local headers = { ["Content-Type"] = "text/plain; version=0.0.4" }
  for variant = 0, 7 do
    requests[#requests + 1] = wrk.format("POST", "/metrics/job/bench", headers, body_for(n, variant))
  end
end

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
