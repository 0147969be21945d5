import { Ports, readAttachable, Volumes, type AttachableKind } from '../../functions/core/shared/attachables.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova } from '../support/nova.js';
import { seedVolume } from '../support/volumes.js';
import { makePort } from '../support/networks.js';

// A volume is attached to at most one instance, a port bound to at most one: each has its own
// item, reserved by a conditional write. Pairs of servers race for the same id over HTTP through
// the whole runtime (API, queue, worker); exactly one may win, and the loser keeps no claim.

const PAIRS = 10;
const ROUNDS_PER_PAIR = 10;

let runtime: Runtime;
let nova: Nova;
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, driver: { stepMs: 0 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
  nova = new Nova(runtime.apiUrl);
  // Hundreds of servers are made here, none deleted: the instances quota is not what this file tests.
  const unlimited = await nova.as('admin:admin').request('PUT', '/os-quota-sets/demo', { quota_set: { instances: -1, cores: -1, ram: -1 } });
  if (unlimited.status !== 200) throw new Error(`quota update: ${unlimited.status}`);
});
afterAll(() => runtime.stop());

/**
 * The resource once its status is `settled`, or as it is after `timeoutMs`: its status is written
 * by the write after the release that ends its attach or detach, so an idle server may show it a
 * moment before.
 */
async function onceSettled(kind: AttachableKind, id: string, settled: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const item = (await readAttachable(runtime.table, kind, id)) ?? { status: 'available' };
    if (item.status === settled || Date.now() > deadline) return item;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The resource's status once it is available, or as it is after `timeoutMs`. */
const statusOnceSettled = async (kind: AttachableKind, id: string) => (await onceSettled(kind, id, 'available')).status;

interface Resource {
  readonly kind: AttachableKind;
  readonly attach: (server: string, id: string) => Promise<{ status: number; body: any }>;
  readonly detach: (server: string, id: string) => Promise<{ status: number }>;
  readonly list: (server: string) => Promise<string[]>;
  /** A new one, free, in the servers' project (a volume is Cinder's: made first). */
  readonly make: () => Promise<string>;
  /** The refusal of one another server holds (or reserves), in its service's words. */
  readonly heldElsewhere: (id: string, statuses: string) => RegExp;
  /** The refusal's status and Nova's fault kind: Cinder's 400, Nova's 409 PortInUse for a port. */
  readonly refused: { readonly status: number; readonly kind: string };
  /** The refusal of one this very server holds already. */
  readonly alreadyHere: (id: string) => string;
}

const RESOURCES: Record<'volume' | 'port', Resource> = {
  volume: {
    kind: Volumes,
    attach: (s, id) => nova.post(`/servers/${s}/os-volume_attachments`, { volumeAttachment: { volumeId: id } }),
    detach: (s, id) => nova.delete(`/servers/${s}/os-volume_attachments/${id}`),
    list: async (s) => (await nova.get(`/servers/${s}/os-volume_attachments`)).body.volumeAttachments.map((a: any) => a.volumeId),
    make: () => seedVolume(runtime.table),
    heldElsewhere: (id, statuses) => new RegExp(`^Invalid volume: Volume ${id} status must be available or downloading to reserve, but the current status is (${statuses})\\.$`),
    refused: { status: 400, kind: 'badRequest' },
    alreadyHere: (id) => `Invalid volume: volume ${id} is already attached to this server`,
  },
  port: {
    kind: Ports,
    attach: (s, id) => nova.post(`/servers/${s}/os-interface`, { interfaceAttachment: { port_id: id } }),
    detach: (s, id) => nova.delete(`/servers/${s}/os-interface/${id}`),
    list: async (s) => (await nova.get(`/servers/${s}/os-interface`)).body.interfaceAttachments.map((a: any) => a.port_id),
    // A port is Neutron's: made first, on the project's network.
    make: () => makePort(nova),
    heldElsewhere: (id) => new RegExp(`^Port ${id} is still in use\\.$`),
    refused: { status: 409, kind: 'conflictingRequest' },
    alreadyHere: (id) => `Port ${id} is still in use.`,
  },
};

/** Two servers without interfaces of their own (networks `none`), so each lists only what it won. */
async function newPair(): Promise<[string, string]> {
  const bare = nova.atVersion('2.37');
  const pair: [string, string] = [await bare.createServer('left'), await bare.createServer('right')];
  await Promise.all(pair.map((id) => nova.waitIdle(id)));
  return pair;
}

describe.each(Object.keys(RESOURCES) as ('volume' | 'port')[])('two servers racing for one %s', (noun) => {
  const resource = RESOURCES[noun];

  it(`never both: ${PAIRS * ROUNDS_PER_PAIR} rounds, exactly one winner, the loser refused with no claim kept`, async () => {
    const tally = { rounds: 0, won: 0, lostWith400: 0, loserIdle: 0, heldByWinnerOnly: 0 };
    await Promise.all(Array.from({ length: PAIRS }, async () => {
      const pair = await newPair();
      for (let round = 0; round < ROUNDS_PER_PAIR; round++) {
        const id = await resource.make();
        const order = round % 2 ? [...pair].reverse() : pair;
        const answers = await Promise.all(order.map((server) => resource.attach(server, id)));
        tally.rounds++;
        const winners = order.filter((_, i) => answers[i]!.status === 200);
        const losers = order.filter((_, i) => answers[i]!.status !== 200);
        tally.won += winners.length;
        for (const [i, server] of order.entries()) {
          if (answers[i]!.status !== resource.refused.status) continue;
          // Usually still reserved; attaching or in-use if the winner's worker was under way or done.
          expect(answers[i]!.body[resource.refused.kind].message).toMatch(resource.heldElsewhere(id, 'reserved|attaching|in-use'));
          tally.lostWith400++;
          const loser = (await nova.get(`/servers/${server}`)).body.server;
          if (loser['OS-EXT-STS:task_state'] === null) tally.loserIdle++;
        }
        await Promise.all(pair.map((server) => nova.waitIdle(server)));
        const holders = [];
        for (const server of pair) if ((await resource.list(server)).includes(id)) holders.push(server);
        if (holders.length === 1 && holders[0] === winners[0] && losers.length === 1) tally.heldByWinnerOnly++;
        expect(await onceSettled(resource.kind, id, 'in-use')).toMatchObject({ status: 'in-use', instanceId: winners[0] });
      }
    }));
    const rounds = PAIRS * ROUNDS_PER_PAIR;
    expect(tally).toEqual({ rounds, won: rounds, lostWith400: rounds, loserIdle: rounds, heldByWinnerOnly: rounds });
  });

  it(`is free again once detached, and refuses the same ${noun} twice on one server (nothing changed)`, async () => {
    const [left, right] = await newPair();
    const id = await resource.make();
    expect((await resource.attach(left, id)).status).toBe(200);
    await nova.waitIdle(left);

    const again = await resource.attach(left, id);
    expect(again.status).toBe(resource.refused.status);
    expect(again.body[resource.refused.kind].message).toBe(resource.alreadyHere(id));
    const elsewhere = await resource.attach(right, id);
    expect(elsewhere.status).toBe(resource.refused.status);
    expect(elsewhere.body[resource.refused.kind].message).toMatch(resource.heldElsewhere(id, 'in-use'));
    expect((await nova.get(`/servers/${right}`)).body.server['OS-EXT-STS:task_state']).toBeNull();
    expect(await resource.list(left)).toEqual([id]);
    expect(await resource.list(right)).toEqual([]);

    expect((await resource.detach(left, id)).status).toBe(202);
    await nova.waitIdle(left);
    // Freed by the write after the release that took it off the server (never before it), as
    // Nova's volume turns available after its detach completes: a client waits for the resource.
    expect(await statusOnceSettled(resource.kind, id)).toBe('available');
    expect((await resource.attach(right, id)).status).toBe(200);
    await nova.waitIdle(right);
    expect(await resource.list(right)).toEqual([id]);
    expect(await resource.list(left)).toEqual([]);
  });
});
