#!/usr/bin/python
# exed's exact command runner, used by the exed ansible executor's `execute`.
#
# Why not ansible's `command` module: it strips trailing newlines from the
# output and expands $VARS and ~ in every argument (ansible-core 2.14 has no
# way to turn that off). exed promises byte-exact output and the exact argv.
# Like `command`, it never involves a shell: `cmd` is split shell-like
# (shlex) and `argv` is used as given.
#
# The command must not outlive the job, however this module ends. It cannot
# rely on being told: on a local connection this module is in the process
# group of exed's ansible run and gets the same SIGTERM/SIGKILL on cancel;
# over ssh it is left running when the session closes. So the command is
# started by a watcher, forked from this module before anything else: the
# watcher leaves our process group at once (a session of its own, so no
# signal meant for the run reaches it), starts the command in a further
# session, and holds the read end of a pipe only this module writes to. EOF
# on that pipe without a "done" first means this module is gone (killed,
# crashed, or it saw the ssh session close): the watcher kills the command's
# whole process group (SIGTERM, SIGKILL after kill_grace) and exits.
from __future__ import annotations

DOCUMENTATION = r'''
module: exed_exec
short_description: run a command exactly, without a shell, for exed
options:
  argv: {type: list, elements: str, description: the exact argv}
  cmd: {type: str, description: a command line split shell-like (no shell)}
  kill_grace: {type: int, default: 3, description: seconds from SIGTERM to SIGKILL when the command is killed}
'''

import codecs
import errno
import os
import select
import shlex
import signal
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule

DONE = b'done'
MAX_ORDER = 10000  # slices of output_order; the rest of the output follows them


def _kill_group(pgid, reap, grace):
    """SIGTERM to the group, SIGKILL once `reap()` (non-blocking) says the
    leader ended or after `grace` seconds, for any straggler."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.time() + grace
    while time.time() < deadline and not reap():
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _exit_code(info_status, info_code):
    if info_code == os.CLD_EXITED:
        return info_status
    return 128 + info_status  # killed by a signal: report it like a shell does


def _ended(pid):
    """The command's exit code once it ended, None before. It stays a zombie
    (WNOWAIT): its pid, the id of its process group, cannot be reused while
    we may still signal that group."""
    if hasattr(os, 'waitid'):
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return None if info is None or info.si_pid == 0 else _exit_code(info.si_status, info.si_code)
    done, status = os.waitpid(pid, os.WNOHANG)  # no waitid: reaped at once
    return None if done == 0 else (os.WEXITSTATUS(status) if os.WIFEXITED(status)
                                   else 128 + os.WTERMSIG(status))


def _watch(argv, out_w, err_w, life_r, status_w, grace):
    """In the forked watcher. Never returns."""
    code = 1
    try:
        os.setsid()  # out of the run's process group before the command exists
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # never hold the module's stdout: ansible waits for its EOF
            os.dup2(null, fd)
        os.close(null)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w,
                                    start_new_session=True, close_fds=True)
        except OSError as e:
            os.write(status_w, b'error %d\n' % (e.errno or errno.ENOENT))
            os._exit(0)
        os.close(out_w)
        os.close(err_w)
        poller = select.poll()
        poller.register(life_r, select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        reported = False
        while True:
            if not reported:
                rc = _ended(proc.pid)
                if rc is not None:
                    os.write(status_w, b'exit %d\n' % rc)
                    os.close(status_w)  # the module reads until EOF
                    reported = True
            ready = [fd for fd, _ in poller.poll()]
            if wake_r in ready:
                os.read(wake_r, 4096)
            if life_r in ready:
                break
        if os.read(life_r, len(DONE)) != DONE:  # the module is gone: so goes the command
            _kill_group(proc.pid, lambda: _ended(proc.pid) is not None, grace)
        code = 0
    finally:
        os._exit(code)


def _run(argv, grace):
    """Returns (rc, stdout bytes, stderr bytes, order); None when our caller left.
    order: ('stdout'|'stderr', bytes) per read, in the order they came."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    life_r, life_w = os.pipe()
    status_r, status_w = os.pipe()
    watcher = os.fork()
    if watcher == 0:
        for fd in (out_r, err_r, life_w, status_r):
            os.close(fd)
        _watch(argv, out_w, err_w, life_r, status_w, grace)
    for fd in (out_w, err_w, life_r, status_w):
        os.close(fd)
    chunks = {out_r: [], err_r: [], status_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    poller.register(1, 0)  # only POLLERR/POLLHUP: the ssh session closed
    open_fds = set(chunks)
    order = []
    while open_fds:
        for fd, ev in poller.poll():
            if fd == 1:
                return None  # exiting closes life_w: the watcher kills the command
            data = os.read(fd, 65536) if ev & (select.POLLIN | select.POLLHUP | select.POLLERR) else b''
            if data:
                chunks[fd].append(data)
                if fd != status_r:
                    order.append(('stdout' if fd == out_r else 'stderr', data))
            else:
                poller.unregister(fd)
                open_fds.discard(fd)
    try:
        os.write(life_w, DONE)
    except BrokenPipeError:
        pass  # the watcher had nothing to guard (the command did not start)
    os.close(life_w)
    os.waitpid(watcher, 0)
    status = b''.join(chunks[status_r]).split()
    out, err = b''.join(chunks[out_r]), b''.join(chunks[err_r])
    if len(status) == 2 and status[0] == b'exit':
        return int(status[1]), out, err, order
    if len(status) == 2 and status[0] == b'error':  # it could not be started
        message = ('%s: %s\n' % (argv[0], os.strerror(int(status[1])))).encode()
        return 127, b'', message, [('stderr', message)]
    lost = b'exed_exec: the command watcher died\n'
    return 128 + signal.SIGKILL, out, err + lost, order + [('stderr', lost)]


def _output_order(order):
    """[[type, n], ...]: stdout and stderr interleaved as produced, n the
    UTF-8 bytes of that slice of the decoded text (what exed receives), so
    exed can cut its stdout and stderr back into chunks (Shovey streams)."""
    decoders = {}
    slices = []
    for kind, data in order:
        dec = decoders.setdefault(kind, codecs.getincrementaldecoder('utf-8')('replace'))
        n = len(dec.decode(data).encode('utf-8'))
        if slices and slices[-1][0] == kind:
            slices[-1][1] += n
        elif n and len(slices) < MAX_ORDER:
            slices.append([kind, n])
        elif n:
            break
    return slices


def main():
    module = AnsibleModule(
        argument_spec=dict(argv=dict(type='list', elements='raw'), cmd=dict(type='raw'),
                           kill_grace=dict(type='int', default=3)),
        mutually_exclusive=[('argv', 'cmd')],
        required_one_of=[('argv', 'cmd')],
    )
    argv = module.params['argv']
    if argv is None:
        argv = shlex.split(str(module.params['cmd']))
    argv = [str(a) for a in argv]
    if not argv:
        module.fail_json(msg='empty command')
    ran = _run(argv, max(0, module.params['kill_grace']))
    if ran is None:
        os._exit(1)
    rc, out, err, order = ran
    module.exit_json(changed=True, rc=rc, stdout=out.decode('utf-8', 'replace'),
                     stderr=err.decode('utf-8', 'replace'), output_order=_output_order(order))


if __name__ == '__main__':
    main()
