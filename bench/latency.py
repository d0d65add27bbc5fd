"""Follow latency: event emitted -> line received, for exed and for the bare
Redis baseline, measured the same way.

Method. Every event exed emits is an XADD on the job's stream; its stream id
is "<ms since epoch>-<n>", stamped by Redis when the event is written. A
follower receiving a line records time.time() the moment recv() returns and
subtracts the id's millisecond part. The baseline readers do exactly the same
with XREAD replies, on the same machine clock (Redis and we both read the
system clock), so the truncation of the id to whole milliseconds biases both
sides equally (0..1 ms high).

One single-threaded selectors loop serves all 100 connections, so the
Python side adds the same per-event cost to both figures."""

import os
import selectors
import socket
import subprocess
import sys
import time

from benchlib import BenchError, Resp


PRODUCER = """
import sys, time
from benchlib import Resp
r = Resp(sys.argv[1])
for i in range(int(sys.argv[2])):
    r.cmd("XADD", f"bench:follow:{i}", "*", "type", "host", "data", '{"h":{"status":0}}')
    time.sleep(0.001)
"""


def percentile(values, p):
    if not values:
        raise BenchError("no latency samples")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def _id_ms(event_id):
    return int(event_id.split("-")[0])


def follow_exed(port, jids, timeout=30):
    """Opens one NDJSON follow stream per jid at once; returns latencies (ms)
    of events emitted after that follower was attached (history replayed on
    attach would measure the follower's start, not delivery)."""
    sel = selectors.DefaultSelector()
    state = {}
    for jid in jids:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(f"GET /jobs/{jid}?follow=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        s.setblocking(False)
        state[s] = {"buf": b"", "attached_ms": None, "ended": False}
        sel.register(s, selectors.EVENT_READ)
    latencies = []
    deadline = time.monotonic() + timeout
    open_count = len(state)
    while open_count and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            now_ms = time.time() * 1000
            s, st = key.fileobj, state[key.fileobj]
            data = s.recv(65536)
            if not data:
                st["ended"] = True
            st["buf"] += data
            *lines, st["buf"] = st["buf"].split(b"\n")
            for line in lines:
                # Chunk-size lines of the chunked encoding are skipped.
                if not line.startswith(b'{"event":'):
                    continue
                if st["attached_ms"] is None:  # the "job" header line
                    st["attached_ms"] = now_ms
                    continue
                event_id = line.split(b'"id":"', 1)[1].split(b'"', 1)[0].decode()
                if _id_ms(event_id) >= st["attached_ms"]:
                    latencies.append(now_ms - _id_ms(event_id))
                if line.startswith(b'{"event":"end"'):
                    st["ended"] = True
            if st["ended"]:
                sel.unregister(s)
                s.close()
                open_count -= 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    if open_count:
        raise BenchError(f"{open_count} follow streams did not end within {timeout} s")
    return latencies


def xread_baseline(sock_path, readers=100, rounds=9, timeout=30):
    """`readers` connections block in XREAD on a stream each; one producer
    XADDs one event to every stream, `rounds` times. Returns latencies (ms) as above."""
    conns = [Resp(sock_path) for _ in range(readers)]
    sel = selectors.DefaultSelector()
    last = {}
    for i, c in enumerate(conns):
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, (i, c))
        last[i] = "0"
    latencies = []
    deadline = time.monotonic() + timeout
    for r in range(rounds):
        for i, c in enumerate(conns):
            c.sock.setblocking(True)
            c.send("XREAD", "BLOCK", 10000, "STREAMS", f"bench:follow:{i}", last[i])
            c.sock.setblocking(False)
        time.sleep(0.05)  # every reader is blocked in Redis before the burst
        # Events from 100 jobs arrive spread out, not as one pipelined
        # burst: a separate producer process XADDs one at a time, ~1 ms apart
        # (in this process it would delay our reads).
        producer = subprocess.Popen([sys.executable, "-c", PRODUCER, sock_path, str(readers)],
                                    cwd=os.path.dirname(os.path.abspath(__file__)))
        pending = set(range(readers))
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                now_ms = time.time() * 1000
                i, c = key.data
                try:
                    c.buf += c.sock.recv(65536)
                    c.sock.setblocking(True)
                    reply = c.reply()  # the rest of a split reply arrives at once
                finally:
                    c.sock.setblocking(False)
                for entry in reply[0][1]:
                    latencies.append(now_ms - _id_ms(entry[0]))
                    last[i] = entry[0]
                pending.discard(i)
        producer.wait(10)
        if pending:
            raise BenchError(f"{len(pending)} XREAD readers got nothing within {timeout} s")
    for c in conns:
        c.close()
    return latencies
