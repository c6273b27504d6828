-- Shared by the wrk scripts: rotate through the pre-built `requests` table and
-- print one machine-readable line for bench/run.sh (latency in microseconds).
-- Each script fills the global `requests` in init() and loads this file with
--   dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

next_request = 0

-- Request headers for tally: JSON, plus the API key from $TALLY_API_KEY when set
-- (bench/run.sh exports the key the first start wrote to admin.key).
function tally_headers()
  local headers = { ["Content-Type"] = "application/json" }
  local key = os.getenv("TALLY_API_KEY")
  if key ~= nil and key ~= "" then headers["Authorization"] = "Bearer " .. key end
  return headers
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function done(summary, latency, requests)
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
