"""Shared pieces of the exed benchmarks: a private redis-server, an exed
process with its own config and run dir, wrk and redis-benchmark runners,
a tiny RESP client. Everything listens on 127.0.0.1 or a unix socket only,
and every wait is bounded by a deadline."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BenchError(Exception):
    """A benchmark could not produce a number (reported, never hidden)."""


def wait_until(check, timeout, what, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise BenchError(f"timed out after {timeout} s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, grace=10):
    """SIGTERM one process we started, SIGKILL after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


# --- Redis -----------------------------------------------------------------

class Resp:
    """Minimal RESP2 client (requests pipelined by the caller if wanted)."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise BenchError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise BenchError(f"bad RESP reply {line!r}")

    def send(self, *args):
        self.sock.sendall(self.encode(*args))

    def cmd(self, *args):
        self.send(*args)
        return self.reply()

    def close(self):
        self.sock.close()


class RedisServer:
    """A private redis-server on a unix socket, configured like exed's
    embedded one (AOF, appendfsync everysec, no RDB) so that exed and the
    redis-benchmark baseline hit the same server in the same state."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "redis.sock")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
             "--dir", self.dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--logfile", os.path.join(self.dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, 10, "redis-server")

    def _answers(self):
        try:
            c = Resp(self.sock, 1)
            ok = c.cmd("PING") == "PONG"
            c.close()
            return ok
        except (OSError, BenchError):
            return False

    def url(self):
        return "unix://" + self.sock

    def client(self):
        return Resp(self.sock)

    def flush(self):
        c = self.client()
        c.cmd("FLUSHALL")
        c.cmd("BGREWRITEAOF")  # keep the AOF from growing across benchmarks
        # ...and let the rewrite (a forked child) end before anything is
        # measured: on 2 cores it steals a core for a moment.
        wait_until(lambda: "aof_rewrite_in_progress:0" in c.cmd("INFO", "persistence"), 60,
                   "the AOF rewrite")
        c.close()

    def stop(self):
        stop_process(self.proc)


# --- exed ------------------------------------------------------------------

class Exed:
    """One exed process with its own config, run dir and port."""

    def __init__(self, binary, workdir, name, redis_url, executor, plugin_dirs,
                 sections="", threads=64, concurrency=2, job_ttl=604800, lease=30,
                 max_queued=None):
        self.port = free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "exe.conf")
        with open(self.conf, "w") as f:
            f.write(f"[api]\nlisten = 127.0.0.1\nlisten_port = {self.port}\nthreads = {threads}\n"
                    f"sync_timeout = 300\n"
                    f"[runner]\nexecutor = {executor}\nredis_url = {redis_url}\n"
                    f"run_dir = {self.dir}/run\nconcurrency = {concurrency}\n"
                    f"job_ttl = {job_ttl}\nlease = {lease}\n" +
                    (f"max_queued = {max_queued}\n" if max_queued else "") +
                    f"[log]\nlog_level = warning\nerror_log = {self.dir}/error.log\n"
                    f"[plugins]\ndirs = {','.join(plugin_dirs)}\n{sections}")
        self.log = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen([binary, "-c", self.conf], cwd=self.dir,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._healthy, 30, f"exed {name} /health")

    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def _healthy(self):
        if self.proc.poll() is not None:
            raise BenchError(f"exed exited with {self.proc.returncode}; see {self.dir}/stdout.log")
        try:
            with urllib.request.urlopen(self.base() + "/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def request(self, method, path, body=None, timeout=310):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base() + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")

    def rss_kb(self):
        return rss_kb(self.proc.pid)

    def stop(self):
        stop_process(self.proc, grace=20)
        self.log.close()


# --- load generators -------------------------------------------------------

def wrk(url, seconds, connections=64, threads=2, script=None, env=None):
    """Runs wrk (bounded by -d and a hard timeout); returns the BENCH json
    line of bench/*.lua scripts or requests/s parsed from wrk's summary."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    if script:
        cmd += ["-s", os.path.join(ROOT, "bench", script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60,
                         env={**os.environ, **(env or {})}).stdout
    m = re.search(r"^BENCH (\{.*\})$", out, re.M)
    if m:
        r = json.loads(m.group(1))
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        return r
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise BenchError("wrk printed no result: " + out[-300:])
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(m.group(1)), "non2xx": int(non2xx.group(1)) if non2xx else 0}


def redis_benchmark(sock, args, requests=20000, clients=64, keyspace=10**9):
    """requests/s of one command under redis-benchmark (bounded by -n)."""
    cmd = ["redis-benchmark", "-s", sock, "-c", str(clients), "-n", str(requests),
           "-r", str(keyspace), "-q"] + [str(a) for a in args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    # Not --csv: the command text (quotes and all) is its first field.
    found = re.findall(r"([\d.]+) requests per second", out)
    if not found:
        raise BenchError("redis-benchmark printed no result: " + out[-300:])
    return float(found[-1])
