"""N throw-away ssh "hosts" on 127.0.0.11, 127.0.0.12, ... (loopback only).

One sshd process listens on up to 16 addresses (sshd's MAX_LISTEN_SOCKS):
a daemon per address would only add idle listeners, while what a benchmark
pays for -- a forked sshd per connection, key exchange, a session -- is the
same either way.
Throw-away ed25519 keys; an INI inventory (node1..nodeN, group "nodes") and
a known_hosts file, so ansible keeps host key checking on.

Like the ansible executor's test hosts (tests/support/ssh_hosts.cpp,
clean_root_bashrc), each sshd runs in a private mount namespace where an
empty file is bind-mounted over /root/.bashrc: bash sources .bashrc for
every command sshd runs, and this machine's runs `pyenv init` (~0.5 s), so
without this a benchmark of ansible (6 ssh commands per module with default
settings, 1 with exed's) would mostly measure pyenv."""

import os
import socket
import subprocess
import tempfile
import time

from benchlib import BenchError, stop_process, wait_until


class SshHosts:
    def __init__(self, workdir, count, first_octet=11, clean_root_bashrc=True):
        if first_octet + count > 255:
            raise BenchError("too many hosts for 127.0.0.x")
        # A fresh dir per set of hosts: ssh-keygen will not overwrite keys.
        self.dir = tempfile.mkdtemp(prefix="sshd-", dir=workdir)
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
        empty_rc = os.path.join(self.dir, "empty_bashrc")
        open(empty_rc, "w").close()
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
            argv = ["/usr/sbin/sshd", "-D", "-e", "-f", conf]
            if clean_root_bashrc and os.path.exists("/root/.bashrc"):
                # unshare(1) and sh exec in turn: the pid we keep is sshd's.
                argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                        'mount --bind "$0" /root/.bashrc && exec "$@"', empty_rc] + argv
            self.procs.append(subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT))
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


def end_ssh_masters(work):
    """ssh ControlPersist masters (ours and exed's ansible runs') outlive a
    benchmark by up to 60 s: SIGTERM the ssh processes whose command line
    names our private work dir (their ControlPath is under it), by pid, and
    wait (bounded) until they are gone and their sshd sessions had a moment
    to end, so that their teardown does not overlap the next measured run."""
    killed = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "ssh":
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if work.encode() in f.read():
                    os.kill(int(pid), 15)
                    killed.append(pid)
        except OSError:
            pass
    if killed:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in killed):
            time.sleep(0.1)
        time.sleep(2)
