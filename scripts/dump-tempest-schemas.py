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
# Microversion module -> the schema modules taskgate serves. v2_9 re-exports the server schemas
# as they stand at 2.9 (2.3's extended attributes, 2.9's `locked`).
MODULES = {
    'v2_1': ['versions', 'servers', 'interfaces', 'flavors', 'flavors_extra_specs'],
    'v2_9': ['servers'],
}
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
