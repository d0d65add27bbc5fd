-- wrk script: clients that submit no-op jobs with back-pressure on and
-- honour it. Each request is an async POST /ping on a host no other job
-- holds (as in submit.lua). A 503 carries Retry-After (exed sends 1 s):
-- the client waits that long before its next request, as a well-behaved
-- client would, instead of hammering the 503 path.
--
-- wrk calls delay() before each request of a connection, in the thread
-- that owns it; a thread's connections share one Lua state, so a 503 adds
-- one pending wait and the next request sent by that thread (in practice
-- the same connection, which becomes writable right after its answer)
-- takes it. Every 503 therefore costs exactly one Retry-After of silence.
local prefix = os.getenv("HOST_PREFIX") or "c"
local counter = 0
local waits = 0          -- 503s whose Retry-After has not been waited yet
local wait_ms = 1000
accepted, refused, other = 0, 0, 0  -- globals: read per thread in done()
thread_no = 0
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local target = string.format("%s%d_%d", prefix, thread_no, counter)
  counter = counter + 1
  return wrk.format(nil, "/ping", nil, '{"targets":["' .. target .. '"]}')
end

function response(status, headers, body)
  if status == 201 then
    accepted = accepted + 1
  elseif status == 503 then
    refused = refused + 1
    waits = waits + 1
    local after = tonumber(headers["Retry-After"] or "")
    wait_ms = (after and after > 0) and after * 1000 or 1000
  else
    other = other + 1
  end
end

function delay()
  if waits > 0 then
    waits = waits - 1
    return wait_ms
  end
  return 0
end

function done(summary, latency, requests)
  local a, r, o = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    r = r + t:get("refused")
    o = o + t:get("other")
  end
  io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"accepted":%d,"refused":%d,"other":%d,"non2xx":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, a, r, o, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
