"""The benchmarks that need no ansible: async submit, follow latency, job
listing, memory. Each returns table rows (see run: Row)."""

import os
import subprocess
import time

from benchlib import BenchError, Exed, redis_benchmark, stop_process, wait_until, wrk, free_port
from latency import follow_exed, percentile, xread_baseline

# The Lua scripts of core/jobs/{locks,store}.cpp, copied by behaviour for the
# redis-benchmark baseline (one line each: redis-benchmark sends them as is).
ACQUIRE = ("local busy = {} for i, k in ipairs(KEYS) do local v = redis.call('GET', k) "
           "if v and v ~= ARGV[1] then table.insert(busy, i) end end "
           "if #busy > 0 then return busy end "
           "for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) end return {}")
CREATE = ("local score = redis.call('INCR', KEYS[3]) redis.call('HSET', KEYS[1], unpack(ARGV, 3)) "
          "redis.call('ZADD', KEYS[2], score, ARGV[2]) return score")
# kClaim: status and cancel checks, the lock script, mark running, the
# "running" state event.
CLAIM = ("local st = redis.call('HGET', KEYS[1], 'status') "
         "if redis.call('HGET', KEYS[1], 'cancel') == '1' then return {'cancel'} end "
         "for i = 3, #KEYS do local v = redis.call('GET', KEYS[i]) end "
         "for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[3], 'PX', ARGV[4]) end "
         "redis.call('HSET', KEYS[1], 'status', 'running', 'state', '1', 'worker', ARGV[1], "
         "'startat', ARGV[2]) "
         "redis.call('XADD', KEYS[2], '*', 'type', 'state', 'data', ARGV[5]) return {'ok'}")
# kSettle: kFinish without its early returns (the baseline must do the full
# write; the real script on a random key would return at once and flatter
# Redis), lock release, XACK + XDEL, then take the next entry and read its
# record (the entries the submit mix queued).
SETTLE = ("redis.call('HGET', KEYS[2], 'status') "
          "redis.call('HSET', KEYS[2], 'state', ARGV[4], 'status', ARGV[5], 'error', '', "
          "'finished', ARGV[6]) redis.call('HSET', KEYS[3], ARGV[8], ARGV[9]) "
          "redis.call('XADD', KEYS[4], '*', 'type', 'end', 'data', ARGV[7]) "
          "for i = 2, 4 do redis.call('EXPIRE', KEYS[i], 604800) end "
          "if redis.call('GET', KEYS[5]) == ARGV[10] then redis.call('DEL', KEYS[5]) end "
          "redis.call('XACK', KEYS[1], ARGV[2], ARGV[1]) redis.call('XDEL', KEYS[1], ARGV[1]) "
          "local got = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', 1, "
          "'STREAMS', KEYS[1], '>') "
          "if got then redis.call('HGETALL', 'exed:job:bench') end return {1}")

JID = "__rand_int__-4b1c-9a2e-5f0d3c2b1a00"  # the size of a UUID
FIELDS = ["jid", JID, "state", "1", "status", "queued", "error", "", "operate", "ping",
          "operate_args", '{"targets":["h0_1"]}', "targets", '["h0_1"]', "kind", "executor",
          "ptype", "noop", "pop", "ping", "created", "1700000000000", "startat", "0",
          "finished", "0", "run_timeout", "3600", "worker", "", "cancel", "0"]

# One job = what a submit sends (first 3) + what a worker sends while the
# queue has work (core/runner/runner.cpp: claim, host event, settle).
SUBMIT_MIX = [
    ["EVAL", ACQUIRE, 1, "exed:lock:h__rand_int__", JID, 30000],
    ["EVAL", CREATE, 3, "exed:job:" + JID, "exed:jobs", "exed:jobs:seq", "1700000000000", JID] + FIELDS,
    ["XADD", "exed:queue", "*", "jid", JID],
]
WORKER_MIX = [
    ["EVAL", CLAIM, 3, "exed:job:" + JID, f"exed:job:{JID}:events", "exed:lock:h__rand_int__",
     "w", "1700000000", JID, 30000, '{"status":"running","worker":"w"}'],
    ["XADD", f"exed:job:{JID}:events", "*", "type", "host", "data", '{"h0_1":{"status":0}}'],
    ["EVAL", SETTLE, 5, "exed:queue", "exed:job:" + JID, f"exed:job:{JID}:ret",
     f"exed:job:{JID}:events", "exed:lock:h__rand_int__", "1700000000000-0", "exed-workers", "w",
     "0", "done", "1700000000", '{"state":0,"status":"done","error":""}', "h0_1",
     '{"status":0}', JID],
]


def as_evalsha(client, mix):
    """exed runs its scripts with EVALSHA (core/jobs/script.hpp): so does
    the baseline, after loading them."""
    out = []
    for cmd in mix:
        if cmd[0] == "EVAL":
            sha = client.cmd("SCRIPT", "LOAD", cmd[1])
            cmd = ["EVALSHA", sha.decode() if isinstance(sha, bytes) else sha] + cmd[2:]
        out.append(cmd)
    return out


def jobs_per_s(sock, mix, requests):
    """1 / (sum of per-command times): how many jobs/s Redis alone could
    serve with this command mix from 64 clients."""
    return 1.0 / sum(1.0 / redis_benchmark(sock, cmd, requests) for cmd in mix)


def redis_mix_baseline(ctx):
    """Baseline (b): (submit part, whole job) in jobs/s. Measured once per
    run and shared by the submit and closed-loop rows (same run, same
    figure)."""
    if ctx.redis_mix is None:
        ctx.redis.flush()
        r = ctx.redis.client()
        r.cmd("XGROUP", "CREATE", "exed:queue", "exed-workers", "0", "MKSTREAM")
        r.cmd("HSET", "exed:job:bench", *FIELDS)
        submit_mix, worker_mix = as_evalsha(r, SUBMIT_MIX), as_evalsha(r, WORKER_MIX)
        r.close()
        n = ctx.count(20000)
        b_submit = jobs_per_s(ctx.redis.sock, submit_mix, n)
        b_full = 1.0 / (1.0 / b_submit + 1.0 / jobs_per_s(ctx.redis.sock, worker_mix, n))
        ctx.redis.flush()
        ctx.redis_mix = (b_submit, b_full)
    return ctx.redis_mix


def bench_submit(ctx):
    """Async POST /ping with the no-op executor vs (a) Poco, (b) Redis."""
    port = free_port()
    poco = subprocess.Popen([ctx.poco_echo, str(port), "64"])
    try:
        wait_until(lambda: subprocess.run(["curl", "-s", "-o", "/dev/null", f"127.0.0.1:{port}/"],
                                          timeout=5).returncode == 0, 10, "poco_echo")
        a = wrk(f"http://127.0.0.1:{port}", ctx.seconds(10), script="submit.lua")["rps"]
    finally:
        stop_process(poco)

    b_submit, b_full = redis_mix_baseline(ctx)

    # max_queued lifted: with the default (10000) the backlog is full after
    # ~2 s of this load and the rest of the run measures 503s (see
    # docs/performance.md); this row is about what accepting a job costs.
    exed = ctx.exed("submit", executor="noop", max_queued=10000000)
    try:
        res = wrk(exed.base(), ctx.seconds(20), script="submit.lua")
        r = ctx.redis.client()
        queued = r.cmd("XLEN", "exed:queue")
        r.close()
    finally:
        exed.stop()
    seconds = res["duration_us"] / 1e6
    accepted = res["requests"] - res["non2xx"]
    if res["non2xx"] or res["errors"]:
        ctx.note(f"submit: {res['non2xx']} non-2xx answers, {res['errors']} socket errors")
    submit_rate = accepted / seconds
    run_rate = (accepted - queued) / seconds  # entries leave the queue when the job ended
    ctx.submit_rate = submit_rate
    base = min(a, b_full)
    return [
        ctx.row("async submit, no-op executor, 64 conns (jobs accepted/s)", f"{submit_rate:.0f} jobs/s",
                f"a) Poco {a:.0f}/s; b) Redis mix {b_full:.0f} jobs/s (submit part only {b_submit:.0f})",
                submit_rate / base, "≥ 0.5", submit_rate / base >= 0.5,
                f"p50 {res['p50_us'] / 1000:.1f} ms, p99 {res['p99_us'] / 1000:.1f} ms; "
                "[runner] max_queued lifted (back-pressure off)"),
        ctx.row("same run: jobs finished/s while submits arrive", f"{run_rate:.0f} jobs/s",
                f"b) Redis mix {b_full:.0f} jobs/s", run_rate / b_full, "≥ 0.5 (derived)",
                run_rate / b_full >= 0.5, f"{queued} of {accepted} still queued at the end"),
    ]


def bench_follow(ctx):
    """100 concurrent followers: emitted -> received vs XADD -> XREAD."""
    ctx.redis.flush()
    base = xread_baseline(ctx.redis.sock, readers=100, rounds=9)
    ctx.redis.flush()
    # ping_delay_ms: the host event comes a second after the job starts, so
    # all 100 followers are attached; 100 workers run the 100 jobs at once.
    exed = ctx.exed("follow", executor="noop", threads=200, concurrency=100,
                    sections="[noop]\nping_delay_ms = 1000\n")
    lat = []
    try:
        for rnd in range(3):
            jids = [exed.request("POST", "/ping", {"targets": [f"f{rnd}_{i}"]})[1]["jid"]
                    for i in range(100)]
            lat += follow_exed(exed.port, jids, timeout=30)
    finally:
        exed.stop()
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    b50, b99 = percentile(base, 50), percentile(base, 99)
    return [ctx.row("follow latency, 100 followers (p50 / p99)", f"{p50:.1f} / {p99:.1f} ms",
                    f"XADD→XREAD {b50:.1f} / {b99:.1f} ms", p99 / max(b99, 1.0),
                    "p99 < 20 ms", p99 < 20,
                    f"{len(lat)} events (ratio: p99 vs baseline p99, min 1 ms)")]


# Creates ARGV[1] job records the way RecordIndex::create does (record +
# index entry scored by the sequence), in one call on a plain (not cluster)
# redis; ARGV[2..] are the record's fields. Key names: core/jobs/keys.hpp.
INSERT = """
local n = tonumber(ARGV[1])
for i = 1, n do
  local seq = redis.call('INCR', 'exed:{jobs}:seq')
  local jid = string.format('%08x-0000-4000-8000-%012x', seq, seq)
  redis.call('HSET', 'exed:{' .. jid .. '}:job', 'jid', jid, unpack(ARGV, 2))
  redis.call('ZADD', 'exed:{jobs}:index', seq, jid)
end
return n
"""


def insert_jobs(redis, count, batch=10000):
    fields = FIELDS[2:]  # all but jid
    c = redis.client()
    done = 0
    while done < count:
        n = min(batch, count - done)
        c.cmd("EVAL", INSERT, 0, n, *fields)
        done += n
    c.close()


def bench_listing(ctx):
    ctx.redis.flush()
    exed = ctx.exed("listing", executor="noop", concurrency=0)
    try:
        url = exed.base() + "/jobs?limit=50"
        insert_jobs(ctx.redis, 1000)
        small = wrk(url, ctx.seconds(10), connections=16)
        t = time.monotonic()
        insert_jobs(ctx.redis, ctx.count(1000000) - 1000)
        ctx.note(f"listing: inserted {ctx.count(1000000)} records in {time.monotonic() - t:.0f} s")
        big = wrk(url, ctx.seconds(10), connections=16)
    finally:
        exed.stop()
        ctx.redis.flush()
    ratio = small["rps"] / big["rps"]  # time per request at 1M / at 1k
    return [ctx.row(f"GET /jobs?limit=50 at {ctx.count(1000000)} jobs", f"{big['rps']:.0f} req/s",
                    f"1k jobs {small['rps']:.0f} req/s", ratio, "≤ 2", ratio <= 2,
                    "ratio: time per request, 1M / 1k")]


def submit_count(exed, count, chunk_s=3, max_chunks=60):
    """Submits about `count` jobs: wrk runs for its whole -d even when every
    thread has stopped at its cap, so it runs in short capped chunks."""
    accepted = 0
    for chunk in range(max_chunks):
        if accepted >= count:
            break
        per_thread = max(1, (count - accepted) // 2)
        res = wrk(exed.base(), chunk_s, script="submit.lua",
                  env={"MAX_REQUESTS_PER_THREAD": str(per_thread),
                       "HOST_PREFIX": f"m{time.monotonic_ns()}c{chunk}t"})
        accepted += res["requests"] - res["non2xx"]
    return accepted


def idle_rss_all_plugins(ctx):
    """exed as deployed: [plugins] dirs = <build>/plugins only (ansible,
    salt, common releaser), executor ansible on a 3-host inventory (loading
    it runs ansible-inventory once, a child process: not in exed's RSS),
    salt given only what it needs to load, api_url and username (nothing
    listens there; no request is made while idle).
    Falls back to the no-op executor when the ansible plugin is not built."""
    if not os.path.exists(ctx.ansible_so):
        exed = ctx.exed("memory-idle", executor="noop", all_plugins=True,
                        dirs=[ctx.noop_dir, ctx.plugin_dir])
        how = "ansible executor not built: no-op executor"
    else:
        from bench_ansible import ansible_section, inventory_only
        sections = (ansible_section(ctx, inventory_only(ctx, 3), "idle") +
                    "[salt]\napi_url = http://127.0.0.1:8000\nusername = bench\n")
        exed = ctx.exed("memory-idle", executor="ansible", all_plugins=True,
                        dirs=[ctx.plugin_dir], sections=sections)
        how = "executor ansible (3-host inventory)"
    try:
        time.sleep(2)
        idle = exed.rss_kb() / 1024
    finally:
        exed.stop()
        ctx.redis.flush()
    if len(ctx.plugins_loaded) < 3:
        ctx.note("idle RSS: fewer plugins loaded than built; see the exed error log")
    return ctx.row("idle RSS, all plugins loaded", f"{idle:.1f} MB", "–", None, "< 25 MB",
                   idle < 25, f"{how}; loaded: " + ", ".join(ctx.plugins_loaded))


def bench_memory(ctx):
    """Idle RSS with every real plugin loaded; then, on the no-op executor,
    2 x 50k jobs with job_ttl 5 s: RSS after each batch has run and
    expired; no growth between them."""
    rows = [idle_rss_all_plugins(ctx)]
    ctx.redis.flush()
    exed = ctx.exed("memory", executor="noop", job_ttl=5, concurrency=4)
    try:
        after = []
        per_batch = ctx.count(50000)
        for _ in range(2):
            accepted = submit_count(exed, per_batch)
            r = ctx.redis.client()
            wait_until(lambda: r.cmd("XLEN", "exed:queue") == 0, 240, "the queue to drain", 0.5)
            peak = exed.rss_kb() / 1024
            time.sleep(7)  # job_ttl 5 s: every record has expired
            r.cmd("EVAL", "return 0", 0)
            left = r.cmd("DBSIZE")
            r.close()
            after.append((accepted, peak, exed.rss_kb() / 1024, left))
    finally:
        exed.stop()
        ctx.redis.flush()
    (n1, peak1, rss1, _), (n2, peak2, rss2, left) = after
    growth = rss2 - rss1
    rows.append(ctx.row(f"RSS after {n1 + n2} jobs, expired", f"{rss2:.1f} MB",
                        f"after first {n1}: {rss1:.1f} MB", rss2 / rss1, "no growth (≤ +2 MB)",
                        growth <= 2, f"peaks {peak1:.1f} / {peak2:.1f} MB; {left} redis keys left"))
    return rows
