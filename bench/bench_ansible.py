"""The benchmarks that run the real ansible executor (exed_ansible.so):
async submit with a 100-host inventory, sync ping on one ssh host, fan-out
to 100 loopback sshd hosts. Each raises NotRun when the plugin is not built.

Bare-ansible baselines run the same `ansible` binary against the same sshd
hosts, interleaved with exed's runs so that machine noise hits both."""

import http.client
import json
import os
import shutil
import statistics
import subprocess
import time
import urllib.error

from benchlib import BenchError, wrk
from sshd_hosts import SshHosts, end_ssh_masters


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


def timed_exed_async(exed, op, body, hosts_expected, ok_status, timeout=600):
    """POST /<op> (async, no sync_timeout involved), then follow the job's
    NDJSON stream until its "end" event: seconds from the POST to the end.
    The result must hold every host with one of ok_status."""
    t = time.monotonic()
    status, got = exed.request("POST", "/" + op, body)
    if status != 201:
        raise BenchError(f"exed POST /{op}: {status} {got}")
    jid = got["jid"]
    conn = http.client.HTTPConnection("127.0.0.1", exed.port, timeout=timeout)
    try:
        conn.request("GET", f"/jobs/{jid}?follow=1")
        resp = conn.getresponse()
        deadline = t + timeout
        end = None
        while end is None and time.monotonic() < deadline:
            line = resp.readline()  # http.client undoes the chunked encoding
            if not line:
                break
            if line.startswith(b'{"event":"end"'):
                end = json.loads(line)["data"]
        took = time.monotonic() - t
    finally:
        conn.close()
    if end is None:
        raise BenchError(f"exed {op} job {jid}: no end event within {timeout} s")
    record = exed.request("GET", f"/jobs/{jid}?outputs=1")[1]
    ret = record.get("return_data") or {}
    bad = [h for h, r in ret.items() if r.get("status", r.get("state")) not in ok_status]
    if end.get("status") != "done" or len(ret) != hosts_expected or bad:
        raise BenchError(f"exed {op} job {jid}: {end}, {len(ret)} hosts, failed "
                         f"{[(h, ret[h]) for h in bad[:3]]}")
    return took


def expect_409(exed):
    """The wrk run above must have measured the 409 path (hosts locked by
    the first job), not something cheaper such as a 503."""
    try:
        status = exed.request("POST", "/ping", {"targets": ["node*"]})[0]
    except urllib.error.HTTPError as e:
        status = e.code
    if status != 409:
        raise BenchError(f"expected 409 (all hosts locked), got {status}")


def bench_ansible_submit(ctx):
    """Async POST /ping {"targets":["node*"]} on a 100-host inventory.
    Every job locks all 100 hosts, so with 64 connections every request but
    the first is a 409 after expansion + check + the lock script: exactly
    the path whose cost target expansion decides. The no-op executor runs
    the same shape (100 hosts, node*) for the like-for-like ratio; no job
    runs (concurrency = 0), so no ssh is needed."""
    require_ansible(ctx)
    hosts = inventory_only(ctx, 100)
    env = {"TARGET_PATTERN": "node*"}

    def measure(name, executor, **kw):
        # Both sides run the same wrk duration: only the executor differs.
        ex = ctx.exed(name, executor=executor, concurrency=0, **kw)
        try:
            rps = wrk(ex.base(), ctx.seconds(15), script="submit.lua", env=env)["rps"]
            expect_409(ex)
            return rps
        finally:
            ex.stop()
            ctx.redis.flush()

    base = measure("submit-noop-100", "noop")
    got = measure("submit-ansible", "ansible", sections=ansible_section(ctx, hosts, "submit"))
    ratio = got / base
    detail = "requests/s, 409 path (see docs/performance.md)"
    if ctx.submit_rate:
        detail += f"; vs the no-op 1-host submit figure: {got / ctx.submit_rate:.2f}"
    return [ctx.row("async submit, ansible, 100-host inventory, node*", f"{got:.0f} req/s",
                    f"no-op executor, same shape {base:.0f} req/s", ratio, "≥ 0.8", ratio >= 0.8, detail)]


class _Inventory:
    """A 100-host inventory without sshd (expansion only reads the file)."""

    def __init__(self, work, count):
        d = os.path.join(work, f"inv-only-{count}")
        os.makedirs(d, exist_ok=True)
        self.inventory = os.path.join(d, "inventory.ini")
        with open(self.inventory, "w") as f:
            for i in range(count):
                f.write(f"node{i + 1} ansible_host=127.0.0.{11 + i} ansible_user=root\n")
        self.key = ""
        self.known_hosts = ""


def inventory_only(ctx, count):
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
        end_ssh_masters(ctx.work)
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


FANOUT_FORKS = 20


def bench_fanout(ctx):
    """ping and execute on 100 loopback sshd hosts: exed (async POST, then
    follow to the end event: no sync_timeout, no 504) vs bare `ansible nodes
    -m ...` with the same forks (exed's [ansible] forks = the bare -f) and
    the same tuning. One run each (the 15-minute budget: fewer repeats, not
    fewer hosts). Each side has its own ssh control dir, and every run starts
    with no ssh master (ControlPersist is 60 s and one run takes ~45 s, so
    "warm" would be a race: some masters alive, some expired).
    Both pin the interpreter (exed: python_interpreter, what its cache holds
    after its first run on a host), so neither side pays discovery."""
    require_ansible(ctx)
    forks = FANOUT_FORKS
    hosts = SshHosts(ctx.work, 100)
    rows = []
    try:
        ex = ctx.exed("fanout", executor="ansible", threads=16,
                      sections=ansible_section(ctx, hosts, "fanout", forks) +
                      "python_interpreter = /usr/bin/python3\n")
        env = bare_env(ctx, hosts, "fanout", tuned=True, forks=forks)
        try:
            for op, body, module, args, ok in (
                    ("ping", {"targets": ["nodes"]}, "ping", None, (0,)),
                    ("execute", {"targets": ["nodes"], "cmd": "true"}, "command", "true", (4,))):
                end_ssh_masters(ctx.work)
                bare = timed_bare(hosts, env, "nodes", module, args, forks)
                end_ssh_masters(ctx.work)
                mine = timed_exed_async(ex, op, body, 100, ok)
                ctx.ansible_fanout[op] = mine / 100  # seconds per node, for bench_agent
                ratio = mine / bare
                rows.append(ctx.row(f"fan-out {op}, 100 sshd hosts, forks {forks}", f"{mine:.1f} s",
                                    f"bare ansible -f {forks} {bare:.1f} s", ratio, "≤ 1.05",
                                    ratio <= 1.05,
                                    "async POST + follow to end; one run each, no ssh master "
                                    "at the start (both sides)"))
        finally:
            ex.stop()
            ctx.redis.flush()
    finally:
        end_ssh_masters(ctx.work)
        hosts.stop()
    return rows
