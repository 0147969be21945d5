#!/usr/bin/python3
"""Dump Tempest's Nova response schemas (Python dicts) to JSON fixtures for the jest suite.

Tempest is the reference OpenStack uses to check Nova's responses, so taskgate's responses are
validated against the same schemas. Run with Debian's python3-tempest installed:
    /usr/bin/python3 scripts/dump-tempest-schemas.py
It rewrites test/fixtures/tempest/*.json; the fixtures are committed so tests need no Python.
"""
import importlib
import json
import os
import sys

import tempest

BASE = 'tempest.lib.api_schema.response.compute'
# Microversion module -> the schema modules taskgate serves: every microversion at which Tempest
# redefines one of them (a later version that does not redefine a module uses the earlier one).
SERVER_VERSIONS = ['v2_3', 'v2_6', 'v2_8', 'v2_9', 'v2_16', 'v2_19', 'v2_26', 'v2_45', 'v2_47', 'v2_48',
                   'v2_51', 'v2_54', 'v2_57', 'v2_58', 'v2_62', 'v2_63', 'v2_70', 'v2_71', 'v2_73',
                   'v2_75', 'v2_79']
MODULES = {
    'v2_1': ['versions', 'servers', 'interfaces', 'flavors', 'flavors_extra_specs', 'keypairs', 'availability_zone',
             'tenant_usages', 'instance_usage_audit_logs', 'server_external_events', 'hypervisors', 'hosts', 'services',
             'aggregates', 'migrations'],
    'v2_2': ['keypairs'],
    'v2_23': ['migrations'],
    'v2_59': ['migrations'],
    'v2_11': ['services'],
    'v2_28': ['hypervisors'],
    'v2_33': ['hypervisors'],
    'v2_41': ['aggregates'],
    'v2_53': ['hypervisors', 'services'],
    'v2_55': ['flavors'],
    'v2_61': ['flavors'],
    'v2_70': ['interfaces'],
    **{v: ['servers'] for v in SERVER_VERSIONS if v != 'v2_70'},
}
MODULES['v2_70'] = ['interfaces', 'servers']
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'tempest')


def main():
    version = getattr(tempest, '__version__', None)
    try:
        from importlib.metadata import version as pkg_version
        version = pkg_version('tempest')
    except Exception:
        pass
    for micro, names in MODULES.items():
        for name in names:
            module = importlib.import_module(f'{BASE}.{micro}.{name}')
            schemas = {
                key: value for key, value in sorted(vars(module).items())
                if isinstance(value, dict) and 'status_code' in value
            }
            path = os.path.join(OUT, f'{micro}.{name}.json')
            with open(path, 'w') as f:
                json.dump({'source': f'{BASE}.{micro}.{name}', 'tempest': version, 'schemas': schemas},
                          f, indent=1, sort_keys=True)
                f.write('\n')
            print(f'{path}: {len(schemas)} schemas', file=sys.stderr)


if __name__ == '__main__':
    main()
