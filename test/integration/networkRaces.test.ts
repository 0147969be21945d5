import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createNetwork, deleteNetwork } from '../../functions/core/networks/networks.js';
import { createPort } from '../../functions/core/networks/ports.js';
import { makeTable } from '../../functions/core/shared/table.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { CREDENTIALS, REGION } from '../../local/emulators.js';
import { Nova } from '../support/nova.js';

// Fixed IPs under concurrency, over HTTP through the whole runtime. An address is one port's by
// ONE conditional put of its own item: 100 ports made at once on a /28 (13 addresses: the
// network, the gateway and the broadcast address are no port's) get 13 distinct addresses and
// 87 refusals, round after round. A server's deletion racing its port's deletion: the port is
// deleted once, its address given back once, and the server is gone.

const PORT_ROUNDS = 5;
const RACERS = 100;
const DELETE_ROUNDS = 10;

let runtime: Runtime;
let root: string;
/** Successful deletes per item key, seen on the runtime's own client: what "deleted once" counts. */
const deletes = new Map<string, number>();
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, driver: { stepMs: 0 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
  root = runtime.apiUrl.replace(/\/v2\.1$/, '');
  runtime.table.db.middlewareStack.add((next, context) => async (args) => {
    const out = await next(args);
    if (context.commandName === 'DeleteCommand' || context.commandName === 'DeleteItemCommand') {
      // The document client's key, or the marshalled one the base client sends.
      const key = (args.input as { Key: Record<string, string | { S: string }> }).Key;
      const text = (v: string | { S: string } | undefined) => (typeof v === 'object' ? v.S : v);
      const name = `${text(key.pk)}/${text(key.sk)}`;
      deletes.set(name, (deletes.get(name) ?? 0) + 1);
    }
    return out;
  }, { step: 'initialize', name: 'countDeletes' });
});
afterAll(() => runtime.stop());

async function items(): Promise<Record<string, any>[]> {
  const all: Record<string, any>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await runtime.table.db.send(new ScanCommand({ TableName: runtime.table.name, ConsistentRead: true, ExclusiveStartKey: start }));
    all.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return all;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error('not within the time allowed');
    await new Promise((r) => setTimeout(r, 20));
  }
}

it(`${RACERS} ports made at once on a /28, ${PORT_ROUNDS} rounds: 13 addresses, each once; the rest 409 IpAddressGenerationFailure`, async () => {
  const tally = { rounds: 0, made: 0, exhausted: 0, other: [] as string[], duplicates: 0, strayAddresses: 0, leftAfterDelete: 0 };
  for (let round = 0; round < PORT_ROUNDS; round++) {
    const net = new Nova(`${root}/network/v2.0`, `u:race-${round}-${crypto.randomUUID().slice(0, 6)}`);
    const network = (await net.post('/networks', { network: { name: `race-${round}` } })).body.network;
    const subnet = (await net.post('/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: `192.168.${100 + round}.0/28` } })).body.subnet;
    expect(subnet.allocation_pools).toEqual([{ start: `192.168.${100 + round}.2`, end: `192.168.${100 + round}.14` }]);

    const answers = await Promise.all(Array.from({ length: RACERS }, () => net.post('/ports', { port: { network_id: network.id } })));
    const made = answers.filter((a) => a.status === 201).map((a) => a.body.port);
    const exhausted = answers.filter((a) => a.status === 409 && a.body.NeutronError?.type === 'IpAddressGenerationFailure'
      && a.body.NeutronError.message === `No more IP addresses available on network ${network.id}.`);
    tally.rounds++;
    tally.made += made.length;
    tally.exhausted += exhausted.length;
    // Any other answer, as it was (a failure shows what it was, not only how many).
    tally.other.push(...answers.filter((a) => a.status !== 201 && !exhausted.includes(a)).map((a) => `${a.status} ${JSON.stringify(a.body)}`));
    const addresses = made.map((p: { fixed_ips: { ip_address: string }[] }) => p.fixed_ips[0]!.ip_address);
    tally.duplicates += addresses.length - new Set(addresses).size;
    expect(made.length).toBeLessThanOrEqual(13);

    // The table agrees: one address item per port made, each naming its port; nothing else.
    const held = (await items()).filter((i) => i.pk === `SUBNET#${subnet.id}`);
    const byPort = new Map(made.map((p: { id: string; fixed_ips: { ip_address: string }[] }) => [p.id, p.fixed_ips[0]!.ip_address]));
    tally.strayAddresses += held.filter((i) => byPort.get(i.portId) !== i.ipAddress).length + Math.abs(held.length - made.length);

    await Promise.all(made.map((p: { id: string }) => net.delete(`/ports/${p.id}`)));
    tally.leftAfterDelete += (await items()).filter((i) => i.pk === `SUBNET#${subnet.id}`).length;
  }
  const rounds = PORT_ROUNDS;
  expect(tally).toEqual({
    rounds, made: 13 * rounds, exhausted: (RACERS - 13) * rounds, other: [], duplicates: 0, strayAddresses: 0, leftAfterDelete: 0,
  });
});

it(`a server's deletion racing its port's, ${DELETE_ROUNDS} rounds (ports Nova made and ports of the user's): the port deleted once, no address left, the server gone`, async () => {
  const tally = { rounds: 0, serverDeletes204: 0, portDeletes204or404: 0, serverGone: 0, portGone: 0, deletedOnce: 0, addressFreedOnce: 0, leftovers: 0 };
  const image = '70a599e0-31e7-49b7-b260-868f441e862b';
  for (let round = 0; round < DELETE_ROUNDS; round++) {
    const token = `u:delrace-${round}-${crypto.randomUUID().slice(0, 6)}`;
    const nova = new Nova(runtime.apiUrl, token).atVersion('2.37');
    const net = new Nova(`${root}/network/v2.0`, token);
    const usersPort = round % 2 === 1;
    const networks = usersPort
      ? [{ port: (await net.post('/ports', { port: { network_id: '3b0e7c4a-0c4e-4b3e-9a57-6a1d3c1f0b2a' } })).body.port.id }]
      : 'auto';
    const id = (await nova.post('/servers', { server: { name: `race-${round}`, flavorRef: '1', imageRef: image, networks } })).body.server.id;
    await nova.waitIdle(id);
    const [port] = (await net.get(`/ports?device_id=${id}`)).body.ports;
    const ip = port.fixed_ips[0].ip_address;
    const subnet = port.fixed_ips[0].subnet_id;
    // An address freed in an earlier round may be this round's again: its deletes are counted from here.
    const addressKey = `SUBNET#${subnet}/IP#${ip}`;
    const freedBefore = deletes.get(addressKey) ?? 0;

    // Either may go first: the order alternates, the two a moment apart at most.
    const [serverDelete, portDelete] = round % 4 < 2
      ? await Promise.all([nova.delete(`/servers/${id}`), net.delete(`/ports/${port.id}`)])
      : await Promise.all([net.delete(`/ports/${port.id}`), nova.delete(`/servers/${id}`)]).then(([p, s]) => [s, p]);
    tally.rounds++;
    if (serverDelete!.status === 204) tally.serverDeletes204++;
    // A port Nova made may already be gone with its server when Neutron's delete reads it: 404.
    if (portDelete!.status === 204 || (!usersPort && portDelete!.status === 404)) tally.portDeletes204or404++;

    await nova.waitGone(id);
    tally.serverGone++;
    // Gone from the table, and the deletes that did it answered (a delete lands before its answer comes back).
    await eventually(async () => (await net.get(`/ports/${port.id}`)).status === 404
      && !(await items()).some((i) => i.pk === `PORT#${port.id}` || i.sk === `PORT#${port.id}` || (i.pk === `SUBNET#${subnet}` && i.sk === `IP#${ip}`))
      && deletes.has(`PORT#${port.id}/META`) && (deletes.get(addressKey) ?? 0) > freedBefore);
    tally.portGone++;
    if (deletes.get(`PORT#${port.id}/META`) === 1) tally.deletedOnce++;
    if ((deletes.get(addressKey) ?? 0) - freedBefore === 1) tally.addressFreedOnce++;
    // Nothing left of either: no claim, no lease, no port of the server's.
    const left = (await items()).filter((i) => (i.pk === `INSTANCE#${id}` && i.sk === 'META' && (i.taskState || i.leaseShard || Object.keys(i.ports ?? {}).length > 0))
      || (String(i.pk).startsWith('PORT#') && i.instanceId === id));
    tally.leftovers += left.length;
  }
  const rounds = DELETE_ROUNDS;
  expect(tally).toEqual({
    rounds, serverDeletes204: rounds, portDeletes204or404: rounds, serverGone: rounds, portGone: rounds, deletedOnce: rounds,
    addressFreedOnce: rounds, leftovers: 0,
  });
});

it('a network\'s deletion racing port creations on it, 20 rounds: either the network goes and no port was made on it, or it stays with its ports (409 NetworkInUse)', async () => {
  const tally = { rounds: 0, consistent: 0, deleted: 0, kept: 0 };
  for (let round = 0; round < 20; round++) {
    const net = new Nova(`${root}/network/v2.0`, `u:netrace-${round}-${crypto.randomUUID().slice(0, 6)}`);
    const network = (await net.post('/networks', { network: { name: `n${round}` } })).body.network;
    // Every other round without a subnet: ports without addresses, so only the network's own check stands between them and its deletion.
    if (round % 2 === 0) await net.post('/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '192.168.200.0/24' } });
    const creates = Array.from({ length: 5 }, () => net.post('/ports', { port: { network_id: network.id } }));
    const [deleted, ...made] = await Promise.all([net.delete(`/networks/${network.id}`), ...creates]);
    tally.rounds++;
    const ports = made.filter((m) => m.status === 201);
    const refused = made.filter((m) => m.status === 404 && m.body.NeutronError?.type === 'NetworkNotFound');
    const stillThere = (await net.get(`/networks/${network.id}`)).status === 200;
    const listed = (await items()).filter((i) => String(i.pk).startsWith('PORT#') && i.networkId === network.id).length;
    if (deleted!.status === 204 && !stillThere && ports.length === 0 && listed === 0 && refused.length === 5) tally.deleted++;
    if (deleted!.status === 409 && stillThere && ports.length > 0 && listed === ports.length && ports.length + refused.length === 5) tally.kept++;
    if (ports.length + refused.length === 5) tally.consistent++;
  }
  expect(tally.rounds).toBe(20);
  expect(tally.deleted + tally.kept).toBe(20);
  expect(tally.consistent).toBe(20);
});

it('two overlapping subnets added to one network at once, 10 rounds: exactly one joins it', async () => {
  let exactlyOne = 0;
  for (let round = 0; round < 10; round++) {
    const net = new Nova(`${root}/network/v2.0`, `u:subrace-${round}-${crypto.randomUUID().slice(0, 6)}`);
    const network = (await net.post('/networks', { network: { name: `s${round}` } })).body.network;
    const answers = await Promise.all(['192.168.210.0/24', '192.168.210.128/25'].map((cidr) =>
      net.post('/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr } })));
    const joined = (await net.get(`/networks/${network.id}`)).body.network.subnets;
    if (answers.filter((a) => a.status === 201).length === 1 && answers.filter((a) => a.status === 400).length === 1 && joined.length === 1) exactlyOne++;
  }
  expect(exactlyOne).toBe(10);
});

describe('a network\'s deletion and a port\'s creation, interleaved at their one dangerous point', () => {
  /** A client of the same table whose first write of `command` waits for `gate` (the process "paused" there). */
  function pausedAt(command: string, gate: Promise<void>) {
    const client = new DynamoDBClient({
      // The emulators' own credentials: DynamoDB Local keeps a database per access key and region.
      endpoint: runtime.emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS,
    });
    const table = makeTable(runtime.table.name, client);
    let paused = false;
    const reached = new Promise<void>((resolve) => {
      table.db.middlewareStack.add((next, context) => async (args) => {
        if (!paused && context.commandName?.startsWith(command)) {
          paused = true;
          resolve();
          await gate;
        }
        return next(args);
      }, { step: 'initialize', name: 'pause' });
    });
    return { table, reached };
  }

  it('a port whose membership lands after the deletion looked for members gives up (NetworkNotFound): no port on a deleted network', async () => {
    const owner = { projectId: `p-${crypto.randomUUID().slice(0, 6)}`, isAdmin: false };
    const network = await createNetwork(runtime.table, `interleave-${crypto.randomUUID()}`, {
      name: 'interleaved', description: '', projectId: owner.projectId, adminStateUp: true, shared: false, external: false, mtu: 1450,
      portSecurityEnabled: true,
    }, Date.now());
    // The deletion marks the network and finds no member, then pauses before it deletes anything.
    let release!: () => void;
    const paused = pausedAt('Delete', new Promise((resolve) => { release = resolve; }));
    const deletion = deleteNetwork(paused.table, owner, network.id);
    // A deletion that fails before its pause fails the test, rather than leaving it waiting.
    await Promise.race([paused.reached, deletion.then(() => { throw new Error('the deletion ended before it paused'); })]);
    const id = crypto.randomUUID();
    const now = Date.now();
    const creation = await createPort(runtime.table, {
      id, projectId: owner.projectId, network, subnets: [], name: '', description: '', adminStateUp: true, securityGroups: [],
      portSecurityEnabled: true, requestId: `interleave-${id}`, now, creatingUntil: now + 60_000,
    }).then(() => 'made', (err: Error) => err.message);
    release();
    await deletion;
    expect(creation).toBe(`Network ${network.id} could not be found.`);
    const left = (await items()).filter((i) => i.pk === `PORT#${id}` || i.pk === `NETWORK#${network.id}` || i.sk === `NETWORK#${network.id}`);
    expect(left).toEqual([]);
  });
});
