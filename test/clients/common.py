"""Shared by the client suites: logging in, waiting, steps.

The suites run under Debian's /usr/bin/python3 with python3-novaclient and python3-openstacksdk,
started by scripts/client-suite.ts against taskgate in Keystone mode. They log in as a user would:
a password through Keystone, from a clouds.yaml (OS_CLIENT_CONFIG_FILE, OS_CLOUD), and find
taskgate as the compute endpoint in Keystone's catalog; nothing tells them taskgate's URL.
"""
import os
import sys
import time
import traceback

import openstack.config

IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b'
IMAGE2 = '155d900f-4e14-4e4c-a73d-069cbf4541e6'
# The clouds (clouds.yaml entries): the suite's project's member acts; Keystone's admin and the
# project's reader check that the roles in the Keystone token are the ones taskgate applies.
CLOUD = os.environ['OS_CLOUD']
ADMIN_CLOUD = os.environ['TASKGATE_ADMIN_CLOUD']
READER_CLOUD = os.environ['TASKGATE_READER_CLOUD']


def cloud_region(cloud):
    """The clouds.yaml entry: keystoneauth's password plugin (auth_url, username, password,
    project and domains) and the region and interface to pick from the catalog."""
    return openstack.config.OpenStackConfig().get_one(cloud=cloud)


def wait_for(read, done, what, timeout=60):
    """Polls read() until done(value); returns the value."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out waiting for {what}; last: {value!r}')
        time.sleep(0.1)


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


class Steps:
    """Runs named steps in order, each a client call sequence with its assertions; reports each."""

    def __init__(self, client):
        self.client = client
        self.failed = []
        self.passed = []

    def run(self, name, fn):
        started = time.monotonic()
        try:
            fn()
        except Exception:  # report every failure, keep going: later steps may not depend on it
            self.failed.append(name)
            print(f'FAIL {self.client}: {name}', flush=True)
            traceback.print_exc(file=sys.stdout)
        else:
            self.passed.append(name)
            print(f'ok   {self.client}: {name} ({time.monotonic() - started:.1f}s)', flush=True)

    def finish(self):
        print(f'{self.client}: {len(self.passed)} passed, {len(self.failed)} failed', flush=True)
        sys.exit(1 if self.failed else 0)
