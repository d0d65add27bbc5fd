"""The benchmarks that run the real ansible executor (exed_ansible.so):
async submit with a 100-host inventory, sync ping on one ssh host, fan-out
to 100 loopback sshd hosts. Each raises NotRun when the plugin is not built.

Bare-ansible baselines run the same `ansible` binary against the same sshd
hosts, interleaved with exed's runs so that machine noise hits both."""

import os
import shutil
import statistics
import subprocess
import time
import urllib.error
import urllib.parse

from benchlib import BenchError, wrk
from sshd_hosts import SshHosts


class NotRun(Exception):
    """A benchmark that cannot run here (reported as "not run: ...")."""


def require_ansible(ctx):
    if not os.path.exists(ctx.ansible_so):
        raise NotRun("ansible executor not built")
    if not shutil.which("ansible"):
        raise NotRun("ansible is not installed")


def ansible_section(ctx, hosts, name, forks=10):
    d = os.path.join(ctx.work, "ansible-" + name)
    os.makedirs(os.path.join(d, "playbooks"), exist_ok=True)
    return (f"[ansible]\nworkdir = {d}\ninventory = {hosts.inventory}\nplaybooks = {d}/playbooks\n"
            f"sshkey = {hosts.key}\nknown_hosts = {hosts.known_hosts}\nforks = {forks}\n"
            f"run_dir = {d}/run\n")


def bare_env(ctx, hosts, name, tuned, forks=10):
    """Environment of a bare `ansible` run. Default: ansible's own settings
    (its default ssh_args already hold ControlPersist=60s), only told where
    the key and known_hosts are. Tuned: what executors/ansible/src/
    ansible_env.cpp sets (pipelining, an explicit ControlPersist master,
    pinned interpreter -- exed discovers it once and caches it)."""
    d = os.path.join(ctx.work, "bare-" + name)
    os.makedirs(os.path.join(d, "cp"), exist_ok=True)
    env = {**os.environ, "ANSIBLE_PRIVATE_KEY_FILE": hosts.key, "ANSIBLE_LOCAL_TEMP": d + "/tmp",
           "ANSIBLE_SSH_CONTROL_PATH_DIR": d + "/cp", "ANSIBLE_RETRY_FILES_ENABLED": "False",
           "ANSIBLE_FORKS": str(forks), "ANSIBLE_NOCOLOR": "1"}
    if tuned:
        env.update({"ANSIBLE_PIPELINING": "True",
                    "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s "
                                        f"-o UserKnownHostsFile={hosts.known_hosts}",
                    "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3"})
    else:
        env["ANSIBLE_SSH_EXTRA_ARGS"] = f"-o UserKnownHostsFile={hosts.known_hosts}"
    return env


def timed_bare(hosts, env, pattern, module, args=None, forks=10, timeout=300):
    cmd = ["ansible", pattern, "-i", hosts.inventory, "-m", module, "-f", str(forks)]
    if args:
        cmd += ["-a", args]
    t = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - t
    if p.returncode != 0:
        raise BenchError(f"bare {' '.join(cmd[:3])} failed: {(p.stdout + p.stderr)[-400:]}")
    return took


def timed_exed(exed, path, hosts_expected):
    t = time.monotonic()
    status, body = exed.request("GET", path)
    took = time.monotonic() - t
    bad = [h for h, r in body.items() if r.get("status", r.get("state", 0)) not in (0, 4)]
    if status != 200 or len(body) != hosts_expected or bad:
        raise BenchError(f"exed {path}: {status}, {len(body)} hosts, failed {bad[:5]}")
    return took


def bench_ansible_submit(ctx):
    """Async POST /ping {"targets":["node*"]} on a 100-host inventory.
    Every job locks all 100 hosts, so with 64 connections every request but
    the first is a 409 after expansion + check + the lock script: exactly
    the path whose cost target expansion decides. The no-op executor runs
    the same shape (100 hosts, node*) for the like-for-like ratio; no job
    runs (concurrency = 0), so no ssh is needed."""
    require_ansible(ctx)
    hosts = _inventory_only(ctx, 100)
    env = {"TARGET_PATTERN": "node*"}
    noop = ctx.exed("submit-noop-100", executor="noop", concurrency=0)
    try:
        base = wrk(noop.base(), ctx.seconds(10), script="submit.lua", env=env)["rps"]
    finally:
        noop.stop()
        ctx.redis.flush()
    ex = ctx.exed("submit-ansible", executor="ansible", concurrency=0,
                  sections=ansible_section(ctx, hosts, "submit"))
    try:
        got = wrk(ex.base(), ctx.seconds(20), script="submit.lua", env=env)["rps"]
    finally:
        ex.stop()
        ctx.redis.flush()
    ratio = got / base
    detail = "requests/s, 409 path (see docs/performance.md)"
    if ctx.submit_rate:
        detail += f"; vs the no-op 1-host submit figure: {got / ctx.submit_rate:.2f}"
    return [ctx.row("async submit, ansible, 100-host inventory, node*", f"{got:.0f} req/s",
                    f"no-op executor, same shape {base:.0f} req/s", ratio, "≥ 0.8", ratio >= 0.8, detail)]


class _Inventory:
    """A 100-host inventory without sshd (expansion only reads the file)."""

    def __init__(self, work, count):
        d = os.path.join(work, "inv-only")
        os.makedirs(d, exist_ok=True)
        self.inventory = os.path.join(d, "inventory.ini")
        with open(self.inventory, "w") as f:
            for i in range(count):
                f.write(f"node{i + 1} ansible_host=127.0.0.{11 + i} ansible_user=root\n")
        self.key = ""
        self.known_hosts = ""


def _inventory_only(ctx, count):
    return _Inventory(ctx.work, count)


def bench_sync_ping(ctx):
    """GET /ping?target=node1 vs bare `ansible node1 -m ping` (default and
    tuned), interleaved, N times each; medians."""
    require_ansible(ctx)
    n = max(3, int(30 * ctx.scale))
    hosts = SshHosts(ctx.work, 1)
    try:
        ex = ctx.exed("sync-ping", executor="ansible", sections=ansible_section(ctx, hosts, "sync"))
        default_env = bare_env(ctx, hosts, "default", tuned=False)
        tuned_env = bare_env(ctx, hosts, "tuned", tuned=True)
        times = {"exed": [], "default": [], "tuned": []}
        try:
            deadline = time.monotonic() + 240
            for _ in range(n):
                if time.monotonic() > deadline:
                    ctx.note(f"sync ping: stopped after {len(times['exed'])} rounds (4 min bound)")
                    break
                times["exed"].append(timed_exed(ex, "/ping?target=node1", 1))
                times["default"].append(timed_bare(hosts, default_env, "node1", "ping"))
                times["tuned"].append(timed_bare(hosts, tuned_env, "node1", "ping"))
        finally:
            ex.stop()
            ctx.redis.flush()
    finally:
        hosts.stop()
    m = {k: statistics.median(v) for k, v in times.items()}
    r_default, r_tuned = m["exed"] / m["default"], m["exed"] / m["tuned"]
    measured = f"{m['exed'] * 1000:.0f} ms median"
    return [ctx.row("sync ping, 1 ssh host, vs default ansible", measured,
                    f"{m['default'] * 1000:.0f} ms", r_default, "≤ 0.6", r_default <= 0.6,
                    f"{len(times['exed'])} runs each, interleaved"),
            ctx.row("sync ping, 1 ssh host, vs tuned ansible", measured,
                    f"{m['tuned'] * 1000:.0f} ms", r_tuned, "≤ 1.05", r_tuned <= 1.05,
                    "same pipelining/ControlPersist/interpreter as exed")]


def bench_fanout(ctx):
    """ping and execute on 100 loopback sshd hosts: exed (sync GET) vs bare
    `ansible nodes -m ...` with the same forks and tuning. Each side has its
    own ssh control dir; ping runs first (cold masters), execute second
    (warm), in the same order on both sides."""
    require_ansible(ctx)
    forks = 20
    hosts = SshHosts(ctx.work, 100)
    rows = []
    try:
        ex = ctx.exed("fanout", executor="ansible", threads=16,
                      sections=ansible_section(ctx, hosts, "fanout", forks))
        env = bare_env(ctx, hosts, "fanout", tuned=True, forks=forks)
        try:
            cmd = urllib.parse.quote("true")
            for op, path, module, args in (("ping", "/ping?target=nodes", "ping", None),
                                           ("execute", f"/execute?target=nodes&cmd={cmd}", "command", "true")):
                bare = timed_bare(hosts, env, "nodes", module, args, forks)
                ctx.note(f"fan-out {op}: bare ansible {bare:.1f} s")
                try:
                    mine = timed_exed(ex, path, 100)
                except urllib.error.HTTPError as e:  # 504: past [api] sync_timeout
                    raise BenchError(f"fan-out {op}: exed answered {e.code} (bare took {bare:.1f} s)")
                ratio = mine / bare
                rows.append(ctx.row(f"fan-out {op}, 100 sshd hosts, forks {forks}", f"{mine:.1f} s",
                                    f"bare ansible {bare:.1f} s", ratio, "≤ 1.05", ratio <= 1.05,
                                    "one run each (time bound); ping cold, execute warm masters"))
        finally:
            ex.stop()
            ctx.redis.flush()
    finally:
        hosts.stop()
    return rows
