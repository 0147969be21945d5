import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  DeleteItemCommand, DynamoDBClient, PutItemCommand, ResourceInUseException, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { SeededRandom } from './faults/random.js';
import { CRASH_TABLE, GROUPS, ITEM_KEYS, LEASE_SHARDS, createCrashTable } from './crashTable.js';

// Run by test/integration/crashConsistency.test.ts, to be killed: a dynalite on a data directory
// (argv[2]), written by several writers in a tight loop (puts, updates that move or drop an
// item's index keys, deletes; seeded by argv[3]) until the process is killed. Prints "ready"
// once the table is there, then the number of completed writes after each one.

const [dataDir, seedArg] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: crashWriter.ts <dataDir> <seed>');
const random = new SeededRandom(Number(seedArg ?? 1));

const server = dynalite({ path: dataDir, createTableMs: 0 }) as Server;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const db = new DynamoDBClient({
  endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  region: 'us-east-1', credentials: { accessKeyId: 'crash', secretAccessKey: 'crash' },
});
try {
  await createCrashTable(db);
} catch (err) {
  if (!(err instanceof ResourceInUseException)) throw err;
}
process.stdout.write('ready\n');

let completed = 0;
const key = (r: SeededRandom) => ({ pk: { S: `ITEM#${r.int(ITEM_KEYS)}` }, sk: { S: 'A' } });
const write = (r: SeededRandom): Promise<unknown> => {
  const kind = r.weighted({ put: 4, move: 4, release: 2, delete: 2 });
  const gsk = { S: `${Date.now()}#${r.int(1e9)}` };
  const lsk = { N: String(r.int(1e9)) };
  switch (kind) {
    case 'put':
      return db.send(new PutItemCommand({
        TableName: CRASH_TABLE,
        Item: { ...key(r), gpk: { S: r.pick(GROUPS) }, gsk, lpk: { S: r.pick(LEASE_SHARDS) }, lsk, body: { S: 'x'.repeat(r.int(2000)) } },
      }));
    case 'move': // new keys in both indexes (an upsert: an item that was not there is created)
      return db.send(new UpdateItemCommand({
        TableName: CRASH_TABLE, Key: key(r),
        UpdateExpression: 'SET gpk = :g, gsk = :gsk, lpk = :l, lsk = :lsk',
        ExpressionAttributeValues: { ':g': { S: r.pick(GROUPS) }, ':gsk': gsk, ':l': { S: r.pick(LEASE_SHARDS) }, ':lsk': lsk },
      }));
    case 'release': // out of the lease index, as a released claim leaves it
      return db.send(new UpdateItemCommand({ TableName: CRASH_TABLE, Key: key(r), UpdateExpression: 'REMOVE lpk, lsk' }));
    default:
      return db.send(new DeleteItemCommand({ TableName: CRASH_TABLE, Key: key(r) }));
  }
};

await Promise.all(Array.from({ length: 16 }, async (_, i) => {
  const r = random.fork(`writer-${i}`);
  for (;;) {
    await write(r);
    process.stdout.write(`${++completed}\n`);
  }
}));
