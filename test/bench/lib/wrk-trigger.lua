-- wrk script for the bench: POST a JSON body to the trigger path, rotating through bearer tokens,
-- and print the summary as one JSON line that test/bench/lib/wrk.ts reads.
--
--   wrk -t1 -c50 -d3s --latency -s wrk-trigger.lua http://127.0.0.1:PORT/v1/trigger/chat -- TOKENS_FILE [BODY [ACCEPT]]
--
-- TOKENS_FILE has one token per line. Every request is formatted once, in init(): request() only
-- hands out the next pre-built string, so the rotation costs wrk one Lua call per request.

local requests = {}
local count = 0
local index = 0

function init(args)
  local path = args[1]
  if path == nil then
    error("wrk-trigger.lua: pass the tokens file after --, e.g. wrk ... URL -- tokens.txt")
  end
  local body = args[2] or '{"message":"hello world"}'
  local accept = args[3]
  local file = io.open(path, "r")
  if file == nil then
    error("wrk-trigger.lua: cannot read the tokens file " .. path)
  end
  for line in file:lines() do
    local token = line:gsub("%s+$", "")
    if #token > 0 then
      count = count + 1
      local headers = {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
      }
      if accept ~= nil and #accept > 0 then headers["Accept"] = accept end
      requests[count] = wrk.format("POST", nil, headers, body)
    end
  end
  file:close()
  if count == 0 then
    error("wrk-trigger.lua: the tokens file " .. path .. " has no tokens (one per line)")
  end
end

function request()
  index = index % count + 1
  return requests[index]
end

-- done() runs once, after every thread has finished; latency figures are in microseconds.
function done(summary, latency, _)
  local e = summary.errors
  local percentiles = {}
  for _, p in ipairs({ 50, 75, 90, 99, 99.9 }) do
    percentiles[#percentiles + 1] = string.format('"%s":%d', tostring(p), latency:percentile(p))
  end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.2f,"max":%d,"stdev":%.2f,%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev, table.concat(percentiles, ",")))
end
