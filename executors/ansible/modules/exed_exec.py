#!/usr/bin/python
# exed's exact command runner, used by the exed ansible executor's `execute`.
#
# Why not ansible's `command` module: it strips trailing newlines from the
# output and expands $VARS and ~ in every argument (ansible-core 2.14 has no
# way to turn that off). exed promises byte-exact output and the exact argv.
# Like `command`, it never involves a shell: `cmd` is split shell-like
# (shlex) and `argv` is used as given.
#
# It also watches its own stdout (the pipe back to sshd): when the ssh
# session goes away (the job was cancelled and the local ansible killed) it
# kills the command's process group instead of leaving it running.
from __future__ import annotations

DOCUMENTATION = r'''
module: exed_exec
short_description: run a command exactly, without a shell, for exed
options:
  argv: {type: list, elements: str, description: the exact argv}
  cmd: {type: str, description: a command line split shell-like (no shell)}
'''

import codecs
import os
import select
import shlex
import signal
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule

KILL_GRACE = 3.0
MAX_ORDER = 10000  # slices of output_order; the rest of the output follows them


def _kill_group(proc):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except OSError:
            return
        deadline = time.time() + KILL_GRACE
        while time.time() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.05)


def _run(argv):
    """Returns (rc, stdout bytes, stderr bytes, order); None when our caller left.
    order: ('stdout'|'stderr', bytes) per read, in the order they came."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
    chunks = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    poller.register(1, 0)  # only POLLERR/POLLHUP: the ssh session closed
    open_fds = set(chunks)
    order = []
    while open_fds:
        for fd, ev in poller.poll(500):
            if fd == 1:
                _kill_group(proc)
                return None
            data = os.read(fd, 65536) if ev & (select.POLLIN | select.POLLHUP) else b''
            if data:
                chunks[fd].append(data)
                order.append(('stdout' if fd == proc.stdout.fileno() else 'stderr', data))
            else:
                poller.unregister(fd)
                open_fds.discard(fd)
    rc = proc.wait()
    if rc < 0:
        rc = 128 - rc  # killed by a signal: report it like a shell does
    return rc, b''.join(chunks[proc.stdout.fileno()]), b''.join(chunks[proc.stderr.fileno()]), order


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
        argument_spec=dict(argv=dict(type='list', elements='raw'), cmd=dict(type='raw')),
        mutually_exclusive=[('argv', 'cmd')],
        required_one_of=[('argv', 'cmd')],
    )
    argv = module.params['argv']
    if argv is None:
        argv = shlex.split(str(module.params['cmd']))
    argv = [str(a) for a in argv]
    if not argv:
        module.fail_json(msg='empty command')
    try:
        ran = _run(argv)
    except OSError as e:
        module.exit_json(changed=True, rc=127, stdout='',
                         stderr='%s: %s\n' % (argv[0], e.strerror))
    if ran is None:
        os._exit(1)
    rc, out, err, order = ran
    module.exit_json(changed=True, rc=rc, stdout=out.decode('utf-8', 'replace'),
                     stderr=err.decode('utf-8', 'replace'), output_order=_output_order(order))


if __name__ == '__main__':
    main()
