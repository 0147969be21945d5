import { consoleLog, tailLog } from '../../functions/core/compute/consoleLog.js';
import type { InstanceAction } from '../../functions/core/compute/instanceActions.js';
import type { Instance } from '../../functions/core/compute/instance.js';
import { hoursFor, usageTime } from '../../functions/core/compute/tenantUsage.js';

// The pure parts of the guest's reads: Nova's _tail_log, the console built from the actions,
// Nova's _hours_for and the way its usage report spells times.

describe('tailLog (nova/compute/manager.py _tail_log)', () => {
  const log = 'one\ntwo\nthree';
  it.each([
    [undefined, 'one\ntwo\nthree'], [2, 'two\nthree'], [5, 'one\ntwo\nthree'], [0, ''], [-1, 'two\nthree'],
  ])('length %p gives %j', (length, want) => expect(tailLog(log, length)).toBe(want));
});

describe('consoleLog', () => {
  const instance = { id: 'i', name: 'vm', hostname: 'vm-host' } as Instance;
  const action = (name: string, startTime: string, result: 'Success' | 'Error' = 'Success') =>
    ({ action: name, startTime, result } as InstanceAction);

  it('prints what each successful action did to the guest, oldest first, and nothing for failures', () => {
    const out = consoleLog(instance, [
      action('stop', '2026-01-01T00:02:00Z'), action('create', '2026-01-01T00:00:00Z'),
      action('trigger_crash_dump', '2026-01-01T00:01:00Z', 'Error'),
    ]).split('\n');
    expect(out.at(-1)).toBe('reboot: Power down');
    expect(out.at(-2)).toBe('vm-host login: ');
    expect(out.join('\n')).not.toContain('panic');
  });
});

describe('hoursFor (simple_tenant_usage.py _hours_for)', () => {
  const H = 3_600_000;
  const period = { start: 10 * H, stop: 20 * H };
  it.each([
    ['never launched', undefined, undefined, 0],
    ['launched inside, still running', 12 * H, undefined, 8],
    ['launched before, still running', 0, undefined, 10],
    ['terminated inside', 12 * H, 15 * H, 3],
    ['terminated before the period', 0, 5 * H, 0],
    ['launched after the period', 25 * H, undefined, 0],
  ])('%s', (_name, launched, terminated, hours) => expect(hoursFor(launched, terminated, period)).toBe(hours));
});

describe('usageTime (timeutils.normalize_time as JSON shows it)', () => {
  it('has no zone, and microseconds only when they are not zero', () => {
    expect(usageTime(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe('2026-01-02T03:04:05');
    expect(usageTime(Date.UTC(2026, 0, 2, 3, 4, 5, 120))).toBe('2026-01-02T03:04:05.120000');
  });
});
