"""The cost of running plugins in the plugin host (docs/architecture.md,
"Plugins run outside the daemon"): async POST /ping {"targets":["node*"]}
with the real ansible executor on a 100-host inventory, [plugins]
isolation = process (the default: expansion and check are a call to the
plugin host) against isolation = in_process (the plugins loaded into exed),
in the same run, alternated so that machine noise hits both."""

from bench_ansible import ansible_section, expect_409, inventory_only, require_ansible
from benchlib import wrk


def bench_isolation_submit(ctx):
    require_ansible(ctx)
    hosts = inventory_only(ctx, 100)
    env = {"TARGET_PATTERN": "node*"}
    sections = ansible_section(ctx, hosts, "isolation")

    def measure(isolation):
        # `isolation` goes into [plugins], which the config ends with.
        ex = ctx.exed(f"submit-{isolation}", executor="ansible", concurrency=0,
                      sections=f"isolation = {isolation}\n" + sections)
        try:
            rps = wrk(ex.base(), ctx.seconds(10), script="submit.lua", env=env)["rps"]
            expect_409(ex)
            return rps
        finally:
            ex.stop()
            ctx.redis.flush()

    runs = {"process": [], "in_process": []}
    for _ in range(2):
        for isolation in ("in_process", "process"):
            runs[isolation].append(measure(isolation))
    got, base = max(runs["process"]), max(runs["in_process"])
    ratio = got / base
    return [ctx.row("async submit, ansible, isolation = process (plugin host)", f"{got:.0f} req/s",
                    f"isolation = in_process {base:.0f} req/s", ratio, "≥ 0.8", ratio >= 0.8,
                    "requests/s, 409 path, best of 2 alternated runs each: "
                    f"process {[round(r) for r in runs['process']]}, "
                    f"in_process {[round(r) for r in runs['in_process']]}")]
