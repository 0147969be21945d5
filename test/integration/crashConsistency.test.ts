import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { DynamoDBClient, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { listServers } from '../../functions/core/compute/instanceStore.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { INDEX_ALL_SERVERS, INDEX_BY_LEASE, leaseShardOf, makeTable } from '../../functions/core/shared/table.js';
import { DURABLE_TABLE_NAME, startEmulators } from '../../local/emulators.js';
import { SeededRandom } from '../support/faults/random.js';
import { admin, alice, seedInstance } from '../support/emulators.js';
import { checkIndexes, type Violations } from '../support/crashTable.js';

// DynamoDB never shows an index entry without its item's write having happened. dynalite on a
// data directory (npm start's embedded default) used to write an item's index entries and the
// item itself as separate LevelDB writes, so a process killed between them left entries with no
// item: servers a listing showed and GET called 404, forever. Patched (patches/dynalite+4.0.0.patch),
// an item and its index entries change in one LevelDB batch. Here: a process writing items with
// index keys in a tight loop is SIGKILLed, round after round, at a seeded point; reopened, every
// index entry has its item, with the same index keys.

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const SEED = Number(process.env.TASKGATE_CRASH_SEED ?? 1);
const ROUNDS = Number(process.env.TASKGATE_CRASH_ROUNDS ?? 20);

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'taskgate-crash-consistency-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

/** Starts the writer on `dataDir` and SIGKILLs it once it has completed `writes` writes. */
async function writeAndKill(dataDir: string, seed: number, writes: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/crashWriter.ts', dataDir, String(seed)], {
    cwd: projectRoot, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let completed = 0;
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  child.stdout.on('data', (c: Buffer) => {
    const lines = c.toString().split('\n');
    for (const line of lines) if (/^\d+$/.test(line)) completed = Math.max(completed, Number(line));
    if (completed >= writes) child.kill('SIGKILL');
  });
  const how = await new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  if (how !== 'SIGKILL') throw new Error(`writer exited (${how}) before it was killed:\n${out}`);
}

/** Opens the data directory again, as a restart does, and checks every index against the items. */
async function reopenAndCheck(dataDir: string): Promise<Violations> {
  const server = dynalite({ path: dataDir, createTableMs: 0 }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const db = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1', credentials: { accessKeyId: 'crash', secretAccessKey: 'crash' },
  });
  try {
    return await checkIndexes(db);
  } finally {
    db.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

it(`an item and its index entries survive a SIGKILL together (${ROUNDS} seeded rounds from seed ${SEED})`, async () => {
  const random = new SeededRandom(SEED);
  const torn: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const dataDir = join(root, `round-${round}`);
    const seed = random.int(2 ** 31);
    const writes = random.between(1, 150);
    await writeAndKill(dataDir, seed, writes);
    const { ghosts, mismatches } = await reopenAndCheck(dataDir);
    if (ghosts.length + mismatches.length > 0) {
      torn.push(`round ${round} (seed ${seed}, killed after ${writes} writes): ${ghosts.length} entries without their item`
        + `, ${mismatches.length} other mismatches; first: ${[...ghosts, ...mismatches][0]}`);
    }
    await rm(dataDir, { recursive: true, force: true });
  }
  expect(torn).toEqual([]);
});

// dynalite's own store, to tear a data directory as the unpatched dynalite left it.
interface Store {
  db: {
    open(): Promise<void>; close(): Promise<void>; del(key: string): Promise<void>;
    iterator(range: { gte: string; lt: string }): AsyncIterable<[string, Record<string, { S?: string }>]>;
  };
  getItemDb(table: string): { prefix: string };
}
const dynaliteDb = createRequire(import.meta.url)('dynalite/db/index.js') as { create(o: { path: string }): Store };

/** The servers the all-servers index has an entry for, read from the index itself. */
async function indexedServers(client: DynamoDBClient, tableName: string): Promise<string[]> {
  const out = await client.send(new ScanCommand({ TableName: tableName, IndexName: INDEX_ALL_SERVERS }));
  return (out.Items ?? []).map((i) => i.pk!.S!.replace(/^INSTANCE#/, '')).sort();
}

it('a data directory torn before the patch is put right when npm start opens it again', async () => {
  const dataDir = join(root, 'torn');
  const options = { dataDir, visibilityTimeoutSeconds: 30, maxReceiveCount: 5 };
  let emulators = await startEmulators(options);
  const kept = await seedInstance(makeTable(emulators.tableName, emulators.dynamodb), { name: 'kept' });
  const torn = await seedInstance(makeTable(emulators.tableName, emulators.dynamodb), {
    name: 'torn', vmState: 'building', taskState: 'scheduling', leaseUntil: Date.now() + 60_000,
  });
  await emulators.stop();

  // As a SIGKILL mid-create left it: the server's index entries written, the server not.
  const store = dynaliteDb.create({ path: `${dataDir}/dynamodb` });
  await store.db.open();
  const prefix = store.getItemDb(DURABLE_TABLE_NAME).prefix;
  for await (const [key, item] of store.db.iterator({ gte: prefix, lt: `${prefix}\xff` })) {
    if (item.id?.S === torn.id) await store.db.del(key);
  }
  await store.db.close();

  // Unrepaired, the all-servers index holds an entry for a server GET cannot find (the ghost;
  // listings read the items behind their index entries, so they skip it, but it is still there).
  const bare = dynalite({ path: `${dataDir}/dynamodb` }) as Server;
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(bare.address() as AddressInfo).port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  const ghostly = makeTable(DURABLE_TABLE_NAME, client);
  expect(await indexedServers(client, DURABLE_TABLE_NAME)).toEqual([kept.id, torn.id].sort());
  expect((await listServers(ghostly, admin, { limit: 100, allProjects: true })).servers.map((s) => s.id)).toEqual([kept.id]);
  expect(await readInstance(ghostly, torn.id)).toBeUndefined();
  client.destroy();
  await new Promise<void>((resolve) => bare.close(() => resolve()));

  emulators = await startEmulators(options);
  try {
    const table = makeTable(emulators.tableName, emulators.dynamodb);
    expect(await indexedServers(emulators.dynamodb, emulators.tableName)).toEqual([kept.id]);
    expect((await listServers(table, admin, { limit: 100, allProjects: true })).servers.map((s) => s.id)).toEqual([kept.id]);
    expect((await listServers(table, alice, { limit: 100 })).servers.map((s) => s.id)).toEqual([kept.id]);
    const leases = await emulators.dynamodb.send(new QueryCommand({
      TableName: emulators.tableName, IndexName: INDEX_BY_LEASE, KeyConditionExpression: 'leaseShard = :s',
      ExpressionAttributeValues: { ':s': { S: leaseShardOf(torn.id) } },
    }));
    expect(leases.Items).toEqual([]);
  } finally {
    await emulators.stop();
  }
});
