import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { pathToFileURL } from 'node:url';
import { readInstance } from '../functions/core/compute/readInstance.js';
import { readHosts, seedHosts, setHostService } from '../functions/core/placement/hosts.js';
import { keys } from '../functions/core/shared/table.js';
import { valueSize } from './billing.js';
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

/** What a waiting server's item holds of its move, by attribute (bytes by DynamoDB's rules). */
export const WAITING_LEFTOVERS = ['pendingMove', 'oldFlavorId', 'preResizeVmState', 'allocation.previous'] as const;

export interface WaitingServer {
  /** The item at rest while it waits (VERIFY_RESIZE). */
  readonly restingBytes: number;
  /** The item while its confirm's claim holds it (admitted, not yet taken up). */
  readonly claimedBytes: number;
  /** What the item holds of the move: bytes of each attribute in WAITING_LEFTOVERS it has. */
  readonly heldBy: Record<string, number>;
  /** A confirm and a revert, end to end, each on a server of its own waiting the same way. */
  readonly confirm: Billed;
  readonly revert: Billed;
  /** A second confirm refused while the first holds the claim. */
  readonly refusal: Billed;
}

async function waitingServer(m: MeteredHarness, kind: 'resize' | 'migration'): Promise<string> {
  const { id } = await m.server();
  await m.billed('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: await m.volume() } });
  if (kind === 'resize') await m.billed('POST', `/servers/${id}/action`, { resize: { flavorRef: '2' } });
  else await act(m, ADMIN, id, { migrate: null });
  return id;
}

async function attributeBytes(m: MeteredHarness, id: string): Promise<Record<string, number>> {
  const out = await m.h.emulators.dynamodb.send(new GetItemCommand({
    TableName: m.h.emulators.tableName, Key: { pk: { S: keys.instance(id).pk }, sk: { S: keys.instance(id).sk } }, ConsistentRead: true,
  }));
  const item = out.Item ?? {};
  // A nested attribute also takes its map entry's byte: what the item would lose without it.
  const sized = (name: string, v: AttributeValue | undefined) => (v
    ? { [name]: Buffer.byteLength(name.split('.').pop()!) + valueSize(v) + (name.includes('.') ? 1 : 0) } : {});
  return Object.assign({}, ...WAITING_LEFTOVERS.map((name) => (name === 'allocation.previous'
    ? sized(name, item.allocation?.M?.previous) : sized(name, item[name]))));
}

/**
 * A server waiting for its confirm (VERIFY_RESIZE) after a resize or a cold migration: its item
 * at rest and claimed by its confirm, what of the move it holds, and the confirm's, the revert's
 * and a refused confirm's write units end to end (each claim is billed on that item).
 */
export async function billWaitingServer(m: MeteredHarness, kind: 'resize' | 'migration'): Promise<WaitingServer> {
  const id = await waitingServer(m, kind);
  const restingBytes = await m.itemBytes(id);
  const heldBy = await attributeBytes(m, id);
  const admitted = await m.billedAlone('POST', `/servers/${id}/action`, { confirmResize: null });
  if (admitted.status !== 204) throw new Error(`confirm answered ${admitted.status}`);
  const claimedBytes = await m.itemBytes(id);
  const refusal = await m.billedAlone('POST', `/servers/${id}/action`, { confirmResize: null });
  await m.h.drain();
  // Each server deleted once measured: the project's quota (Nova's default, 10) holds them all.
  await m.billed('DELETE', `/servers/${id}`);
  const ended = async (body: unknown) => {
    const other = await waitingServer(m, kind);
    const bill = await m.billed('POST', `/servers/${other}/action`, body);
    await m.billed('DELETE', `/servers/${other}`);
    return bill;
  };
  const confirm = await ended({ confirmResize: null });
  const revert = await ended({ revertResize: null });
  return { restingBytes, claimedBytes, heldBy, confirm, revert, refusal };
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
    console.log('\nwaiting for its confirm  item at rest  claimed item  confirm (units)  revert (units)  refusal  held of the move (bytes)');
    for (const kind of ['resize', 'migration'] as const) {
      const w = await billWaitingServer(m, kind);
      console.log(`${`after a ${kind}`.padEnd(24)} ${String(w.restingBytes).padEnd(13)} ${String(w.claimedBytes).padEnd(13)} `
        + `${`${w.confirm.total} (table ${w.confirm.table})`.padEnd(16)} ${`${w.revert.total} (table ${w.revert.table})`.padEnd(15)} `
        + `${`${w.refusal.total} (${w.refusal.status})`.padEnd(8)} ${Object.entries(w.heldBy).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    }
  } finally {
    await m.stop();
  }
}
