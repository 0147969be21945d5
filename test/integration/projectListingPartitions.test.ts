import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { countRequests, RequestCounter } from '../../bench/requestCounter.js';
import { createServer, serverIdFor } from '../../functions/core/compute/admission.js';
import type { Caller } from '../../functions/core/compute/instance.js';
import { listServers } from '../../functions/core/compute/instanceStore.js';
import { sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import type { ProjectSpreads } from '../../functions/core/shared/projectSpread.js';
import { INDEX_BY_PROJECT, makeTable, shardOf, type Table } from '../../functions/core/shared/table.js';
import { CREDENTIALS, REGION } from '../../local/emulators.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { IMAGE, Nova } from '../support/nova.js';
import { makePort, neutron, seedPort } from '../support/networks.js';

// A project the operator spread over M = 4 listing partitions (TASKGATE_PROJECT_SPREAD): its
// servers' and ports' byProject entries go under `PROJECT<m>#<project>` and `PORTS<m>#<project>`,
// m the id's hash mod 4 (0 keeps `PROJECT#<project>`), and every reader merges the 4. Entries
// written before the project was spread, or under M = 2 before it was raised, stay where they
// were written and are still listed; an ordinary project's page is still its one Query. Fails if
// a create writes the old key, a reader reads fewer partitions than M (or recomputes an entry's
// partition from the current M), or a partition's key can be another project's own key.

const SPREAD = 'spread';
const spreadOver = (listingPartitions: number): ProjectSpreads => ({ [SPREAD]: { listingPartitions, usageSlices: 1 } });
const M = 4;
const owner: Caller = { userId: 'sam', projectId: SPREAD, roles: ['member', 'reader'], isAdmin: false };
const ordinary: Caller = { userId: 'alice', projectId: 'demo', roles: ['member', 'reader'], isAdmin: false };

let runtime: Runtime;
let nova: Nova;
/** The same table as the deployment saw it before the spread was set, and while it was M = 2. */
let before: Table;
let underTwo: Table;
const counter = new RequestCounter();
/** The runtime's setting, on a client whose every request is counted. */
let counted: Table;

/** A request id whose server id the hash puts on `partition` of `m` (and, when given, elsewhere than `not` of M). */
function requestOn(m: number, partition: number, not?: number): string {
  for (;;) {
    const requestId = `req-${crypto.randomUUID()}`.slice(0, 40);
    const id = serverIdFor(requestId);
    if (shardOf(id, m) === partition && (not === undefined || shardOf(id, M) !== not)) return requestId;
  }
}

/** A server made by the create path of a deployment whose setting was `table`'s. */
async function createdUnder(table: Table, requestId: string, name: string): Promise<string> {
  const made = await createServer(
    { table, queue: sqsOperationQueue(runtime.emulators.sqs, runtime.emulators.queueUrl), claimLeaseMs: 15 * 60_000 },
    { caller: owner, requestId, name, flavorRef: '1', imageRef: IMAGE },
  );
  return made.id;
}

/** Every partition key of the byProject index holding `id`'s entry (read straight from the index). */
async function entryKeys(prefix: 'PROJECT' | 'PORTS', project: string, id: string): Promise<string[]> {
  const candidates = [`${prefix}#${project}`, ...Array.from({ length: M - 1 }, (_, i) => `${prefix}${i + 1}#${project}`)];
  const found: string[] = [];
  for (const pk of candidates) {
    const out = await runtime.table.db.send(new QueryCommand({
      TableName: runtime.table.name, IndexName: INDEX_BY_PROJECT, KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
    }));
    if ((out.Items ?? []).some((e) => e.pk === `INSTANCE#${id}` || e.pk === `PORT#${id}`)) found.push(pk);
  }
  return found;
}

/** Every page of `GET /servers?<query>` at `limit`, following the markers: each page's ids. */
async function pages(client: Nova, query: string, limit: number): Promise<string[][]> {
  const all: string[][] = [];
  let marker: string | undefined;
  for (;;) {
    const res = await client.get(`/servers?limit=${limit}${query}${marker ? `&marker=${marker}` : ''}`);
    expect(res.status).toBe(200);
    const ids = (res.body.servers as { id: string }[]).map((s) => s.id);
    all.push(ids);
    if (!res.body.servers_links) return all;
    marker = ids.at(-1);
  }
}

/** `ids` newest first, as the index orders them (created, then id). */
async function newestFirst(ids: string[]): Promise<string[]> {
  const keyed = await Promise.all(ids.map(async (id) => { const s = (await readInstance(runtime.table, id))!; return { id, key: `${s.created}#${s.id}` }; }));
  return keyed.sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0)).map((k) => k.id);
}

const names = new Map<string, string>();
let servers: string[];
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT, driver: { stepMs: 0 }, projectSpreads: spreadOver(M) });
  nova = new Nova(runtime.apiUrl, `${owner.userId}:${SPREAD}`);
  before = makeTable(runtime.table.name, runtime.emulators.dynamodb);
  underTwo = makeTable(runtime.table.name, runtime.emulators.dynamodb, spreadOver(2));
  const client = countRequests(new DynamoDBClient({ endpoint: runtime.emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS }), counter, 'list');
  counted = makeTable(runtime.table.name, client, spreadOver(M));
  const admin = new Nova(runtime.apiUrl, 'admin:admin');
  expect((await admin.request('PUT', `/os-quota-sets/${SPREAD}`, { quota_set: { instances: -1, cores: -1, ram: -1 } })).status).toBe(200);

  // Before the spread: on `PROJECT#spread`, where M = 4 would now put it elsewhere. Under M = 2:
  // on partition 1, where M = 4 puts it on 3.
  servers = [await createdUnder(before, requestOn(1, 0, 0), 'web-before'), await createdUnder(underTwo, requestOn(2, 1, 1), 'db-under-two')];
  names.set(servers[0]!, 'web-before').set(servers[1]!, 'db-under-two');
  for (let i = 0; i < 21; i++) {
    const name = `${i % 2 === 0 ? 'web' : 'db'}-${i}`;
    servers.push(await nova.createServer(name));
    names.set(servers.at(-1)!, name);
  }
  for (const id of servers) await nova.waitIdle(id);
}, 120_000);
afterAll(() => runtime.stop());

it('servers made before the spread, under M = 2, and under M = 4 stay where they were written, over several partitions', async () => {
  expect(await entryKeys('PROJECT', SPREAD, servers[0]!)).toEqual([`PROJECT#${SPREAD}`]);
  expect(await entryKeys('PROJECT', SPREAD, servers[1]!)).toEqual([`PROJECT1#${SPREAD}`]);
  const made = await Promise.all(servers.slice(2).map(async (id) => {
    const m = shardOf(id, M);
    return (await entryKeys('PROJECT', SPREAD, id)).join() === (m === 0 ? `PROJECT#${SPREAD}` : `PROJECT${m}#${SPREAD}`);
  }));
  expect(made.every(Boolean)).toBe(true);
  expect(new Set(servers.slice(2).map((id) => shardOf(id, M))).size).toBeGreaterThanOrEqual(3);
});

it('23 servers over 4 partitions: every one listed once, newest first, 5 a page across markers', async () => {
  const listed = await pages(nova, '', 5);
  expect(listed.map((p) => p.length)).toEqual([5, 5, 5, 5, 3]);
  expect(listed.flat()).toEqual(await newestFirst(servers));
});

it('with a filter, the pages hold the matching servers of every partition, newest first', async () => {
  const web = servers.filter((id) => names.get(id)!.startsWith('web'));
  expect(web.length).toBe(12);
  const listed = await pages(nova, '&name=web', 5);
  expect(listed.map((p) => p.length)).toEqual([5, 5, 2]);
  expect(listed.flat()).toEqual(await newestFirst(web));
  // changes-since: every server changed since before the first was made.
  expect((await pages(nova, '&changes-since=2000-01-01T00:00:00Z', 7)).flat()).toEqual(await newestFirst(servers));
});

it('an administrator\'s page of the project (all_tenants, tenant_id) is the same', async () => {
  const admin = new Nova(runtime.apiUrl, 'admin:admin');
  expect((await pages(admin, `&all_tenants=1&tenant_id=${SPREAD}`, 5)).flat()).toEqual(await newestFirst(servers));
});

it('a project whose id is another\'s partition key (spread#1) sees none of the spread project\'s servers, nor they its', async () => {
  const neighbour = nova.as('nel:spread#1');
  const theirs = await neighbour.createServer('neighbour');
  await neighbour.waitIdle(theirs);
  expect((await pages(neighbour, '', 50)).flat()).toEqual([theirs]);
  expect((await pages(nova, '', 50)).flat()).toEqual(await newestFirst(servers));
  // Its one port is its server's; none of the spread project's.
  const ports = (await neutron(neighbour).get('/ports')).body.ports as { project_id: string; device_id: string }[];
  expect(ports.map((p) => [p.project_id, p.device_id])).toEqual([['spread#1', theirs]]);
  expect(((await neutron(nova).get('/ports')).body.ports as { project_id: string }[]).every((p) => p.project_id === SPREAD)).toBe(true);
});

it('a page of the spread project is one Query a partition and its BatchGetItems; an ordinary project\'s is one Query', async () => {
  const demo = new Nova(runtime.apiUrl, 'alice:demo');
  for (let i = 0; i < 7; i++) await demo.createServer(`d-${i}`);
  counter.recording = true;
  counter.log.length = 0;
  const page = await listServers(counted, ordinary, { limit: 5 });
  expect(page.servers).toHaveLength(5);
  // The index Query, the servers' BatchGetItem, their ports' details' (each server has its port).
  expect(counter.log.map((r) => r.operation)).toEqual(['Query', 'BatchGetItem', 'BatchGetItem']);
  counter.log.length = 0;
  const spreadPage = await listServers(counted, owner, { limit: 5 });
  expect(spreadPage.servers.map((s) => s.id)).toEqual((await newestFirst(servers)).slice(0, 5));
  expect(counter.log.map((r) => r.operation)).toEqual([...Array<string>(M).fill('Query'), 'BatchGetItem', 'BatchGetItem']);
  counter.recording = false;
});

describe('ports', () => {
  let ports: string[];
  beforeAll(async () => {
    const onPartition = (m: number, partition: number, not: number) => {
      for (;;) {
        const id = crypto.randomUUID();
        if (shardOf(id, m) === partition && shardOf(id, M) !== not) return id;
      }
    };
    ports = [await seedPort(before, SPREAD, onPartition(1, 0, 0)), await seedPort(underTwo, SPREAD, onPartition(2, 1, 1))];
    for (let i = 0; i < 8; i++) ports.push(await makePort(nova));
  });

  it('each port\'s entry is where it was written, and the project\'s list holds every one once, its servers\' too', async () => {
    expect(await entryKeys('PORTS', SPREAD, ports[0]!)).toEqual([`PORTS#${SPREAD}`]);
    expect(await entryKeys('PORTS', SPREAD, ports[1]!)).toEqual([`PORTS1#${SPREAD}`]);
    for (const id of ports.slice(2)) {
      const m = shardOf(id, M);
      expect(await entryKeys('PORTS', SPREAD, id)).toEqual([m === 0 ? `PORTS#${SPREAD}` : `PORTS${m}#${SPREAD}`]);
    }
    // And the port each of its servers was made with.
    const serverPorts = (await Promise.all(servers.map(async (id) => Object.keys((await readInstance(runtime.table, id))!.ports ?? {})))).flat();
    expect(serverPorts).toHaveLength(servers.length - 2);
    const listed = ((await neutron(nova).get('/ports')).body.ports as { id: string }[]).map((p) => p.id);
    expect(listed.sort()).toEqual([...ports, ...serverPorts].sort());
  });

  it('a security group a port on any partition uses cannot be deleted (409 SecurityGroupInUse)', async () => {
    const group = (await neutron(nova).post('/security-groups', { security_group: { name: 'spread-web' } })).body.security_group.id as string;
    // Its one user a port on a partition other than 0 (one the hash put on 0 is deleted again).
    for (;;) {
      const port = await makePort(nova, { security_groups: [group] });
      if (shardOf(port, M) !== 0) break;
      expect((await neutron(nova).delete(`/ports/${port}`)).status).toBe(204);
    }
    const res = await neutron(nova).delete(`/security-groups/${group}`);
    expect(res.status).toBe(409);
    expect(res.body.NeutronError.type).toBe('SecurityGroupInUse');
  });
});

it('a deleted server leaves the list (its entry on its partition removed)', async () => {
  const gone = servers.find((id) => shardOf(id, M) !== 0 && id !== servers[0])!;
  expect((await nova.delete(`/servers/${gone}`)).status).toBe(204);
  await nova.waitGone(gone);
  expect(await entryKeys('PROJECT', SPREAD, gone)).toEqual([]);
  const rest = servers.filter((id) => id !== gone);
  expect((await pages(nova, '', 5)).flat()).toEqual(await newestFirst(rest));
});
