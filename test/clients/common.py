"""Shared by the client suites: where taskgate is, the local token convention, waiting, steps.

The suites run under Debian's /usr/bin/python3 with python3-novaclient and python3-openstacksdk,
started by scripts/client-suite.ts against a local runtime (TASKGATE_API_URL).
"""
import os
import sys
import time
import traceback
import uuid

from keystoneauth1 import session
from keystoneauth1.token_endpoint import Token

API = os.environ['TASKGATE_API_URL'].rstrip('/')
IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b'
IMAGE2 = '155d900f-4e14-4e4c-a73d-069cbf4541e6'


def keystone_session(user, project):
    """No Keystone: a token-endpoint plugin hands the clients taskgate's URL and the noauth token
    (`<user>:<project>`), exactly what an operator's script would configure."""
    return session.Session(auth=Token(API, f'{user}:{project}'))


def fresh_project(client):
    return f'{client}-{uuid.uuid4().hex[:8]}'


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
