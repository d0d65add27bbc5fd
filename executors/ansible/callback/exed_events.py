# exed's stdout callback: one JSON object per line for every host result, so
# the exed ansible executor can turn each line into a job event as soon as
# the host finishes (instead of parsing the human-readable default output).
#
# Line format (UTF-8, "\n"-terminated, always with "exed_event"):
#   {"exed_event": "ok"|"failed"|"unreachable"|"skipped", "host": "...",
#    "task": "...", "ignored": bool, "result": {...}, "interpreter": "..."?}
#   {"exed_event": "stats", "host": "...", "stats": {"ok": n, ...}}
# Anything else ansible prints on stdout is ignored by the executor.
from __future__ import annotations

DOCUMENTATION = '''
    name: exed_events
    type: stdout
    short_description: one JSON line per host result, read by the exed daemon
    description:
      - Prints one JSON object per line for every task result of every host.
'''

import json
import sys

from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase

# Keys that are noise or duplicates for exed's consumers.
_DROPPED = ('invocation', 'stdout_lines', 'stderr_lines', 'ansible_facts',
            'warnings', 'deprecations')


def _clean(result):
    return {k: v for k, v in result.items()
            if not k.startswith('_ansible') and k not in _DROPPED}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'exed_events'

    def _write(self, obj):
        line = json.dumps(obj, cls=AnsibleJSONEncoder, ensure_ascii=False,
                          preprocess_unsafe=False, default=str)
        out = getattr(sys.stdout, 'buffer', None)
        if out is not None:
            out.write(line.encode('utf-8', 'replace') + b'\n')
        else:
            sys.stdout.write(line + '\n')
        sys.stdout.flush()

    def _result(self, kind, result, ignored=False):
        raw = result._result if isinstance(result._result, dict) else {}
        event = {
            'exed_event': kind,
            'host': result._host.get_name(),
            # the task's own name, without the "role : " prefix
            'task': result._task.name or result._task.action,
            'ignored': bool(ignored),
            'result': _clean(raw),
        }
        facts = raw.get('ansible_facts')
        if isinstance(facts, dict) and facts.get('discovered_interpreter_python'):
            event['interpreter'] = facts['discovered_interpreter_python']
        self._write(event)

    def v2_runner_on_ok(self, result):
        self._result('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('failed', result, ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self._result('unreachable', result)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed.keys()):
            self._write({'exed_event': 'stats', 'host': host,
                         'stats': stats.summarize(host)})
