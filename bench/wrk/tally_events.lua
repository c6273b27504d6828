-- wrk script: LLM call events to tally (POST /v1/events).
-- Usage: wrk -t2 -c16 -d10s --latency -s tally_events.lua URL -- EVENTS
-- (EVENTS per request, default 1000). No ids: tally generates them, so every
-- event is new. 10 models x 2 providers, 1000 entities, tokens, latency, one
-- tag on a third of the events, priced from the table (no cost_usd) on half.
-- 8 bodies are pre-built per thread in init() and rotated.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
requests = {}

local function event(i, variant)
  local m = (i + variant) % 10
  local fields = string.format(
    '"model":"%s","provider":"%s","entity_type":"customer","entity_id":"cust-%d",' ..
    '"input_tokens":%d,"output_tokens":%d,"latency_ms":%d.5,"session_id":"s-%d"',
    m < 5 and ("gpt-4o" .. (m == 0 and "" or "-mini")) or "claude-sonnet-4-5",
    m < 5 and "openai" or "anthropic", (i * 7 + variant) % 1000, 100 + i % 900, 20 + i % 300,
    100 + (i * 13) % 4000, (i + variant * 31) % 200)
  if i % 2 == 0 then fields = fields .. string.format(',"cost_usd":0.00%d', 1 + i % 9) end
  if i % 3 == 0 then fields = fields .. ',"tags":{"feature":"chat"}' end
  return "{" .. fields .. "}"
end

function init(args)
  local n = tonumber(args[1] or "1000")
  local headers = tally_headers()
  for variant = 0, 7 do
    local parts = {}
    for i = 1, n do parts[i] = event(i, variant) end
    local body = '{"events":[' .. table.concat(parts, ",") .. "]}"
    requests[#requests + 1] = wrk.format("POST", "/v1/events", headers, body)
  end
end
