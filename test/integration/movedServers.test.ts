import { billMovedServer, MOVES, startMovingHarness, type MovedServer } from '../../bench/movedServers.js';
import type { MeteredHarness } from '../../bench/writeUnits.js';

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
beforeAll(async () => {
  m = await startMovingHarness(process.env.TASKGATE_DYNAMODB_ENDPOINT);
  for (const kind of MOVES) figures[kind] = await billMovedServer(m, kind);
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
