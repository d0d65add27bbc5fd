#!/usr/bin/env python3
"""exed's ansible fork server: imports ansible once, forks one child per run.

Starting `ansible` costs about half a second before it does anything
(Python start-up and ansible's imports); for a one-host ping that is close
to half of the whole run. This process pays it once. The exed ansible
plugin connects to its unix socket for each run and sends one request line

    {"argv": ["ansible", ...], "env": {...}, "cwd": "..."}\n

with two file descriptors attached (SCM_RIGHTS): the write ends of the
run's stdout and stderr pipes. The server forks; the child becomes its own
process group (exed kills the group on cancel, as for a spawned process),
takes the pipes as fds 1 and 2, replaces its environment and working
directory with the request's, re-reads ansible's configuration (ansible
turns it into module constants at import time, and ansible.cfg may have
changed since) and runs the ansible CLI named by argv[0]. Replies on the
same connection:

    pid <pid>\n            the child started (its pid is its process group)
    exit <code>\n          it ended: exit code, or 128 + signal
    error <message>\n      nothing was started

The child stays a zombie until exed closes the connection, so the group id
cannot be reused while exed may still signal it. A connection closed before
"exit" means exed gave up on the run: the child's group is killed.
When exed goes away (our stdin, a pipe from exed, reaches EOF) every child
group is killed and the server exits.

Usage: exed_forkserver.py <socket path>. Prints "ready" on stdout once it
listens and ansible is imported, or an error and exits non-zero.
"""

import atexit
import ctypes
import json
import os
import selectors
import signal
import socket
import sys

MAX_REQUEST = 1 << 20


# What every run imports, beyond the CLIs: inventory, vars, callback,
# strategy, connection, action and fact code. Importing acts on no
# configuration; the child re-reads it (refresh_config).
PRELOAD = (
    "ansible.cli.adhoc",
    "ansible.cli.playbook",
    "ansible.executor.process.worker",
    "ansible.executor.task_executor",
    "ansible.executor.task_queue_manager",
    "ansible.module_utils.facts.ansible_collector",
    "ansible.module_utils.facts.default_collectors",
    "ansible.playbook.included_file",
    "ansible.playbook.play",
    "ansible.playbook.role_include",
    "ansible.plugins.action.command",
    "ansible.plugins.action.normal",
    "ansible.plugins.become.sudo",
    "ansible.plugins.cache.memory",
    "ansible.plugins.callback.default",
    "ansible.plugins.callback.minimal",
    "ansible.plugins.connection.local",
    "ansible.plugins.connection.ssh",
    "ansible.plugins.inventory.auto",
    "ansible.plugins.inventory.host_list",
    "ansible.plugins.inventory.ini",
    "ansible.plugins.inventory.script",
    "ansible.plugins.inventory.toml",
    "ansible.plugins.inventory.yaml",
    "ansible.plugins.loader",
    "ansible.plugins.shell.sh",
    "ansible.plugins.strategy.linear",
    "ansible.plugins.vars.host_group_vars",
    "ansible.template",
)


def preload():
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)


def fresh_locks():
    """ansible's module-build locks are multiprocessing semaphores made at
    import, meant to be shared by one ansible process and its workers only.
    Inherited from the server they would be shared by every run, and a run
    killed while holding one would block all later runs: each child gets its
    own."""
    import multiprocessing

    from ansible.executor import action_write_locks

    locks = action_write_locks.action_write_locks
    for key in list(locks):
        locks[key] = multiprocessing.Lock()


CLIS = {
    "ansible": ("ansible.cli.adhoc", "AdHocCLI"),
    "ansible-playbook": ("ansible.cli.playbook", "PlaybookCLI"),
}


def refresh_config():
    """Re-read ansible.cfg and the ANSIBLE_* environment into the constants,
    as `import ansible.constants` does in a fresh process (this also makes a
    new local temp dir for this child and registers its cleanup)."""
    from ansible import constants as C
    from ansible.config.manager import ConfigManager

    C.config = ConfigManager()
    for setting in C.config.get_configuration_definitions():
        C.set_constant(setting, C.config.get_config_value(setting, variables=vars(C)))


def name_process(name):
    """`ps -o comm` and /proc/<pid>/comm show the run as what it runs."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def run_child(request, out_fd, err_fd, inherited):
    """In the forked child: become the run. Never returns."""
    code = 250
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.setpgid(0, 0)  # the server does it too: whichever runs first
        for fd in inherited:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in {null, out_fd, err_fd} - {0, 1, 2}:
            os.close(fd)
        os.chdir(request.get("cwd") or "/")
        os.environ.clear()
        os.environ.update(request["env"])
        # The server's temp dir is the server's: only this child's own
        # (made by refresh_config) is removed when the child exits.
        from ansible.config.manager import cleanup_tmp_file
        atexit.unregister(cleanup_tmp_file)
        argv = [str(a) for a in request["argv"]]
        module_name, class_name = CLIS[os.path.basename(argv[0])]
        name_process(os.path.basename(argv[0]))
        refresh_config()
        fresh_locks()
        module = __import__(module_name, fromlist=[class_name])
        sys.argv = argv
        try:
            getattr(module, class_name).cli_executor(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException as e:  # report, never fall back into the server loop
        try:
            os.write(2, ("ERROR! exed fork server: %s\n" % e).encode())
        except OSError:
            pass
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def read_request(conn):
    """One request line and the two fds sent with it."""
    data, fds = b"", []
    conn.settimeout(5)
    while not data.endswith(b"\n"):
        chunk, new_fds, _, _ = socket.recv_fds(conn, 65536, 4)
        fds.extend(new_fds)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            break
    conn.settimeout(None)
    return data, fds


def exit_code(pid):
    """The exit code of an ended child, left a zombie; None while it runs."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return 255
    if info is None or info.si_pid == 0:
        return None
    if info.si_code == os.CLD_EXITED:
        return info.si_status
    return 128 + info.si_status


def reap(pid, kill):
    if kill:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class Server:
    def __init__(self, path):
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        old = os.umask(0o077)
        self.listener.bind(path)
        os.umask(old)
        self.listener.listen(64)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "parent")
        self.runs = {}  # conn -> [pid, exit reported]

    def inherited(self):
        fds = [self.listener.fileno(), self.wake_r, self.wake_w, sys.stdin.fileno()]
        return fds + [c.fileno() for c in self.runs]

    def start(self, conn):
        data, fds = read_request(conn)
        try:
            if len(fds) != 2:
                raise ValueError("expected 2 file descriptors, got %d" % len(fds))
            request = json.loads(data)
            if os.path.basename(str(request["argv"][0])) not in CLIS:
                raise ValueError("cannot run %r" % request["argv"][0])
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                run_child(request, fds[0], fds[1], self.inherited() + [conn.fileno()])
            try:  # before exed hears the pid: it may signal the group at once
                os.setpgid(pid, pid)
            except OSError:
                pass  # the child got there first (or is gone already)
            self.runs[conn] = [pid, False]
            self.sel.register(conn, selectors.EVENT_READ, "run")
            conn.sendall(b"pid %d\n" % pid)
        except Exception as e:
            try:
                conn.sendall(b"error %s\n" % str(e).replace("\n", " ").encode())
            except OSError:
                pass
            if conn not in self.runs:
                conn.close()
        finally:
            for fd in fds:
                os.close(fd)

    def report_exits(self):
        for conn, run in list(self.runs.items()):
            if run[1]:
                continue
            code = exit_code(run[0])
            if code is None:
                continue
            run[1] = True
            try:
                conn.sendall(b"exit %d\n" % code)
            except OSError:
                self.finish(conn)

    def finish(self, conn):
        """exed closed the connection: reap, killing the group if it runs."""
        pid, reported = self.runs.pop(conn)
        self.sel.unregister(conn)
        conn.close()
        reap(pid, kill=not reported)

    def serve(self):
        print("ready", flush=True)
        while True:
            for key, _ in self.sel.select():
                what = key.data
                if what == "accept":
                    conn, _ = self.listener.accept()
                    self.start(conn)
                elif what == "wake":
                    os.read(self.wake_r, 4096)
                    self.report_exits()
                elif what == "run":
                    try:
                        gone = not key.fileobj.recv(4096)
                    except OSError:
                        gone = True
                    if gone:
                        self.finish(key.fileobj)
                elif what == "parent":
                    if not os.read(sys.stdin.fileno(), 4096):
                        # exed is gone (stopped, or killed: nobody else will
                        # end the runs or remove the socket)
                        for conn in list(self.runs):
                            self.finish(conn)
                        try:
                            os.unlink(self.path)
                        except OSError:
                            pass
                        return


def main():
    if len(sys.argv) != 2:
        print("usage: exed_forkserver.py <socket path>", file=sys.stderr)
        return 2
    try:
        preload()
    except Exception as e:
        print("cannot import ansible: %s" % e, flush=True)
        return 1
    server = Server(sys.argv[1])
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
