"""N throw-away ssh "hosts" on 127.0.0.11, 127.0.0.12, ... (loopback only).

One sshd process listens on up to 16 addresses (sshd's MAX_LISTEN_SOCKS):
a daemon per address would only add idle listeners, while what a benchmark
pays for -- a forked sshd per connection, key exchange, a session -- is the
same either way.
Throw-away ed25519 keys; an INI inventory (node1..nodeN, group "nodes") and
a known_hosts file, so ansible keeps host key checking on."""

import os
import socket
import subprocess

from benchlib import BenchError, stop_process, wait_until


class SshHosts:
    def __init__(self, workdir, count, first_octet=11):
        if first_octet + count > 255:
            raise BenchError("too many hosts for 127.0.0.x")
        self.dir = os.path.join(workdir, "sshd")
        os.makedirs(self.dir, exist_ok=True)
        self.count = count
        self.addrs = [f"127.0.0.{first_octet + i}" for i in range(count)]
        self.port = self._free_port()
        self.key = os.path.join(self.dir, "client_key")
        host_key = os.path.join(self.dir, "host_key")
        for k in (self.key, host_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "exed-bench",
                            "-f", k], check=True, timeout=30)
        with open(self.key + ".pub") as f, open(os.path.join(self.dir, "authorized_keys"), "w") as out:
            out.write(f.read())
        with open(host_key + ".pub") as f:
            kind, blob = f.read().split()[:2]
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        self.inventory = os.path.join(self.dir, "inventory.ini")
        with open(self.known_hosts, "w") as kh, open(self.inventory, "w") as inv:
            for i, a in enumerate(self.addrs):
                kh.write(f"[{a}]:{self.port} {kind} {blob}\n")
                inv.write(f"node{i + 1} ansible_host={a} ansible_port={self.port} ansible_user=root\n")
            inv.write("\n[nodes]\n" + "".join(f"node{i + 1}\n" for i in range(count)))
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation dir
        self.log = open(os.path.join(self.dir, "sshd.log"), "w")
        self.procs = []
        for n, first in enumerate(range(0, count, 16)):
            conf = os.path.join(self.dir, f"sshd_config.{n}")
            with open(conf, "w") as f:
                f.write(f"Port {self.port}\n" +
                        "".join(f"ListenAddress {a}\n" for a in self.addrs[first:first + 16]) +
                        f"HostKey {host_key}\nPidFile {self.dir}/sshd.{n}.pid\n"
                        f"AuthorizedKeysFile {self.dir}/authorized_keys\n"
                        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nUseDNS no\n"
                        "PrintMotd no\nMaxSessions 200\nMaxStartups 400\nLogLevel ERROR\n"
                        "Subsystem sftp internal-sftp\n")
            # argv[0] absolute: sshd re-executes itself for every connection.
            self.procs.append(subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", conf],
                                               stdout=self.log, stderr=subprocess.STDOUT))
        wait_until(lambda: all(self._accepts(a) for a in self.addrs), 20, "sshd on every address")

    def _free_port(self):
        for port in range(22200, 22400):
            try:
                for a in self.addrs:
                    with socket.socket() as s:
                        s.bind((a, port))
                return port
            except OSError:
                continue
        raise BenchError("no free port on the bench ssh addresses")

    def _accepts(self, addr):
        if any(p.poll() is not None for p in self.procs):
            raise BenchError("sshd exited: " + open(self.log.name).read()[-500:])
        try:
            with socket.create_connection((addr, self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self):
        # Per-connection sshd children die with their sessions; ssh masters
        # (ControlPersist) are closed by the caller's control dir cleanup.
        for p in self.procs:
            stop_process(p)
        self.log.close()
