#!/usr/bin/python
# exed's facts: `facter --json` where the host has facter, otherwise the
# facts ansible's own `setup` gathers (without the "ansible_" prefix), in one
# round trip. The result says which: source = "facter" | "ansible".
from __future__ import annotations

DOCUMENTATION = r'''
module: exed_facter
short_description: facter facts, or ansible facts where facter is missing
options:
  gather_timeout: {type: int, default: 10, description: per-collector timeout}
'''

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facts import ansible_collector, default_collectors
from ansible.module_utils.facts.namespace import PrefixFactNamespace


def facter_facts(module):
    facter = module.get_bin_path('facter')
    if not facter:
        return None
    # facter exits 1 when any resolver logged an error (e.g. an unreadable
    # /proc/1/environ in a container) yet prints every other fact: the JSON
    # decides, not the exit code.
    _, out, _ = module.run_command([facter, '--json'])
    try:
        facts = json.loads(out)
    except ValueError:
        return None
    return facts if isinstance(facts, dict) else None


def ansible_facts(module):
    collector = ansible_collector.get_ansible_collector(
        all_collector_classes=default_collectors.collectors,
        namespace=PrefixFactNamespace(namespace_name='ansible', prefix=''),
        filter_spec=[],
        gather_subset=['all'],
        gather_timeout=module.params['gather_timeout'],
        minimal_gather_subset=frozenset())
    return collector.collect(module=module)


def main():
    module = AnsibleModule(argument_spec=dict(gather_timeout=dict(type='int', default=10)),
                           supports_check_mode=True)
    facts = facter_facts(module)
    if facts is not None:
        module.exit_json(changed=False, facter=facts, source='facter')
    module.exit_json(changed=False, facter=ansible_facts(module), source='ansible')


if __name__ == '__main__':
    main()
