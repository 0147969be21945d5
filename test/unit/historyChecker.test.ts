import {
  checkAddresses, checkAntiAffinity, checkCapacity, checkDeletions, checkQuotas, checkFencing, checkHistory, checkIdempotency, checkKeyEffects, checkLeases, checkOverlap, checkOwnership,
  checkTerminal, checkTransitions,
} from '../support/history/checker.js';
import type { Actor, HistoryEvent, WriteEvent } from '../support/history/events.js';
import { findOverlaps } from '../support/history/overlap.js';

// The history checker must see each kind of violation: a clean history passes, and each
// history below, with exactly one violation planted, fails naming that invariant.

const I = 'i-1';
const T0 = Date.parse('2030-01-01T00:00:00Z');
const iso = (t: number) => new Date(t).toISOString();
const SWEEP = 1_000;

let seq = 0;
const api: Actor = { role: 'api', id: 'api' };
const worker = (requestId: string, token: number, driver = false): Actor => ({ role: 'worker', id: `w-${requestId}`, requestId, instanceId: I, token, driver });

function meta(t: number, actor: Actor, item: Record<string, unknown>, command: WriteEvent['command'] = 'Update'): WriteEvent {
  return {
    kind: 'write', seq: ++seq, start: t, end: t + 1, actor, command, pk: `INSTANCE#${I}`, sk: 'META', ok: true,
    after: { id: I, updated: iso(t), ...item },
  };
}
function write(t: number, actor: Actor, pk: string, sk: string, command: WriteEvent['command'], after?: Record<string, unknown>, values?: Record<string, unknown>): WriteEvent {
  return { kind: 'write', seq: ++seq, start: t, end: t + 1, actor, command, pk, sk, ok: true, after, values };
}
const claim = (op: string, requestId: string) => ({ op, requestId, params: {} });

/** A clean life: create, build, reboot; every request ended once. */
function cleanHistory(): HistoryEvent[] {
  seq = 0;
  return [
    { kind: 'request', seq: ++seq, client: 'c1', op: 'create', method: 'POST', path: '/servers', start: T0, end: T0 + 5, status: 202, requestId: 'req-c', idempotencyKey: 'k1', answer: { id: I } },
    meta(T0 + 1, api, { vmState: 'building', taskState: 'scheduling', claim: claim('create', 'req-c'), version: 1, leaseUntil: T0 + 5_000 }, 'Put'),
    write(T0 + 2, api, `INSTANCE#${I}`, 'ACTION#req-c', 'Put', { requestId: 'req-c' }),
    { kind: 'request', seq: ++seq, client: 'c1', op: 'create', method: 'POST', path: '/servers', start: T0 + 6, end: T0 + 8, status: 202, requestId: 'req-c', idempotencyKey: 'k1', answer: { id: I } },
    meta(T0 + 10, worker('req-c', 1), { vmState: 'building', taskState: 'scheduling', claim: claim('create', 'req-c'), version: 1, leaseUntil: T0 + 6_000 }),
    meta(T0 + 20, worker('req-c', 1), { vmState: 'building', taskState: 'spawning', claim: claim('create', 'req-c'), version: 1, leaseUntil: T0 + 6_000 }),
    meta(T0 + 30, worker('req-c', 1), { vmState: 'active', version: 2, lastOutcome: { requestId: 'req-c', result: 'Success' } }),
    write(T0 + 31, worker('req-c', 1), `INSTANCE#${I}`, 'ACTION#req-c', 'Update', { requestId: 'req-c', finishTime: iso(T0 + 31) }),
    { kind: 'request', seq: ++seq, client: 'c2', op: 'reboot_hard', instanceId: I, method: 'POST', path: `/servers/${I}/action`, start: T0 + 40, end: T0 + 45, status: 202, requestId: 'req-r' },
    meta(T0 + 41, api, { vmState: 'active', taskState: 'rebooting_hard', claim: claim('reboot_hard', 'req-r'), version: 3, leaseUntil: T0 + 5_041 }),
    meta(T0 + 50, worker('req-r', 3), { vmState: 'active', taskState: 'rebooting_hard', claim: claim('reboot_hard', 'req-r'), version: 3, leaseUntil: T0 + 6_050 }),
    meta(T0 + 60, worker('req-r', 3), { vmState: 'active', version: 4, lastOutcome: { requestId: 'req-r', result: 'Success' } }),
    write(T0 + 61, worker('req-r', 3), `INSTANCE#${I}`, 'ACTION#req-r', 'Update', { requestId: 'req-r', finishTime: iso(T0 + 61) }),
    { kind: 'final', seq: ++seq, at: T0 + 100, items: [] },
  ];
}

const names = (h: HistoryEvent[]) => checkHistory(h, { sweepIntervalMs: SWEEP }).map((v) => v.invariant);

describe('history checker', () => {
  it('passes a clean history', () => {
    expect(checkHistory(cleanHistory(), { sweepIntervalMs: SWEEP })).toEqual([]);
  });

  it('overlap: a second operation writes on the instance while the first still does', () => {
    const h = cleanHistory();
    // The create's worker writes once more, after the reboot's worker began.
    h.push(meta(T0 + 55, worker('req-c', 1), { vmState: 'active', version: 4 }));
    (h[h.length - 1] as any).ok = true;
    const found = checkOverlap(h);
    expect(found.map((v) => v.invariant)).toEqual(['overlap']);
    expect(found[0]!.message).toMatch(/req-c and req-r overlap on instance i-1|req-r and req-c overlap/);
  });

  it('terminal: an accepted request that never ended, and one that ended twice', () => {
    const never = cleanHistory().filter((e) => !(e.kind === 'write' && e.sk === 'ACTION#req-r'));
    expect(names(never)).toEqual(['terminal']);
    expect(checkTerminal(never)[0]!.message).toMatch(/reboot_hard req-r .* ended 0 times/);
    const twice = cleanHistory();
    twice.push(write(T0 + 70, { role: 'sweeper', id: 's' }, `INSTANCE#${I}`, 'ACTION#req-r', 'Update', { finishTime: iso(T0 + 70) }));
    expect(names(twice)).toEqual(['terminal']);
    expect(checkTerminal(twice)[0]!.message).toMatch(/ended 2 times/);
  });

  it('terminal: a delete answered 204 without a claim (the server was already being deleted) queued nothing; one with a claim must end', () => {
    const deleteRequest = (requestId: string) => ({
      kind: 'request' as const, seq: ++seq, client: 'c3', op: 'delete', instanceId: I, method: 'DELETE', path: `/servers/${I}`,
      start: T0 + 70, end: T0 + 72, status: 204, requestId,
    });
    const noop = cleanHistory();
    noop.push(deleteRequest('req-d2'));
    expect(names(noop)).toEqual([]);
    const claimedDelete = cleanHistory();
    claimedDelete.push(deleteRequest('req-d'),
      meta(T0 + 71, api, { vmState: 'active', taskState: 'deleting', claim: claim('delete', 'req-d'), version: 5, leaseUntil: T0 + 5_071 }));
    expect(names(claimedDelete)).toContain('terminal');
    expect(checkTerminal(claimedDelete)[0]!.message).toMatch(/delete req-d .* ended 0 times/);
  });

  it('lease: a claim released long after its lease ran out, and one still held at the end', () => {
    const late = cleanHistory();
    const release = late.findIndex((e) => e.kind === 'write' && e.after?.version === 4);
    (late[release] as any).after.updated = iso(T0 + 6_050 + SWEEP + 500);
    expect(names(late)).toEqual(['lease']);
    expect(checkLeases(late, { sweepIntervalMs: SWEEP })[0]!.message).toMatch(/reboot_hard req-r on i-1 was released 1500 ms after/);

    const held = cleanHistory().filter((e) => !(e.kind === 'write' && (e.after?.version === 4 || e.sk === 'ACTION#req-r')));
    const final = held.find((e) => e.kind === 'final') as any;
    final.at = T0 + 10_000;
    expect(checkLeases(held, { sweepIntervalMs: SWEEP }).map((v) => v.message)).toEqual([expect.stringMatching(/was still held/)]);
  });

  it('fenced: a worker writes after its claim was taken over', () => {
    seq = 0;
    const h: HistoryEvent[] = [
      meta(T0, { role: 'harness', id: 'h' }, { vmState: 'active', version: 1 }, 'Put'),
      meta(T0 + 10, api, {
        vmState: 'active', taskState: 'attaching_volume', claim: claim('attach_volume', 'req-a'), version: 2, leaseUntil: T0 + 9_000,
        takenOver: [claim('reboot_soft', 'req-s')],
      }),
      meta(T0 + 20, worker('req-a', 2), { vmState: 'active', taskState: 'attaching_volume', claim: claim('attach_volume', 'req-a'), version: 2, leaseUntil: T0 + 9_000 }),
      meta(T0 + 30, api, { vmState: 'active', taskState: 'deleting', claim: claim('delete', 'req-d'), version: 3, leaseUntil: T0 + 9_000 }),
      // The superseded attach still writes its mapping: the violation.
      write(T0 + 40, worker('req-a', 2, true), `INSTANCE#${I}`, 'BDM#vol-1', 'Put', { id: 'vol-1', instanceId: I }, { ':request': 'req-a' }),
      // Its own cleanup afterwards is allowed.
      write(T0 + 50, worker('req-a', 2), `INSTANCE#${I}`, 'BDM#vol-1', 'Delete', undefined, { ':request': 'req-a' }),
      write(T0 + 51, worker('req-a', 2), 'VOLUME#vol-1', 'META', 'Update', { status: 'available' }, { ':request': 'req-a', ':available': 'available' }),
      write(T0 + 52, worker('req-a', 2), `INSTANCE#${I}`, 'ACTION#req-a', 'Update', { finishTime: iso(T0 + 52) }),
      // So is its run item (a late take-up), and ending the action of the claim it had taken over.
      write(T0 + 53, worker('req-a', 2), `INSTANCE#${I}`, 'RUN#2', 'Put', { runner: 'w' }),
      write(T0 + 54, worker('req-a', 2), `INSTANCE#${I}`, 'ACTION#req-s', 'Update', { finishTime: iso(T0 + 54) }),
      // Another request's action record is not its to write.
      write(T0 + 55, worker('req-a', 2), `INSTANCE#${I}`, 'ACTION#req-x', 'Update', { finishTime: iso(T0 + 55) }),
    ];
    const found = checkFencing(h);
    expect(found.map((v) => v.invariant)).toEqual(['fenced', 'fenced']);
    expect(found[0]).toMatchObject({ message: expect.stringMatching(/worker of req-a \(token 2\) wrote Put INSTANCE#i-1\/BDM#vol-1/) });
    expect(found[1]).toMatchObject({ message: expect.stringMatching(/wrote Update INSTANCE#i-1\/ACTION#req-x/) });
    expect(checkFencing(h.filter((e) => !(e.kind === 'write' && (e.sk === 'BDM#vol-1' && e.command === 'Put' || e.sk === 'ACTION#req-x'))))).toEqual([]);
  });

  it('fenced: a taken-over snapshot\'s worker may discard its own image, never upload it or touch another', () => {
    seq = 0;
    const image = (requestId: string, status: string) => ({ id: `img-${requestId}`, request_id: requestId, status });
    const h: HistoryEvent[] = [
      meta(T0, api, { vmState: 'active', taskState: 'image_snapshot_pending', claim: claim('create_image', 'req-i'), version: 1 }, 'Put'),
      write(T0 + 10, api, 'IMAGES', 'IMAGE#img-req-i', 'Put', image('req-i', 'queued')),
      meta(T0 + 30, api, { vmState: 'active', taskState: 'deleting', claim: claim('delete', 'req-d'), version: 2 }),
      write(T0 + 40, worker('req-i', 1, true), 'IMAGES', 'IMAGE#img-req-i', 'Put', image('req-i', 'active'), { ':read': 1 }),
      write(T0 + 50, worker('req-i', 1), 'IMAGES', 'IMAGE#img-req-i', 'Put', image('req-i', 'deleted'), { ':read': 2 }),
      write(T0 + 60, worker('req-i', 1), 'IMAGES', 'IMAGE#img-req-o', 'Put', image('req-o', 'deleted'), { ':read': 1 }),
    ];
    expect(checkFencing(h).map((v) => v.message)).toEqual([
      expect.stringMatching(/worker of req-i \(token 1\) wrote Put IMAGES\/IMAGE#img-req-i after/),
      expect.stringMatching(/worker of req-i \(token 1\) wrote Put IMAGES\/IMAGE#img-req-o after/),
    ]);
  });

  it('fenced: a taken-over resize\'s worker may stop its own Migration record, never finish it or touch another', () => {
    seq = 0;
    const migration = (requestId: string, status: string) => ({ uuid: `m-${requestId}`, requestId, status, migrationType: 'resize' });
    const h: HistoryEvent[] = [
      meta(T0, api, { vmState: 'active', taskState: 'resize_prep', claim: claim('resize', 'req-r'), version: 1 }, 'Put'),
      write(T0 + 10, worker('req-r', 1), 'MIGRATIONS', 'MIGRATION#m-req-r', 'Put', migration('req-r', 'migrating')),
      meta(T0 + 30, api, { vmState: 'active', taskState: 'deleting', claim: claim('delete', 'req-d'), version: 2 }),
      write(T0 + 40, worker('req-r', 1), 'MIGRATIONS', 'MIGRATION#m-req-r', 'Update', migration('req-r', 'error'), { ':to': 'error' }),
      write(T0 + 50, worker('req-r', 1), 'MIGRATIONS', 'MIGRATION#m-req-r', 'Update', migration('req-r', 'finished'), { ':to': 'finished' }),
      write(T0 + 60, worker('req-r', 1), 'MIGRATIONS', 'MIGRATION#m-req-o', 'Update', migration('req-o', 'error'), { ':to': 'error' }),
    ];
    expect(checkFencing(h).map((v) => v.message)).toEqual([
      expect.stringMatching(/worker of req-r \(token 1\) wrote Update MIGRATIONS\/MIGRATION#m-req-r after/),
      expect.stringMatching(/worker of req-r \(token 1\) wrote Update MIGRATIONS\/MIGRATION#m-req-o after/),
    ]);
  });

  it('fenced: a taken-over revert\'s worker may stop the Migration record it took into reverting, not one it never touched', () => {
    seq = 0;
    const migration = (uuid: string, status: string) => ({ uuid, requestId: 'req-resize', status, migrationType: 'resize' });
    const h: HistoryEvent[] = [
      meta(T0, api, { vmState: 'resized', taskState: 'resize_reverting', claim: claim('revert_resize', 'req-v'), version: 1 }, 'Put'),
      write(T0 + 10, worker('req-v', 1), 'MIGRATIONS', 'MIGRATION#m-1', 'Update', migration('m-1', 'reverting'), { ':to': 'reverting' }),
      meta(T0 + 30, api, { vmState: 'resized', taskState: 'deleting', claim: claim('delete', 'req-d'), version: 2 }),
      write(T0 + 40, worker('req-v', 1), 'MIGRATIONS', 'MIGRATION#m-1', 'Update', migration('m-1', 'error'), { ':to': 'error' }),
      write(T0 + 50, worker('req-v', 1), 'MIGRATIONS', 'MIGRATION#m-2', 'Update', migration('m-2', 'error'), { ':to': 'error' }),
    ];
    expect(checkFencing(h).map((v) => v.message)).toEqual([
      expect.stringMatching(/worker of req-v \(token 1\) wrote Update MIGRATIONS\/MIGRATION#m-2 after/),
    ]);
  });

  it('fenced: a taken-over worker\'s late allocation is its own cleanup only if it did not outlive the run', () => {
    const late = (givenBack: boolean): HistoryEvent[] => {
      seq = 0;
      const entry = { vcpus: 1, ram: 512, disk: 1, at: T0 + 40 };
      return [
        meta(T0, api, { vmState: 'building', taskState: 'scheduling', claim: claim('create', 'req-c'), version: 1 }, 'Put'),
        meta(T0 + 30, api, { vmState: 'building', taskState: 'deleting', claim: claim('delete', 'req-d'), version: 2 }),
        write(T0 + 40, worker('req-c', 1), 'HOSTS', 'HOST#h1', 'Update', host(1, { [I]: 1 }), { ':entry': entry }),
        ...(givenBack ? [write(T0 + 50, worker('req-c', 1), 'HOSTS', 'HOST#h1', 'Update', host(0, {}), { ':at': entry.at })] : []),
        { kind: 'final', seq: ++seq, at: T0 + 100, items: [{ pk: 'HOSTS', sk: 'HOST#h1', ...(givenBack ? host(0, {}) : { ...host(1, {}), allocations: { [I]: entry } }) }] },
      ];
    };
    expect(checkFencing(late(true))).toEqual([]);
    expect(checkFencing(late(false)).map((v) => v.message)).toEqual([
      expect.stringMatching(/worker of req-c \(token 1\) wrote Update HOSTS\/HOST#h1 after its claim was taken over/),
    ]);
  });

  it('fenced: a taken-over resize\'s worker may put back the entry its own resize replaced, not one another request made', () => {
    const undone = (madeBy: string): HistoryEvent[] => {
      seq = 0;
      const before = { vcpus: 1, ram: 512, disk: 1, at: T0 };
      const resized = { vcpus: 2, ram: 4096, disk: 40, at: T0 + 20, resizedBy: madeBy, previous: before };
      return [
        meta(T0, api, { vmState: 'active', taskState: 'resize_prep', claim: claim('resize', 'req-r'), version: 3 }),
        write(T0 + 20, worker('req-r', 3), 'HOSTS', 'HOST#h1', 'Update', host(2, { [I]: 1 }), { ':at': before.at, ':to': resized }),
        meta(T0 + 30, api, { vmState: 'active', taskState: 'deleting', claim: claim('delete', 'req-d'), version: 4 }),
        write(T0 + 40, worker('req-r', 3), 'HOSTS', 'HOST#h1', 'Update', host(1, { [I]: 1 }), { ':at': resized.at, ':to': before }),
        // The delete failed: the server stays, on the allocation it had before the resize.
        { kind: 'final', seq: ++seq, at: T0 + 100, items: [{ pk: 'HOSTS', sk: 'HOST#h1', ...host(1, {}), allocations: { [I]: before } }] },
      ];
    };
    expect(checkFencing(undone('req-r'))).toEqual([]);
    expect(checkFencing(undone('req-other')).map((v) => v.message)).toEqual([
      expect.stringMatching(/worker of req-r \(token 3\) wrote Update HOSTS\/HOST#h1 after its claim was taken over/),
    ]);
  });

  it('fenced: after its own release a request settles what it reserved, but no driver of it writes', () => {
    seq = 0;
    const run = (id: string, driver = false): Actor => ({ ...worker('req-a', 2, driver), id });
    const h: HistoryEvent[] = [
      meta(T0, { role: 'harness', id: 'h' }, { vmState: 'active', version: 1 }, 'Put'),
      meta(T0 + 10, api, { vmState: 'active', taskState: 'attaching_volume', claim: claim('attach_volume', 'req-a'), version: 2, leaseUntil: T0 + 9_000 }),
      // The second run of req-a (it took over from the first) releases; the next request claims.
      meta(T0 + 20, run('w-second'), { vmState: 'active', version: 3 }),
      meta(T0 + 30, api, { vmState: 'active', taskState: 'rebooting', claim: claim('reboot_soft', 'req-r'), version: 4, leaseUntil: T0 + 9_000 }),
      // The releasing run marks its volume in use after that, and a redelivery does it again: its settle.
      write(T0 + 40, run('w-second'), 'VOLUME#vol-1', 'META', 'Update', { status: 'in-use' }, { ':request': 'req-a', ':inUse': 'in-use' }),
      write(T0 + 45, run('w-third'), 'VOLUME#vol-1', 'META', 'Update', { status: 'in-use' }, { ':request': 'req-a', ':inUse': 'in-use' }),
      // The first run's driver, taken over, writes its mapping late: the violation.
      write(T0 + 50, run('w-first', true), `INSTANCE#${I}`, 'BDM#vol-1', 'Put', { id: 'vol-1', instanceId: I }, { ':request': 'req-a' }),
    ];
    const found = checkFencing(h);
    expect(found.map((v) => v.message)).toEqual([expect.stringMatching(/wrote Put INSTANCE#i-1\/BDM#vol-1 after its claim was taken over \(version 3 by worker\)/)]);
  });

  it('ownership: a volume attached to two instances at once, and a leaked reservation at the end', () => {
    seq = 0;
    const twice: HistoryEvent[] = [
      meta(T0, worker('req-a', 2, true), { vmState: 'active', version: 2, volumes: { 'vol-1': { id: 'vol-1' } } }),
      { ...meta(T0 + 10, worker('req-b', 5, true), { vmState: 'active', version: 5, volumes: { 'vol-1': { id: 'vol-1' } } }), pk: 'INSTANCE#i-2' },
    ];
    expect(checkOwnership(twice).map((v) => v.message)).toEqual(['volume vol-1 attached to i-1 and i-2 at once']);

    const leaked: HistoryEvent[] = [{
      kind: 'final', seq: ++seq, at: T0,
      items: [
        { pk: 'INSTANCE#i-1', sk: 'META', id: 'i-1', vmState: 'active', version: 3 },
        { pk: 'VOLUME#vol-9', sk: 'META', id: 'vol-9', status: 'attaching', instanceId: 'i-1', requestId: 'req-gone' },
      ],
    }];
    expect(checkOwnership(leaked)).toEqual([{ invariant: 'ownership', message: expect.stringMatching(/VOLUME#vol-9 left attaching by req-gone/) }]);
  });

  it('address: a fixed IP left by a port that is gone, one listed by two ports, a membership without its port', () => {
    const port = (id: string, ips: string[]) => ({ pk: `PORT#${id}`, sk: 'META', id, status: 'in-use', networkId: 'n', fixedIps: ips.map((ipAddress) => ({ subnetId: 's', ipAddress })) });
    const address = (ip: string, portId: string) => ({ pk: 'SUBNET#s', sk: `IP#${ip}`, portId, ipAddress: ip });
    const at = (items: Record<string, unknown>[]): HistoryEvent[] => [{ kind: 'final', seq: ++seq, at: T0, items }];
    expect(checkAddresses(at([port('p1', ['10.0.0.2']), address('10.0.0.2', 'p1'), { pk: 'NETWORK#n', sk: 'PORT#p1', portId: 'p1', networkId: 'n' }]))).toEqual([]);
    expect(checkAddresses(at([address('10.0.0.3', 'gone')])).map((v) => v.message)).toEqual([expect.stringMatching(/10\.0\.0\.3 held for port gone, which does not exist \(leaked\)/)]);
    expect(checkAddresses(at([port('p1', ['10.0.0.2']), port('p2', ['10.0.0.2']), address('10.0.0.2', 'p1')])).map((v) => v.message))
      .toEqual([expect.stringMatching(/listed by ports p1 and p2/), expect.stringMatching(/port p2 lists s 10\.0\.0\.2, which its address item does not give it/)]);
    expect(checkAddresses(at([{ pk: 'NETWORK#n', sk: 'PORT#p9', portId: 'p9', networkId: 'n' }])).map((v) => v.invariant)).toEqual(['address']);
  });

  it('transition: an operation admitted in a vm_state the catalogue refuses, and one ending where it may not', () => {
    const admitted = cleanHistory();
    const claimWrite = admitted.findIndex((e) => e.kind === 'write' && e.after?.version === 3) ;
    (admitted[claimWrite] as any).after.claim = claim('unshelve', 'req-r');
    (admitted[claimWrite] as any).after.taskState = 'unshelving';
    for (const e of admitted) if (e.kind === 'write' && e.after?.version === 3) { e.after.claim = claim('unshelve', 'req-r'); e.after.taskState = 'unshelving'; }
    expect(checkTransitions(admitted).map((v) => v.message)).toEqual([expect.stringMatching(/unshelve admitted in vm_state active/)]);

    const ended = cleanHistory();
    for (const e of ended) if (e.kind === 'write' && e.after?.version === 4) e.after.vmState = 'shelved';
    expect(names(ended)).toEqual(['transition']);
    expect(checkTransitions(ended)[0]!.message).toMatch(/reboot_hard ended in vm_state shelved/);
  });

  it('idempotency: a retry with the same key answered as another request', () => {
    const h = cleanHistory();
    const retry = h.findIndex((e) => e.kind === 'request' && e.start === T0 + 6);
    // Answered with the same request id but another body: the retry was not given the first answer.
    (h[retry] as any).answer = { id: 'i-other' };
    expect(names(h)).toEqual(['idempotency']);
    expect(checkIdempotency(h)[0]!.message).toMatch(/key c1 k1: answered 202 req-c, first answered 202 req-c/);
  });
});

/**
 * The clean history's hard reboot under an Idempotency-Key, then a retry under the same key after
 * the first's answer was lost: `retryRunsAs` is the request id the key's record gives the retry.
 */
function keyedRebootRetried(retryRunsAs: string, record: Record<string, unknown>): HistoryEvent[] {
  const h: HistoryEvent[] = cleanHistory().filter((e) => e.kind !== 'final');
  h.push(write(T0 + 39, api, 'IDEMPOTENCY#0123456789abcdef', 'META', 'Put', { owner: 'req-r', requestId: 'req-r', status: 'INPROGRESS' }));
  h.push(write(T0 + 70, api, 'IDEMPOTENCY#0123456789abcdef', 'META', 'Update', { status: 'INPROGRESS', ...record }));
  h.push({
    kind: 'request', seq: ++seq, client: 'c2', op: 'reboot_hard', instanceId: I, method: 'POST', path: `/servers/${I}/action`,
    start: T0 + 70, end: T0 + 75, status: 202, requestId: retryRunsAs,
  });
  if (retryRunsAs !== 'req-r') {
    // The retry was admitted as a new request: a second reboot.
    h.push(meta(T0 + 71, api, { vmState: 'active', taskState: 'rebooting_hard', claim: claim('reboot_hard', retryRunsAs), version: 5, leaseUntil: T0 + 5_071 }));
    h.push(meta(T0 + 80, worker(retryRunsAs, 5), { vmState: 'active', version: 6, lastOutcome: { requestId: retryRunsAs, result: 'Success' } }));
    h.push(write(T0 + 81, worker(retryRunsAs, 5), `INSTANCE#${I}`, `ACTION#${retryRunsAs}`, 'Update', { requestId: retryRunsAs, finishTime: iso(T0 + 81) }));
  }
  h.push({ kind: 'final', seq: ++seq, at: T0 + 100, items: [] });
  return h;
}

/** The clean history, then a delete answered 204 whose claim landed, ending as given. */
function deleteAnswered(end: 'deleted' | 'reset' | 'driverFailed'): HistoryEvent[] {
  const h: HistoryEvent[] = cleanHistory().filter((e) => e.kind !== 'final');
  h.push({ kind: 'request', seq: ++seq, client: 'c1', op: 'delete', instanceId: I, method: 'DELETE', path: `/servers/${I}`, start: T0 + 70, end: T0 + 72, status: 204, requestId: 'req-d' });
  h.push(meta(T0 + 71, api, { vmState: 'active', taskState: 'deleting', claim: claim('delete', 'req-d'), version: 5, leaseUntil: T0 + 5_071 }));
  const instance = { pk: `INSTANCE#${I}`, sk: 'META', id: I, version: 6 };
  let item: Record<string, unknown>;
  let action: Record<string, unknown>;
  if (end === 'reset') {
    // An administrator's os-resetState took the claim over: the delete's worker was fenced out.
    item = { ...instance, vmState: 'active' };
    h.push(meta(T0 + 75, api, { vmState: 'active', version: 6 }));
    action = { requestId: 'req-d', result: 'Error', traceback: 'Superseded: the claim on the instance was taken over before this operation finished', finishTime: iso(T0 + 76) };
    h.push(write(T0 + 76, api, `INSTANCE#${I}`, 'ACTION#req-d', 'Update', action));
  } else {
    item = end === 'deleted' ? { ...instance, vmState: 'deleted', deleted: true } : { ...instance, vmState: 'error' };
    h.push(meta(T0 + 80, worker('req-d', 5), { ...item, lastOutcome: { requestId: 'req-d', result: end === 'deleted' ? 'Success' : 'Error' } }));
    action = end === 'deleted'
      ? { requestId: 'req-d', result: 'Success', finishTime: iso(T0 + 81) }
      : { requestId: 'req-d', result: 'Error', traceback: 'driver failed at destroy', finishTime: iso(T0 + 81) };
    h.push(write(T0 + 81, worker('req-d', 5), `INSTANCE#${I}`, 'ACTION#req-d', 'Update', action));
  }
  h.push({ kind: 'final', seq: ++seq, at: T0 + 100, items: [item, { pk: `INSTANCE#${I}`, sk: 'ACTION#req-d', ...action }] });
  return h;
}

describe('history checker: one key, one effect; an answered delete is carried out', () => {
  it('keyEffect: a retry that takes an abandoned key over goes on as the first request: one reboot', () => {
    expect(names(keyedRebootRetried('req-r', { owner: 'req-r2', requestId: 'req-r' }))).toEqual([]);
  });

  it('keyEffect: a retry that took the key over as a new request rebooted the server a second time', () => {
    // As the previous version's takeover wrote it: the new request became the record's owner.
    const h = keyedRebootRetried('req-r2', { owner: 'req-r2' });
    expect(names(h)).toEqual(['keyEffect']);
    expect(checkKeyEffects(h)[0]!.message).toMatch(/took effect 2 times: reboot_hard req-r on i-1 \(v3\); reboot_hard req-r2 on i-1 \(v5\)/);
  });

  it('deletion: a delete that ends with the server deleted, or failed by its own driver, passes', () => {
    expect(names(deleteAnswered('deleted'))).toEqual([]);
    expect(names(deleteAnswered('driverFailed'))).toEqual([]);
  });

  it('deletion: an answered delete superseded by a reset-state while the server stays', () => {
    const h = deleteAnswered('reset');
    expect(names(h)).toEqual(['deletion']);
    expect(checkDeletions(h)[0]!.message).toMatch(/delete req-d of i-1 was answered 204, but the server ends active \(its action: Error Superseded/);
  });
});

/** Placement's items: a host of 2 vCPUs, 2048 MiB, 20 GiB and what is allocated on it. */
function host(used: number, allocations: Record<string, number>) {
  return {
    name: 'h1', vcpus: 2, ram: 2048, disk: 20, usedVcpus: used, usedRam: used * 512, usedDisk: used,
    allocations: Object.fromEntries(Object.entries(allocations).map(([id, n]) => [id, { vcpus: n, ram: n * 512, disk: n, at: T0 }])),
  };
}
const live = (id: string) => ({ pk: `INSTANCE#${id}`, sk: 'META', id });

/** Two servers placed on a host that holds two; optionally a third write that overfills it. */
function placements(over: boolean): HistoryEvent[] {
  seq = 0;
  const h: HistoryEvent[] = [
    write(T0, worker('req-a', 1), 'HOSTS', 'HOST#h1', 'Update', host(1, { a: 1 })),
    write(T0 + 1, worker('req-b', 1), 'HOSTS', 'HOST#h1', 'Update', host(2, { a: 1, b: 1 })),
  ];
  if (over) h.push(write(T0 + 2, worker('req-c', 1), 'HOSTS', 'HOST#h1', 'Update', host(3, { a: 1, b: 1, c: 1 })));
  h.push({ kind: 'final', seq: ++seq, at: T0 + 100, items: [{ pk: 'HOSTS', sk: 'HOST#h1', ...host(over ? 3 : 2, over ? { a: 1, b: 1, c: 1 } : { a: 1, b: 1 }) }, live('a'), live('b'), live('c')] });
  return h;
}

/** Members of group g placed on hosts, as their instance items say. */
function members(hosts: readonly string[], policy = 'anti-affinity', rules: Record<string, number> = {}): HistoryEvent[] {
  seq = 0;
  return [
    write(T0, api, 'SERVERGROUPS', 'GROUP#g', 'Put', { id: 'g', policy, rules, members: {} }),
    ...hosts.map((h, i): HistoryEvent => write(T0 + 1 + i, worker(`req-${i}`, 1), `INSTANCE#m${i}`, 'META', 'Update', {
      id: `m${i}`, vmState: 'active', host: h, serverGroupId: 'g',
    })),
    { kind: 'final', seq: ++seq, at: T0 + 100, items: [] },
  ];
}

describe('history checker: placement', () => {
  it('capacity: a host filled to its capacity passes', () => {
    expect(checkCapacity(placements(false))).toEqual([]);
  });

  it('capacity: a write that leaves a host over its capacity', () => {
    const h = placements(true);
    expect(checkCapacity(h).map((v) => v.message)).toEqual([
      expect.stringMatching(/host h1 over capacity after write 3: 3\/2 vCPUs, 1536\/2048 MiB, 3\/20 GiB/),
    ]);
    expect(names(h)).toContain('capacity');
  });

  it('capacity: at rest, a host still allocated to a server that is gone, or using what its allocations do not add up to', () => {
    seq = 0;
    const leaked: HistoryEvent[] = [{ kind: 'final', seq: 1, at: T0, items: [{ pk: 'HOSTS', sk: 'HOST#h1', ...host(1, { gone: 1 }) }] }];
    expect(checkCapacity(leaked).map((v) => v.message)).toEqual(['host h1 still allocated to server gone, which is gone (leaked)']);
    const drift: HistoryEvent[] = [{ kind: 'final', seq: 1, at: T0, items: [{ pk: 'HOSTS', sk: 'HOST#h1', ...host(2, { a: 1 }) }, live('a')] }];
    expect(checkCapacity(drift).map((v) => v.message)).toEqual(['host h1 uses 2 vCPUs, 1024 MiB, 2 GiB, not the sum of its allocations']);
  });

  it('quota: a project\'s usage past its own limit, and past the default class\'s', () => {
    seq = 0;
    const usage = (project: string, instances: number) => write(T0, api, `SERVERUSAGE#${project}`, 'META', 'Update', { instances, cores: instances, ram: instances * 512 });
    const h: HistoryEvent[] = [
      usage('p1', 3), usage('p1', 4), usage('p2', 5), usage('p2', 6), usage('p3', 5),
      { kind: 'final', seq: ++seq, at: T0 + 100, items: [
        { pk: 'QUOTA#p1', sk: 'LIMITS', instances: 3 }, { pk: 'QUOTACLASS#default', sk: 'LIMITS', instances: 5 },
      ] },
    ];
    expect(checkQuotas(h).map((v) => v.message)).toEqual([
      'project p1 uses 4 instances after write 2, over its limit of 3',
      'project p2 uses 6 instances after write 4, over its limit of 5',
    ]);
    expect(names(h)).toEqual(['quota', 'quota']);
  });

  it('quota: at rest, counters that are not the sum of the project\'s charges (items and the previous map), and ones that are', () => {
    seq = 0;
    const charge = (project: string, server: string) => ({ pk: `SERVERCHARGES#${project}`, sk: `CHARGE#${server}`, cores: 2, ram: 1024, at: T0 });
    const h: HistoryEvent[] = [{ kind: 'final', seq: ++seq, at: T0, items: [
      { pk: 'SERVERUSAGE#ok', sk: 'META', instances: 2, cores: 4, ram: 2048, counted: { b: { cores: 2, ram: 1024, at: T0 } } }, charge('ok', 'a'),
      { pk: 'SERVERUSAGE#leaked', sk: 'META', instances: 2, cores: 4, ram: 2048 }, charge('leaked', 'a'),
    ] }];
    expect(checkQuotas(h).map((v) => v.message)).toEqual([
      'project leaked counts 2 instances at rest, its charges 1', 'project leaked counts 4 cores at rest, its charges 2',
      'project leaked counts 2048 ram at rest, its charges 1024',
    ]);
  });

  it('quota: at rest, a spread project\'s counters are its charges (every partition) plus the room its slices hold', () => {
    seq = 0;
    const charge = (pk: string, server: string) => ({ pk, sk: `CHARGE#${server}`, cores: 2, ram: 1024, at: T0, slice: 0 });
    const slice = (pk: string, room: number) => ({ pk, sk: 'META', roomInstances: room, roomCores: 2 * room, roomRam: 1024 * room });
    const h: HistoryEvent[] = [{ kind: 'final', seq: ++seq, at: T0, items: [
      { pk: 'SERVERUSAGE#ok', sk: 'META', instances: 5, cores: 10, ram: 5120 },
      charge('SERVERCHARGES#ok', 'a'), charge('SERVERCHARGES7#ok', 'b'), slice('SERVERUSAGE0#ok', 1), slice('SERVERUSAGE3#ok', 2),
      { pk: 'SERVERUSAGE#lost', sk: 'META', instances: 5, cores: 10, ram: 5120 },
      charge('SERVERCHARGES5#lost', 'a'), slice('SERVERUSAGE1#lost', 3),
      // Another project whose id ends the same way: none of its items are ok's.
      { pk: 'SERVERUSAGE#x#ok', sk: 'META', instances: 1, cores: 2, ram: 1024 }, charge('SERVERCHARGES#x#ok', 'c'),
    ] }];
    expect(checkQuotas(h).map((v) => v.message)).toEqual([
      'project lost counts 5 instances at rest, its charges and its slices\' room 4', 'project lost counts 10 cores at rest, its charges and its slices\' room 8',
      'project lost counts 5120 ram at rest, its charges and its slices\' room 4096',
    ]);
  });

  it('antiAffinity: members on distinct hosts pass; two on one host do not, unless the group allows two per host or is not anti-affine', () => {
    expect(checkAntiAffinity(members(['h1', 'h2', 'h3']))).toEqual([]);
    const h = members(['h1', 'h2', 'h1']);
    expect(checkAntiAffinity(h).map((v) => v.message)).toEqual(['anti-affinity group g has 2 members on host h1 after write 4: m0, m2']);
    expect(names(h)).toEqual(['antiAffinity']);
    expect(checkAntiAffinity(members(['h1', 'h1'], 'anti-affinity', { max_server_per_host: 2 }))).toEqual([]);
    expect(checkAntiAffinity(members(['h1', 'h1'], 'affinity'))).toEqual([]);
  });

  it('antiAffinity: a member deleted frees its place', () => {
    const h = members(['h1']);
    h.splice(2, 0, write(T0 + 5, worker('req-d', 2), 'INSTANCE#m0', 'META', 'Update', { id: 'm0', vmState: 'deleted', deleted: true, host: 'h1', serverGroupId: 'g' }));
    h.splice(3, 0, write(T0 + 6, worker('req-n', 1), 'INSTANCE#m9', 'META', 'Update', { id: 'm9', vmState: 'active', host: 'h1', serverGroupId: 'g' }));
    expect(checkAntiAffinity(h)).toEqual([]);
  });
});

describe('findOverlaps', () => {
  it('reports intersecting holds of different holders, not touching or same-holder ones', () => {
    expect(findOverlaps([
      { resource: 'r', holder: 'a', start: 0, end: 10 },
      { resource: 'r', holder: 'b', start: 10, end: 20 },
      { resource: 'r', holder: 'a', start: 15, end: 18 },
      { resource: 's', holder: 'c', start: 0, end: 100 },
      { resource: 's', holder: 'c', start: 5, end: 6 },
    ]).map((o) => `${o.resource}:${o.first.holder}/${o.second.holder}`)).toEqual(['r:b/a']);
  });
});
