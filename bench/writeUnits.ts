import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { pathToFileURL } from 'node:url';
import { cachedFlavors } from '../functions/core/compute/flavors.js';
import { readInstance } from '../functions/core/compute/readInstance.js';
import { DEFAULT_IMAGES } from '../functions/core/images/image.js';
import { findImageToBoot } from '../functions/core/images/store.js';
import { cachedNetworks } from '../functions/core/networks/networks.js';
import { keys } from '../functions/core/shared/table.js';
import { volumeItem } from '../functions/core/volumes/volumes.js';
import { DEFAULT_TYPE } from '../functions/core/volumes/types.js';
import { itemSize, type Item } from './billing.js';
import { writeUnitsOf, type Bill } from './capacityMeter.js';
import { startHarness, type Harness } from './harness.js';
import type { ProjectSpread } from '../functions/core/shared/projectSpread.js';
import { indexLoad, listingUnitsByKind, sliceLoad, spreadListingLoad, type QuotaKey, type SliceUnits } from './loadModel.js';
import { setProjectLimits } from '../functions/core/placement/quotas/limits.js';
import { REFILL_SERVERS } from '../functions/core/placement/quotas/slices.js';
import { chargeServers, giveBackServer } from '../functions/core/placement/quotas/usage.js';
import { MAX_SPREAD } from '../functions/core/shared/projectSpread.js';
import { shardOf } from '../functions/core/shared/table.js';

// Write units per operation, end to end (admission, take-up, checkpoints, release, the action's
// record, every index), as DynamoDB bills them (capacityMeter.ts, from AWS's rules in
// billing.ts), on items as a real client leaves them: Keystone's 32-character user and project
// ids, a server made through the API with metadata and the port it gets on the project's
// network. `npx tsx bench/writeUnits.ts` prints them; test/integration/writeUnits.test.ts holds
// them to issue 23's budget.

export interface Billed {
  /** Write units in all, the table's, and each index's. */
  readonly total: number;
  readonly table: number;
  readonly indexes: Record<string, number>;
  /** The index units by the index partition key they land on (`<index> <key>`). */
  readonly keys: Record<string, number>;
  readonly status: number;
  readonly body: any;
  /** A refusal: the size of the server item it was refused by, by DynamoDB's rules (bytes). */
  readonly claimedBytes?: number;
}

export interface MeteredHarness {
  readonly h: Harness;
  readonly projectId: string;
  /** One request as the project's user, and everything its worker does, billed. */
  billed(method: string, path: string, body?: unknown): Promise<Billed>;
  /** One request alone, its worker not run (a refusal). */
  billedAlone(method: string, path: string, body?: unknown): Promise<Billed>;
  /** A server made through the API (its create billed and returned). */
  server(): Promise<{ id: string; create: Billed }>;
  /** The size of a server's item now, by DynamoDB's rules (bytes). */
  itemBytes(id: string): Promise<number>;
  /** An available volume of the project, as Cinder leaves it (not billed). */
  volume(): Promise<string>;
  stop(): Promise<void>;
}

const hex = () => crypto.randomUUID().replaceAll('-', '');
const IMAGE = DEFAULT_IMAGES[0]!.id;

const summed = (bills: Bill[]) => {
  const indexes: Record<string, number> = {};
  const keys: Record<string, number> = {};
  for (const b of bills) for (const [name, n] of Object.entries(b.indexWriteUnits)) indexes[name] = (indexes[name] ?? 0) + n;
  for (const b of bills) for (const [key, n] of Object.entries(b.indexKeyWriteUnits)) keys[key] = (keys[key] ?? 0) + n;
  return {
    keys,
    total: bills.reduce((sum, b) => sum + writeUnitsOf(b), 0),
    table: bills.reduce((sum, b) => sum + b.tableWriteUnits, 0),
    indexes,
  };
};

/** `spread`: the metered project's (TASKGATE_PROJECT_SPREAD's entry for it); unset, an ordinary project. */
export async function startMeteredHarness(dynamodbEndpoint?: string, spread?: ProjectSpread): Promise<MeteredHarness> {
  const projectId = hex();
  const h = await startHarness({ workMs: 0, dynamodbEndpoint, ...(spread ? { projectSpreads: { [projectId]: spread } } : {}) });
  // Caches a running API holds (flavors, networks, images): the steady state is what is billed.
  await cachedFlavors(h.table('setup'));
  await cachedNetworks(h.table('setup'));
  await findImageToBoot(h.table('setup'), IMAGE);
  const token = `${hex()}:${projectId}`;

  const request = async (method: string, path: string, body: unknown, drain: boolean): Promise<Billed> => {
    h.meter.take('api');
    h.meter.take('compute');
    h.meter.measuring = true;
    try {
      const res = await h.apiAs(token, method, path, body);
      if (drain) await h.drain();
      return { ...summed([h.meter.take('api'), h.meter.take('compute')]), status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
    } finally {
      h.meter.measuring = false;
    }
  };
  const billed = (method: string, path: string, body?: unknown) => request(method, path, body, true);
  return {
    h, projectId, billed,
    billedAlone: (method, path, body) => request(method, path, body, false),
    async server() {
      const create = await billed('POST', '/servers', {
        server: { name: 'billed', flavorRef: '1', imageRef: IMAGE, metadata: { role: 'web' } },
      });
      if (create.status !== 202) throw new Error(`create answered ${create.status}`);
      return { id: create.body.server.id, create };
    },
    async itemBytes(id) {
      const out = await h.emulators.dynamodb.send(new GetItemCommand({
        TableName: h.emulators.tableName, Key: { pk: { S: keys.instance(id).pk }, sk: { S: keys.instance(id).sk } }, ConsistentRead: true,
      }));
      return out.Item ? itemSize(out.Item as Item) : 0;
    },
    async volume() {
      const id = crypto.randomUUID();
      const created = new Date().toISOString();
      await h.table('setup').db.send(new PutCommand({
        TableName: h.emulators.tableName,
        Item: volumeItem({
          id, projectId, userId: 'seed', status: 'available', size: 1, name: null, description: null, volumeTypeId: DEFAULT_TYPE.id,
          metadata: {}, availabilityZone: 'nova', multiattach: false, bootable: false, created, updated: created,
        }, `req-seed-${id}`),
      }));
      return id;
    },
    stop: () => h.stop(),
  };
}

/**
 * Each operation the issue prices, billed once on a fresh server: made with its port, a volume
 * attached, then the one-step operation and the refusal on the server with both (issue 23's
 * server), then a resize and its confirmation, and the delete.
 */
export async function billOperations(m: MeteredHarness): Promise<Record<string, Billed>> {
  const figures: Record<string, Billed> = {};
  const { id, create } = await m.server();
  figures.create = create;
  figures.attach = await m.billed('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: await m.volume() } });
  figures.reboot = await m.billed('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } });
  figures.refusal = await refused(m, id);
  figures.resize = await m.billed('POST', `/servers/${id}/action`, { resize: { flavorRef: '2' } });
  await m.billed('POST', `/servers/${id}/action`, { confirmResize: null });
  figures.delete = await m.billed('DELETE', `/servers/${id}`);
  return figures;
}

/** A refusal: a reboot while a stop holds the server (the stop's own units are not counted). */
export async function refused(m: MeteredHarness, id: string): Promise<Billed> {
  await m.h.apiAs(`${hex()}:${m.projectId}`, 'POST', `/servers/${id}/action`, { 'os-stop': null });
  const refusal = { ...await m.billedAlone('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } }), claimedBytes: await m.itemBytes(id) };
  await m.h.drain();
  await m.h.apiAs(`${hex()}:${m.projectId}`, 'POST', `/servers/${id}/action`, { 'os-start': null });
  await m.h.drain();
  return refusal;
}

/** Operation mixes the load model is run on (shares of the operations a second). */
export const LOAD_MIXES: Record<string, Record<string, number>> = {
  reboots: { reboot: 1 },
  resizes: { resize: 1 },
  mixed: { reboot: 0.7, resize: 0.1, create: 0.1, delete: 0.1 },
  creates: { create: 1 },
  churn: { create: 0.5, delete: 0.5 },
};

/** The listing partitions a project needs for 10,000 creates plus deletes a second: 10,000 / 16 = 625 units a key (x1.6). */
export const SPREAD_LISTING_PARTITIONS = 16;

export interface SpreadBills {
  readonly m: MeteredHarness;
  readonly server: string;
  /** The port the server was made with. */
  readonly ports: string[];
  readonly create: Billed;
  readonly delete: Billed;
}

/** A create (with its port) and its delete in a project spread over `listingPartitions`, billed by index key. */
export async function billSpreadCreateAndDelete(listingPartitions = SPREAD_LISTING_PARTITIONS): Promise<SpreadBills> {
  const m = await startMeteredHarness(process.env.TASKGATE_DYNAMODB_ENDPOINT, { listingPartitions, usageSlices: 1 });
  try {
    const { id, create } = await m.server();
    const ports = Object.keys((await readInstance(m.h.table('setup'), id))?.ports ?? {});
    return { m, server: id, ports, create, delete: await m.billed('DELETE', `/servers/${id}`) };
  } catch (err) {
    await m.stop();
    throw err;
  }
}

/** The usage slices a project needs for 10,000 creates plus deletes a second: 20,000 x 2 / 32 = 625 units a key (x1.6). */
export const SPREAD_USAGE_SLICES = 32;

/** A quota key's kind, from its partition key: the counters, a slice of them, or a partition of the charges. */
function quotaKeyOf(pk: string, projectId: string): QuotaKey | undefined {
  if (pk === `SERVERUSAGE#${projectId}`) return 'counters';
  if (/^SERVERUSAGE\d+#/.test(pk) && pk.endsWith(`#${projectId}`)) return 'slice';
  if (/^SERVERCHARGES\d*#/.test(pk) && pk.endsWith(`#${projectId}`)) return 'charges';
  return undefined;
}

/**
 * The quota's own write units, by kind of key, of a project spread over `usageSlices`: a create
 * on an empty slice (the refused take and the refill), a create on a slice with room, and a
 * give-back; charged at admission's level on the API's metered client (the rest of a create
 * and a delete does not change with the slices).
 */
export async function billSliceCharges(usageSlices = SPREAD_USAGE_SLICES): Promise<SliceUnits> {
  const m = await startMeteredHarness(process.env.TASKGATE_DYNAMODB_ENDPOINT, { listingPartitions: 1, usageSlices });
  try {
    const table = m.h.table('api');
    await setProjectLimits(table, m.projectId, { instances: 1_000_000, cores: 1_000_000, ram: 1_000_000_000 });
    const onSlice = () => { for (;;) { const id = crypto.randomUUID(); if (shardOf(id, usageSlices) === 0) return id; } };
    const billed = async (step: () => Promise<unknown>): Promise<Record<QuotaKey, number>> => {
      m.h.meter.take('api');
      m.h.meter.measuring = true;
      try {
        await step();
      } finally {
        m.h.meter.measuring = false;
      }
      const byKind: Record<QuotaKey, number> = { slice: 0, charges: 0, counters: 0 };
      for (const [pk, units] of Object.entries(m.h.meter.take('api').tableKeyWriteUnits)) {
        const kind = quotaKeyOf(pk, m.projectId);
        if (kind) byKind[kind] += units;
      }
      return byKind;
    };
    const deps = { table, leaseMs: 60_000 };
    const size = { vcpus: 1, ram: 512 };
    const second = onSlice();
    const refill = await billed(() => chargeServers(deps, m.projectId, [onSlice()], size, 1, Date.now()));
    const take = await billed(() => chargeServers(deps, m.projectId, [second], size, 1, Date.now()));
    const giveBack = await billed(() => giveBackServer(table, m.projectId, second));
    return { take, refill, giveBack };
  } finally {
    await m.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const m = await startMeteredHarness(process.env.TASKGATE_DYNAMODB_ENDPOINT);
  try {
    const figures = await billOperations(m);
    console.log('operation  status  write units  table  indexes');
    for (const [op, b] of Object.entries(figures)) {
      const indexes = Object.entries(b.indexes).map(([n, u]) => `${n} ${u}`).join(', ') || '-';
      console.log(`${op.padEnd(10)} ${String(b.status).padEnd(7)} ${String(b.total).padEnd(12)} ${String(b.table).padEnd(6)} ${indexes}`);
    }
    console.log(`\nthe server item while a claim holds it (one port, one volume): ${figures.refusal!.claimedBytes} bytes`);
    console.log('\nload model: write units a second on the busiest key of each index (limit about 1,000), and the headroom');
    const perOperation = Object.fromEntries(Object.entries(figures).map(([op, b]) => [op, b.indexes]));
    for (const [scope, perSecond] of [['deployment', 100_000], ['project', 10_000]] as const) {
      for (const [name, mix] of Object.entries(LOAD_MIXES)) {
        const load = indexLoad(perOperation, mix, perSecond, scope).map((l) => `${l.index} ${Math.round(l.unitsPerKey)} (x${l.headroom === Infinity ? '-' : l.headroom.toFixed(1)})`);
        console.log(`${scope} ${perSecond.toLocaleString('en')}/s ${name.padEnd(9)} ${load.join(', ')}`);
      }
    }
  } finally {
    await m.stop();
  }
  const spread = await billSpreadCreateAndDelete();
  try {
    const byKey = (b: Billed) => Object.entries(b.keys).filter(([k]) => k.startsWith('byProject ')).map(([k, u]) => `${k.slice(10).replace(spread.m.projectId, '<project>')} ${u}`).join(', ');
    console.log(`\na project spread over ${SPREAD_LISTING_PARTITIONS} listing partitions: byProject units a key, create ${byKey(spread.create)}; delete ${byKey(spread.delete)}`);
    const perKind = { create: listingUnitsByKind(spread.create.keys), delete: listingUnitsByKind(spread.delete.keys) };
    for (const name of ['creates', 'churn', 'mixed']) {
      const load = spreadListingLoad(perKind, LOAD_MIXES[name]!, 10_000, SPREAD_LISTING_PARTITIONS)
        .map((l) => `${l.index} ${Math.round(l.unitsPerKey)} (x${l.headroom.toFixed(1)})`);
      console.log(`project 10,000/s ${name.padEnd(9)} spread over ${SPREAD_LISTING_PARTITIONS}: ${load.join(', ')}`);
    }
  } finally {
    await spread.m.stop();
  }
  const slices = await billSliceCharges();
  const show = (u: Record<string, number>) => Object.entries(u).map(([k, n]) => `${k} ${n}`).join(', ');
  console.log(`\na project over ${SPREAD_USAGE_SLICES} usage slices, its quota's write units by key: create on a slice with room ${show(slices.take)}; `
    + `create refilling its slice ${show(slices.refill)}; delete ${show(slices.giveBack)}`);
  for (const [name, creates, deletes] of [['creates', 10_000, 0], ['churn', 5_000, 5_000]] as const) {
    const load = sliceLoad(slices, creates, deletes, SPREAD_USAGE_SLICES, MAX_SPREAD, REFILL_SERVERS).map((l) => `${l.index} ${Math.round(l.unitsPerKey)} over ${l.keys} (x${l.headroom.toFixed(1)})`);
    console.log(`project 10,000/s ${name.padEnd(9)} ${load.join(', ')}`);
  }
}
