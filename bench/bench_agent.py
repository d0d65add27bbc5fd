"""The exed agent (issue 17, docs/agent.md): sync ping through one agent vs
exed's ansible sync ping to one ssh host (same run), fan-out ping/execute to
1,000 emulated agents (instances = 1000, one process), and what 1,000 idle
agents cost exed (threads, RSS, CPU) and what one idle agent costs."""

import os
import shutil
import statistics
import subprocess
import time

from bench_ansible import ansible_section, bench_fanout, require_ansible, timed_exed
from benchlib import free_port, rss_kb, stop_process, wait_until
from sshd_hosts import SshHosts, end_ssh_masters

TOKEN = "bench-agent-token-0123456789abcdef"
CHORIA_MS_PER_NODE = 0.32  # Choria's published figure: 50,000 nodes in ~16 s


class Site:
    """exed's [agent] section and the agent processes dialling it."""

    def __init__(self, ctx, name):
        self.ctx = ctx
        self.dir = os.path.join(ctx.work, "agent-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.token_file = os.path.join(self.dir, "agent.token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.key = os.path.join(self.dir, "signing.pem")
        self.procs = []

    def section(self):
        return (f"[agent]\nlisten = 127.0.0.1\nlisten_port = {self.port}\nsigning_key = {self.key}\n"
                f"token_file = {self.token_file}\nauto_accept = true\n")

    def agent(self, name, instances=1, extra=""):
        conf = os.path.join(self.dir, f"{name}.conf")
        with open(conf, "w") as f:
            f.write(f"[agent]\nserver = http://127.0.0.1:{self.port}\nname = {name}\n"
                    f"public_key = {self.key}.pub\ntoken_file = {self.token_file}\n"
                    f"instances = {instances}\nallow_exec = true\n"
                    f"state_dir = {os.path.join(self.dir, name + '.state')}\n{extra}")
        log = open(os.path.join(self.dir, f"{name}.log"), "w")
        p = subprocess.Popen([self.ctx.exed_bin, "agent", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            stop_process(p)


def wait_listed(ex, pattern, n, timeout):
    def enough():
        status, got = ex.request("GET", "/target?pattern=" + pattern)
        return status == 200 and len(got) == n
    wait_until(enough, timeout, f"{n} agents listed")


def plugin_host_pid(exed_pid):
    """The `exed plugin-host` child of exed: with isolation = process (the
    default) the agent executor, its listener and every agent connection
    live there, not in exed."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == exed_pid and b"plugin-host" in argv:
            return int(entry)
    raise RuntimeError(f"exed {exed_pid} has no plugin host")


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def bench_agent_sync_ping(ctx):
    require_ansible(ctx)
    n = max(20, int(200 * ctx.scale))
    site = Site(ctx, "sync")
    hosts = SshHosts(ctx.work, 1)
    try:
        # One exed at a time: exeds on one Redis share its job queue, so an
        # ansible exed beside this one would take the agent exed's jobs.
        ex = ctx.exed("agent-sync", executor="agent", sections=site.section())
        try:
            site.agent("web1")
            wait_listed(ex, "web1", 1, 20)
            timed_exed(ex, "/ping?target=web1", 1)  # warm
            agent_t = [timed_exed(ex, "/ping?target=web1", 1) for _ in range(n)]
        finally:
            ex.stop()
            ctx.redis.flush()
        # Attribution of the tail: the same sync ping through exed's job path
        # with the no-op executor (nothing leaves the process).
        nx = ctx.exed("agent-sync-noop", executor="noop")
        try:
            timed_exed(nx, "/ping?target=node1", 1)  # warm
            noop_t = [timed_exed(nx, "/ping?target=node1", 1) for _ in range(n)]
        finally:
            nx.stop()
            ctx.redis.flush()
        ans = ctx.exed("agent-sync-ansible", executor="ansible", sections=ansible_section(ctx, hosts, "agentsync"))
        try:
            timed_exed(ans, "/ping?target=node1", 1)  # warm: interpreter cache, ssh master
            ansible_t = [timed_exed(ans, "/ping?target=node1", 1) for _ in range(max(3, n // 20))]
        finally:
            ans.stop()
            ctx.redis.flush()
    finally:
        site.stop()
        end_ssh_masters(ctx.work)
        hosts.stop()
    p50, p99, base = statistics.median(agent_t), pct(agent_t, 0.99), statistics.median(ansible_t)
    ratio = p50 / base
    return [ctx.row("sync ping via 1 agent vs ansible to 1 ssh host", f"{p50 * 1000:.1f} ms p50, {p99 * 1000:.1f} ms p99",
                    f"{base * 1000:.0f} ms", ratio, "≤ 0.05, p99 < 10 ms", ratio <= 0.05 and p99 < 0.010,
                    f"{n} agent pings, {len(ansible_t)} ansible pings; no-op executor, same path without "
                    f"the agent: {statistics.median(noop_t) * 1000:.1f} ms p50, {pct(noop_t, 0.99) * 1000:.1f} ms p99")]


def spawn_floor(n):
    """Seconds to start n `true` processes (posix_spawn, vfork semantics)
    from this small process and reap them: what an execute fan-out to n
    emulated nodes on this one machine cannot beat."""
    true = shutil.which("true")
    t = time.monotonic()
    pids = [os.posix_spawn(true, [true], os.environ) for _ in range(n)]
    for p in pids:
        os.waitpid(p, 0)
    return time.monotonic() - t


SALT_MINION_RSS = ("salt-minion idle: 75.7 MB VmRSS (saltstack/salt#23167), about 100 MB each "
                   "(saltstack/salt#61766, where a maintainer notes an empty Python 3.8 uses 18 MB)")


def bench_agent_fleet(ctx):
    """1,000 emulated agents: connect (challenge included), fan-out ping and
    execute, and the idle cost in exed and in the plugin host that holds
    the connections."""
    site = Site(ctx, "fleet")
    rows, per_node = [], {}
    try:
        ex = ctx.exed("agent-fleet", executor="agent", sections=site.section())
        try:
            pids = {"exed": ex.proc.pid, "plugin host": plugin_host_pid(ex.proc.pid)}
            time.sleep(1)
            before = {who: (threads(pid), rss_kb(pid)) for who, pid in pids.items()}
            t0 = time.monotonic()
            fleet = site.agent("n", instances=1000, extra="heartbeat = 5\n")
            wait_listed(ex, "*", 1000, 120)
            connect_s = time.monotonic() - t0
            rows.append(ctx.row("connect 1,000 emulated agents (key proof included)", f"{connect_s * 1000:.0f} ms",
                                "–", None, "≤ 5 s", connect_s <= 5.0,
                                "from the agent process's start to 1,000 nodes listed; each proves its own key"))
            time.sleep(2)
            for op, path in (("ping", "/ping?target=n-*"), ("execute", "/execute?target=n-*&cmd=true")):
                took = [timed_exed(ex, path, 1000) for _ in range(3)]
                best = statistics.median(took)
                detail = f"{best * 1000 / 1000:.2f} ms/node (median of 3, sync GET)"
                if op == "execute":
                    floor = spawn_floor(1000)
                    detail += (f"; floor on this VM: spawning and reaping 1,000 `true` from a bare process "
                               f"takes {floor * 1000:.0f} ms (ratio {best / floor:.2f})")
                rows.append(ctx.row(f"fan-out {op} to 1,000 emulated agents", f"{best * 1000:.0f} ms",
                                    f"Choria {CHORIA_MS_PER_NODE} ms/node", None, "≤ 2 s", best <= 2.0, detail))
                per_node[op] = best / 1000
            time.sleep(3)
            cpu0 = {who: cpu_seconds(pid) for who, pid in pids.items()}
            t0 = time.monotonic()
            time.sleep(10)
            elapsed = time.monotonic() - t0
            for who, pid in pids.items():
                idle_cpu = (cpu_seconds(pid) - cpu0[who]) / elapsed * 100
                threads0, rss0 = before[who]
                threads1, rss1 = threads(pid), rss_kb(pid)
                rows.append(ctx.row(f"1,000 idle agents: {who} threads", f"{threads1}", f"{threads0} before", None,
                                    "± 16", abs(threads1 - threads0) <= 16, ""))
                rows.append(ctx.row(f"1,000 idle agents: {who} RSS growth", f"{(rss1 - rss0) / 1024:.1f} MB",
                                    f"{rss0 / 1024:.0f} MB before", None, "< 50 MB", rss1 - rss0 < 50 * 1024, ""))
                rows.append(ctx.row(f"1,000 idle agents: {who} idle CPU", f"{idle_cpu:.2f} %", "–", None, "< 2 %",
                                    idle_cpu < 2, "10 s, heartbeat 5 s"))
            one = site.agent("solo")
            wait_listed(ex, "solo", 1, 20)
            time.sleep(2)
            solo = rss_kb(one.pid)
            rows.append(ctx.row("one idle agent process: RSS", f"{solo / 1024:.1f} MB", SALT_MINION_RSS, None,
                                "< 10 MB", solo < 10 * 1024,
                                f"the 1,000-node process: {rss_kb(fleet.pid) / 1024:.0f} MB"))
        finally:
            ex.stop()
    finally:
        site.stop()
    # Per node against exed's ansible fan-out to 100 sshd hosts, from the
    # `fanout` benchmark of this run (measured here when it did not run).
    if not ctx.ansible_fanout:
        rows += bench_fanout(ctx)
    for op, agent_s in per_node.items():
        if op not in ctx.ansible_fanout:
            continue
        ansible_s = ctx.ansible_fanout[op]
        ratio = agent_s / ansible_s
        rows.append(ctx.row(f"fan-out {op} per node: 1,000 agents vs ansible to 100 sshd hosts",
                            f"{agent_s * 1000:.2f} ms/node", f"ansible {ansible_s * 1000:.0f} ms/node", ratio,
                            "≤ 0.02 (50× faster)", ratio <= 0.02,
                            f"{1 / ratio:.0f}× faster; ansible: exed async POST + follow, 100 hosts"))
    return rows
