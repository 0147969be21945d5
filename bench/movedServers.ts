import { pathToFileURL } from 'node:url';
import { readInstance } from '../functions/core/compute/readInstance.js';
import { readHosts, seedHosts, setHostService } from '../functions/core/placement/hosts.js';
import { refused, startMeteredHarness, type Billed, type MeteredHarness } from './writeUnits.js';

// A server after each kind of move, beside one never moved (issue 23: every server item on the
// hot path at most 1 KB, whatever moved it): the server of bench/writeUnits.ts (Keystone's ids,
// metadata, its port, a volume attached), moved by its owner (a resize, confirmed or reverted)
// or by an administrator (a cold migration confirmed, a live migration, an evacuation from a host
// forced down), then its item's size, a soft reboot's write units right after the move (the
// move's outcome still on the item) and a refusal's while a stop holds it.
// `npx tsx bench/movedServers.ts` prints them; test/integration/movedServers.test.ts holds them.

export const MOVES = ['never moved', 'resize, confirmed', 'resize, reverted', 'migration, confirmed', 'migration, reverted', 'live migration', 'evacuation', 'each in turn'] as const;
export type Move = (typeof MOVES)[number];

export interface MovedServer {
  /** The item at rest after the move, by DynamoDB's rules (bytes). */
  readonly restingBytes: number;
  /** Write units of a soft reboot right after it, end to end. */
  readonly reboot: Billed;
  /** A refused reboot while a stop holds it: its units, and the claimed item's size. */
  readonly refusal: Billed;
  /** What the item keeps of the move: attributes a server never moved does not have. */
  readonly leftovers: string[];
  /** Hosts holding an allocation of it. */
  readonly allocatedOn: string[];
}

const ADMIN = 'admin:admin';
const HOSTS = ['mv1', 'mv2', 'mv3'].map((name) => ({ name, zone: 'nova', vcpus: 64, ram: 262_144, disk: 4_000 }));

/** The harness with three more hosts to move between (each server boots on the first fitting one). */
export async function startMovingHarness(dynamodbEndpoint?: string): Promise<MeteredHarness> {
  const m = await startMeteredHarness(dynamodbEndpoint);
  await seedHosts(m.h.table('setup'), HOSTS);
  return m;
}

async function act(m: MeteredHarness, token: string, id: string, body: unknown): Promise<void> {
  const res = await m.h.apiAs(token, 'POST', `/servers/${id}/action`, body);
  if (res.statusCode >= 300) throw new Error(`${Object.keys(body as object)[0]} answered ${res.statusCode}: ${res.body}`);
  await m.h.drain();
}

/** The move itself (its units not counted): the owner's requests through `billed`, an administrator's as one. */
async function move(m: MeteredHarness, id: string, kind: Move): Promise<void> {
  const owner = async (body: unknown) => {
    const res = await m.billed('POST', `/servers/${id}/action`, body);
    if (res.status >= 300) throw new Error(`${Object.keys(body as object)[0]} answered ${res.status}`);
  };
  switch (kind) {
    case 'never moved': return;
    case 'each in turn':
      for (const each of MOVES.slice(1, -1)) await move(m, id, each);
      return;
    case 'resize, confirmed': case 'resize, reverted':
      // The next flavor up (a resize to the flavor it has is refused): 1 -> 2 here, 2 -> 3 in turn.
      await owner({ resize: { flavorRef: String(Number((await readInstance(m.h.table('setup'), id))!.flavorId) + 1) } });
      return owner(kind === 'resize, confirmed' ? { confirmResize: null } : { revertResize: null });
    case 'migration, confirmed': case 'migration, reverted':
      await act(m, ADMIN, id, { migrate: null });
      return owner(kind === 'migration, confirmed' ? { confirmResize: null } : { revertResize: null });
    case 'live migration':
      return act(m, ADMIN, id, { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } });
    case 'evacuation': {
      const source = (await readInstance(m.h.table('setup'), id))!.host!;
      await setHostService(m.h.table('setup'), source, { forcedDown: true });
      try {
        return await act(m, ADMIN, id, { evacuate: { onSharedStorage: false } });
      } finally {
        await setHostService(m.h.table('setup'), source, { forcedDown: false });
      }
    }
  }
}

/** What a move may leave on the item (the previous version left an ending and Placement's marks). */
const OF_A_MOVE = ['moveEnding', 'pendingMove', 'oldFlavorId', 'preResizeVmState'] as const;
const MARKS = ['previous', 'resizedBy', 'movedBy'] as const;

/** One fresh server of the project (a port, a volume attached), moved as `kind`, then measured. */
export async function billMovedServer(m: MeteredHarness, kind: Move): Promise<MovedServer> {
  const { id } = await m.server();
  const attach = await m.billed('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: await m.volume() } });
  if (attach.status !== 200) throw new Error(`attach answered ${attach.status}`);
  await move(m, id, kind);
  const item = (await readInstance(m.h.table('setup'), id))!;
  const restingBytes = await m.itemBytes(id);
  const reboot = await m.billed('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } });
  const refusal = await refused(m, id);
  return {
    restingBytes, reboot, refusal,
    leftovers: [...OF_A_MOVE.filter((k) => item[k] !== undefined), ...MARKS.filter((k) => item.allocation?.[k] !== undefined).map((k) => `allocation.${k}`)],
    allocatedOn: (await readHosts(m.h.table('setup'))).filter((h) => h.allocations?.[id]).map((h) => h.name),
  };
}

/**
 * A server waiting for its confirm (VERIFY_RESIZE) after a resize or a cold migration: its item
 * at rest, and the confirm's write units end to end (its claim is billed on that item).
 */
export async function billWaitingServer(m: MeteredHarness, kind: 'resize' | 'migration'): Promise<{ restingBytes: number; confirm: Billed }> {
  const { id } = await m.server();
  await m.billed('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: await m.volume() } });
  if (kind === 'resize') await m.billed('POST', `/servers/${id}/action`, { resize: { flavorRef: '2' } });
  else await act(m, ADMIN, id, { migrate: null });
  const restingBytes = await m.itemBytes(id);
  return { restingBytes, confirm: await m.billed('POST', `/servers/${id}/action`, { confirmResize: null }) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const m = await startMovingHarness(process.env.TASKGATE_DYNAMODB_ENDPOINT);
  try {
    console.log('after               item at rest  claimed item  reboot (units)  refusal  kept of the move');
    for (const kind of MOVES) {
      const s = await billMovedServer(m, kind);
      console.log(`${kind.padEnd(21)} ${String(s.restingBytes).padEnd(13)} ${String(s.refusal.claimedBytes).padEnd(13)} `
        + `${`${s.reboot.total} (table ${s.reboot.table})`.padEnd(15)} ${String(s.refusal.total).padEnd(8)} ${s.leftovers.join(', ') || '-'}`);
    }
    console.log('\nwaiting for its confirm  item at rest  confirm (units)');
    for (const kind of ['resize', 'migration'] as const) {
      const w = await billWaitingServer(m, kind);
      console.log(`${`after a ${kind}`.padEnd(24)} ${String(w.restingBytes).padEnd(13)} ${w.confirm.total} (table ${w.confirm.table})`);
    }
  } finally {
    await m.stop();
  }
}
