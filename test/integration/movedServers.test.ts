import { billMovedServer, billWaitingServer, MOVES, startMovingHarness, type MovedServer, type WaitingServer } from '../../bench/movedServers.js';
import type { MeteredHarness } from '../../bench/writeUnits.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { PowerState } from '../../functions/core/compute/states.js';
import { readHosts } from '../../functions/core/placement/hosts.js';

// Issue 23's "every item on the hot path at most 1 KB", after any move (bench/movedServers.ts):
// the server of writeUnits.test.ts (Keystone's ids, metadata, a port, a volume) resized and
// confirmed or reverted, cold-migrated and confirmed or reverted, live-migrated, evacuated, and
// all of these in turn. Each keeps nothing of its move on its item (no ending, no Placement
// marks on its allocation), is allocated on one host, stays at most 1 KB claimed, and costs what
// a server never moved costs: a soft reboot right after the move 6 units, a refusal 1. Before:
// 1,067-1,188 bytes claimed, a reboot 8 units, a refusal 2 (docs/write-units.md). Keeping the
// ending on the item again, or the marks on its allocation, fails every row but the first.

let m: MeteredHarness;
const figures: Partial<Record<(typeof MOVES)[number], MovedServer>> = {};
const waiting: Partial<Record<'resize' | 'migration', WaitingServer>> = {};
beforeAll(async () => {
  m = await startMovingHarness(process.env.TASKGATE_DYNAMODB_ENDPOINT);
  for (const kind of MOVES) figures[kind] = await billMovedServer(m, kind);
  for (const kind of ['resize', 'migration'] as const) waiting[kind] = await billWaitingServer(m, kind);
}, 120_000);
afterAll(() => m.stop());

const each = <T>(f: (s: MovedServer) => T) => Object.fromEntries(MOVES.map((kind) => [kind, f(figures[kind]!)]));
const all = <T>(value: T) => Object.fromEntries(MOVES.map((kind) => [kind, value]));

it('the item keeps nothing of the move, and the server is allocated on one host', () => {
  expect(each((s) => [s.leftovers, s.allocatedOn.length])).toEqual(all([[], 1]));
});

it('the item is at most 1 KB at rest and while a claim holds it', () => {
  expect(each((s) => s.restingBytes <= 1024 && s.refusal.claimedBytes! <= 1024)).toEqual(all(true));
});

it('a soft reboot right after the move costs what it costs on a server never moved (6 units), a refusal 1', () => {
  const never = figures['never moved']!.reboot;
  expect(never.total).toBeLessThanOrEqual(6);
  expect(each((s) => [s.reboot.status, s.reboot.total, s.reboot.table, s.refusal.status, s.refusal.total]))
    .toEqual(all([202, never.total, never.table, 409, 1]));
});

// A server waiting for its confirm (VERIFY_RESIZE) keeps only its migration's pointer (16 bytes:
// functions/core/compute/pendingMove.ts); its old flavor, vm_state, zone and allocation (the
// source's, or the one before a resize) are on the migration record. Before: 1,085 bytes while its
// confirm's claim held it after a resize, 1,161 after a cold migration (docs/write-units.md).
// Keeping the move on the item as the previous version did fails the first test.
it('a waiting server\'s item keeps only the pointer to its migration and is at most 1 KB while its confirm\'s claim holds it', () => {
  const of = (w: WaitingServer) => ({ held: Object.keys(w.heldBy), pointer: w.heldBy.pendingMove! <= 27, resting: w.restingBytes <= 1024, claimed: w.claimedBytes <= 1024 });
  const fits = { held: ['pendingMove'], pointer: true, resting: true, claimed: true };
  expect({ resize: of(waiting.resize!), migration: of(waiting.migration!) }).toEqual({ resize: fits, migration: fits });
  expect([waiting.resize!.refusal.status, waiting.migration!.refusal.status]).toEqual([409, 409]);
});

const allocations = async (id: string) => Object.fromEntries((await readHosts(m.h.table('setup')))
  .filter((h) => h.allocations?.[id]).map((h) => [h.name, { ram: h.allocations[id]!.ram, at: h.allocations[id]!.at }]));

async function ok(pending: Promise<{ status: number }>) {
  expect((await pending).status).toBeLessThan(300);
}

/** A server (stopped first if `from` says so) resized to flavor 2 or cold-migrated, then confirmed or reverted. */
async function endWaiting(kind: 'resize' | 'migration', from: 'active' | 'stopped', ending: 'confirmResize' | 'revertResize') {
  const { id } = await m.server();
  const action = `/servers/${id}/action`;
  if (from === 'stopped') await ok(m.billed('POST', action, { 'os-stop': null }));
  const before = await allocations(id);
  if (kind === 'resize') await ok(m.billed('POST', action, { resize: { flavorRef: '2' } }));
  else {
    expect((await m.h.apiAs('admin:admin', 'POST', action, { migrate: null })).statusCode).toBe(202);
    await m.h.drain();
  }
  const moved = await allocations(id);
  expect((await readInstance(m.h.table('setup'), id))!.vmState).toBe('resized');
  await ok(m.billed('POST', action, { [ending]: null }));
  const server = (await readInstance(m.h.table('setup'), id))!;
  const ended = {
    flavorId: server.flavorId, vmState: server.vmState, powerState: server.powerState, allocations: await allocations(id),
    kept: ['pendingMove', 'oldFlavorId', 'preResizeVmState'].filter((k) => k in server), previous: server.allocation?.previous,
  };
  await ok(m.billed('DELETE', `/servers/${id}`));
  return { before, moved, ended };
}

// What a confirm and a revert read back from the migration record: the old flavor, the vm_state
// before the move (a stopped server stays stopped: without it a confirm or revert ends ACTIVE),
// the allocation before a resize and a cold migration's source (the same `at`: the same entry).
it.each([
  ['resize', 'confirmResize'], ['resize', 'revertResize'], ['migration', 'confirmResize'], ['migration', 'revertResize'],
] as const)('a %s of a stopped server and of an active one, then %s: the flavor, vm_state and allocations it ends with', async (kind, ending) => {
  for (const from of ['stopped', 'active'] as const) {
    const { before, moved, ended } = await endWaiting(kind, from, ending);
    const [source] = Object.keys(before);
    const target = Object.keys(moved).find((host) => kind === 'resize' || host !== source)!;
    const allocated = ending === 'revertResize' ? before : { [target]: moved[target] };
    expect(ended).toEqual({
      flavorId: kind === 'resize' && ending === 'confirmResize' ? '2' : '1',
      vmState: from, powerState: from === 'stopped' ? PowerState.SHUTDOWN : PowerState.RUNNING, allocations: allocated, kept: [], previous: undefined,
    });
    // The move took something to give back: a resize a larger share of its host, a cold migration a second host.
    expect(kind === 'resize' ? moved[source!]!.ram > before[source!]!.ram : Object.keys(moved).length === 2).toBe(true);
  }
});
