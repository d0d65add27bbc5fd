-- wrk script: async POST /ping, each request on a host no other job holds.
-- A job locks its hosts until a worker has run it, so reusing a host while
-- its job is still queued turns the request into a 409 and the benchmark
-- into a lock-conflict benchmark. Hosts are h<thread>_<n> with n never
-- repeating within a run; the bench no-op executor (noop_executor.cpp)
-- takes any literal name as one host, in O(1).
local per_thread = 1000000000
-- Chunked runs (memory benchmark) pass a fresh prefix per wrk invocation.
local prefix = os.getenv("HOST_PREFIX") or "h"
local pattern = os.getenv("TARGET_PATTERN")  -- fixed pattern (ansible run)
local max_requests = tonumber(os.getenv("MAX_REQUESTS_PER_THREAD") or "0")  -- 0: no cap
local counter = 0
local answered = 0
local next_thread = 0
thread_no = 0  -- global: setup() overrides it per thread

function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local target = pattern
  if not target then
    target = string.format("%s%d_%d", prefix, thread_no, counter % per_thread)
    counter = counter + 1
  end
  return wrk.format(nil, "/ping", nil, '{"targets":["' .. target .. '"]}')
end

-- A count-bounded run (memory benchmark) stops each thread at its share.
function response(status, headers, body)
  answered = answered + 1
  if max_requests > 0 and answered >= max_requests then wrk.thread:stop() end
end

-- One JSON line on stdout for the driver (non2xx: 4xx/5xx answers).
function done(summary, latency, requests)
  io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"non2xx":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
