import { comparison, parseRun, table } from '../../scripts/tempest/byModule.js';

// scripts/tempest/byModule.ts reads stestr's output as run.ts keeps it: the closing note's
// per-module table and every failure's and skip's reason come from it.

const RUN = [
  '{0} tempest.api.compute.admin.test_hosts.HostsAdminTestJSON.test_list_hosts[id-9bfa] [0.1s] ... ok',
  '{1} setUpClass (tempest.api.compute.admin.test_aggregates.AggregatesAdminTestV241) [0.000000s] ... FAILED',
  '',
  'Captured traceback:',
  '~~~~~~~~~~~~~~~~~~~',
  '    Traceback (most recent call last):',
  '      File "/usr/lib/python3/dist-packages/tempest/test.py", line 168, in setUpClass',
  '    raise value.with_traceback(trace)',
  "    tempest.lib.exceptions.InvalidHTTPResponseBody: HTTP response body is invalid json or xml",
  "Details: HTTP response body is invalid ('{}' is not of type 'object')",
  '',
  '{0} tempest.api.compute.admin.test_hosts.HostsAdminTestJSON.test_show_host_detail[id-38ad] [0.2s] ... FAILED',
  '    AssertionError: 1 not greater than or equal to 2',
  '{1} setUpClass (tempest.api.compute.servers.test_novnc.NoVNCConsoleTestJSON) ... SKIPPED: VNC Console feature is disabled.',
  '{0} tempest.api.compute.admin.test_hosts.HostsAdminTestJSON.test_list_hosts_with_zone[id-5dc0] [0.1s] ... SKIPPED: no zones',
].join('\n');

it('counts each module\'s tests, a failed or skipped setUpClass as one of its module', () => {
  const outcomes = parseRun(RUN);
  expect(outcomes.map((o) => [o.module, o.status])).toEqual([
    ['tempest.api.compute.admin.test_hosts', 'ok'],
    ['tempest.api.compute.admin.test_aggregates', 'failed'],
    ['tempest.api.compute.admin.test_hosts', 'failed'],
    ['tempest.api.compute.servers.test_novnc', 'skipped'],
    ['tempest.api.compute.admin.test_hosts', 'skipped'],
  ]);
});

it('gives a failure the exception its traceback ends with, and a skip Tempest\'s reason', () => {
  const [, setUp, assertion, vnc] = parseRun(RUN);
  expect(setUp!.reason).toBe("tempest.lib.exceptions.InvalidHTTPResponseBody: HTTP response body is invalid json or xml Details: HTTP response body is invalid ('{}' is not of type 'object')");
  expect(assertion!.reason).toBe('AssertionError: 1 not greater than or equal to 2');
  expect(vnc!.reason).toBe('VNC Console feature is disabled.');
});

it('tables the modules with their totals, and puts an earlier run beside a later one', () => {
  const lines = table(parseRun(RUN)).split('\n');
  expect(lines.find((l) => l.startsWith('compute.admin.test_hosts'))!.split(/\s+/)).toEqual(['compute.admin.test_hosts', '3', '1', '1', '1']);
  expect(lines.find((l) => l.startsWith('total'))!.split(/\s+/)).toEqual(['total', '5', '1', '2', '2']);
  const after = parseRun(RUN.replace('test_show_host_detail[id-38ad] [0.2s] ... FAILED', 'test_show_host_detail[id-38ad] [0.2s] ... ok'));
  const compared = comparison(parseRun(RUN), after).split('\n');
  expect(compared.find((l) => l.startsWith('compute.admin.test_hosts'))!.split(/\s+/)).toEqual(['compute.admin.test_hosts', '3/1/1/1', '3/2/1/0', '*']);
  expect(compared.find((l) => l.startsWith('compute.admin.test_aggregates'))!.split(/\s+/)).toEqual(['compute.admin.test_aggregates', '1/0/0/1', '1/0/0/1']);
});
