#!/usr/bin/python3
# -*- coding: utf-8 -*-
# The arcadvise role's module: runs arcadvise on the managed host and hands
# its JSON to Ansible as it is. arcadvise's document already carries what an
# Ansible module returns: "changed", "drift" and "diff" (before, after,
# before_header, after_header), so this module adds no logic of its own.

DOCUMENTATION = r'''
module: arcadvise
short_description: Converge zfs_arc_max in modprobe.d to arcadvise's recommendation
description:
  - Runs C(arcadvise --write --format json) (in check mode C(arcadvise --diff --format json),
    which plans the change, is refused wherever the write would be, and writes
    nothing) and returns arcadvise's verdict.
  - Supports check mode and diff mode.
options:
  reserve: {type: list, elements: str, default: [], description: "arcadvise --reserve values (auto: what the host declares)"}
  guests: {type: str, default: "", description: "arcadvise --guests (running, boot or all), with reserve auto"}
  arc_max: {type: str, default: "", description: "arcadvise --arc-max (your own cap)"}
  root: {type: path, default: /, description: "arcadvise --root"}
  binary: {type: path, default: /usr/bin/arcadvise}
  force: {type: bool, default: false}
'''

RETURN = r'''
drift: {type: bool, description: "the host differs from the recommendation (arcadvise --check's exit status 1)"}
recommendation: {type: dict, description: "arcadvise's recommendation object"}
initramfs_command: {type: str, description: "the command that rebuilds the initramfs after this change, or empty"}
next_steps: {type: list, description: "what to do after the write, for this host"}
'''

import json

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            reserve=dict(type='list', elements='str', default=[]),
            guests=dict(type='str', default=''),
            arc_max=dict(type='str', default=''),
            root=dict(type='path', default='/'),
            binary=dict(type='path', default='/usr/bin/arcadvise'),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if bool(p['reserve']) == bool(p['arc_max']):
        module.fail_json(msg='set exactly one of reserve (the workload\'s memory) or arc_max (your own cap)')
    cmd = [p['binary'], '--root', p['root'], '--format', 'json']
    for r in p['reserve']:
        cmd += ['--reserve', r]
    if p['guests']:
        cmd += ['--guests', p['guests']]
    if p['arc_max']:
        cmd += ['--arc-max', p['arc_max']]
    if p['force']:
        cmd.append('--force')
    # Check mode previews with --diff, which refuses what --write would
    # refuse (a kernel command line that overrides the file, a container,
    # NixOS, a read-only /etc), so that check mode never reports "changed"
    # where the real run fails.
    cmd.append('--diff' if module.check_mode else '--write')
    rc, out, err = module.run_command(cmd)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    # 0 ok, 3 over-committed (no cap: nothing to converge to); 2 is a
    # refused write or bad input, with arcadvise's own message on stderr.
    if rc not in (0, 3) or doc is None:
        module.fail_json(msg=(err or out).strip() or 'arcadvise exit %d' % rc, rc=rc, cmd=cmd)
    if rc == 3:
        module.fail_json(msg='over-committed: the reservation leaves no room for a useful ARC (arcadvise exit 3)',
                         rc=rc, recommendation=doc.get('recommendation'))
    config = doc.get('config') or {}
    result = dict(
        changed=doc.get('changed', False),
        drift=doc.get('drift', False),
        recommendation=doc.get('recommendation'),
        target_file=config.get('target_file', ''),
        initramfs_command=config.get('initramfs_command', ''),
        next_steps=config.get('next_steps', []),
        warnings_arcadvise=doc.get('warnings', []),
    )
    if module._diff and doc.get('diff'):
        result['diff'] = doc['diff']
    module.exit_json(**result)


if __name__ == '__main__':
    main()
