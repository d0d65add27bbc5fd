"""Closed-loop benchmark: clients submit no-op jobs with back-pressure on
(the default [runner] max_queued) and honour its 503 + Retry-After, for a
fixed time; the row is the rate at which jobs were *completed* end to end
(submitted and ended within the window), against baseline (b), the Redis
mix of a whole job measured in the same run (bench_core)."""

from benchlib import BenchError, wrk
from bench_core import redis_mix_baseline


def end_to_end_sample(redis, size=1000):
    """Submit -> end latencies (ms) of an evenly spread sample of the jobs
    in the index, and how many of the sample had ended. The end is the
    Redis-stamped id of the job's "end" event, the start the record's
    `created` (ms, exed's clock: the same host)."""
    c = redis.client()
    try:
        # exed's key names (core/jobs/keys.hpp, docs/architecture.md).
        total = c.cmd("ZCARD", "exed:{jobs}:index")
        if not total:
            return [], 0, 0
        step = max(1, total // size)
        jids = [c.cmd("ZRANGE", "exed:{jobs}:index", i, i)[0] for i in range(0, total, step)][:size]
        for jid in jids:  # pipelined: two commands per job, replies in order
            c.send("HGET", f"exed:{{{jid}}}:job", "created")
            c.send("XREVRANGE", f"exed:{{{jid}}}:events", "+", "-", "COUNT", 1)
        lat = []
        for _ in jids:
            created, last = c.reply(), c.reply()
            if created and last and "end" in last[0][1]:
                lat.append(int(last[0][0].split("-")[0]) - int(created))
        return lat, len(lat), len(jids)
    finally:
        c.close()


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else 0


def bench_closed_loop(ctx):
    _, b_full = redis_mix_baseline(ctx)
    exed = ctx.exed("closed-loop", executor="noop")  # default max_queued: back-pressure on
    try:
        res = wrk(exed.base(), ctx.seconds(20), script="closed_loop.lua")
        r = ctx.redis.client()
        queued = r.cmd("XLEN", "exed:queue")  # entries leave the queue when their job ends
        r.close()
    finally:
        exed.stop()
    if "accepted" not in res:
        raise BenchError("closed_loop.lua printed no counts")
    seconds = res["duration_us"] / 1e6
    completed = res["accepted"] - queued
    rate = completed / seconds
    lat, ended, sampled = end_to_end_sample(ctx.redis)
    if res["other"] or res["errors"]:
        ctx.note(f"closed loop: {res['other']} answers neither 201 nor 503, "
                 f"{res['errors']} socket errors")
    ratio = rate / b_full
    return [ctx.row("closed loop, 64 clients, back-pressure on (jobs completed/s, submit → done)",
                    f"{rate:.0f} jobs/s", f"b) Redis mix {b_full:.0f} jobs/s", ratio, "≥ 0.5",
                    ratio >= 0.5,
                    f"{res['accepted']} accepted ({res['accepted'] / seconds:.0f}/s), "
                    f"{res['refused']} × 503 (client waits Retry-After), {queued} queued at the end; "
                    f"submit → done p50 {pct(lat, 50) / 1000:.1f} s, p99 {pct(lat, 99) / 1000:.1f} s "
                    f"({ended} of {sampled} sampled jobs ended)")]
