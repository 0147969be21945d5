import { resizeAllocation } from '../../functions/core/placement/allocations.js';
import { readHosts, seedHosts } from '../../functions/core/placement/hosts.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova } from '../support/nova.js';
import { hostsEmptied, settled } from '../support/placement.js';

// Placement's ledger is another item than the server's, so no write to it can be fenced by the
// server's claim: a resize's worker taken over (by the dead-letter handler, a delete) between its
// take-up and its allocation's resize still resizes it, and if it dies then nobody undoes it. The
// server's item still records the allocation before, so a delete's give-back, conditioned on that
// entry, missed it and the host kept it for ever (the chaos run on small hosts found it, seed 7).
// A deleted server's give-back now finds what is left of it on the hosts and gives that back.

const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';

let runtime: Runtime;
let admin: Nova;
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT, driver: { stepMs: 0 } });
  await seedHosts(runtime.table, [{ name: 'late-1', zone: 'nova', vcpus: 4, ram: 8192, disk: 100 }]);
  admin = new Nova(runtime.apiUrl, 'admin:admin');
});
afterAll(() => runtime.stop());

it('a deleted server\'s allocation changed by a superseded resize\'s late write is given back all the same', async () => {
  const made = await admin.post('/servers', { server: { name: 'late', flavorRef: '1', imageRef: IMAGE } });
  expect(made.status).toBe(202);
  const id = made.body.server.id as string;
  const [server] = await settled(admin, [id]);
  expect([server!.status, server!.host]).toEqual(['ACTIVE', 'late-1']);
  // The superseded resize's write, as its worker would make it after the claim had moved on.
  const recorded = (await readHosts(runtime.table))[0]!.allocations[id]!;
  const late = await resizeAllocation(runtime.table, 'late-1', id, recorded, { vcpus: 2, ram: 4096, disk: 40, at: recorded.at + 1 }, 'req-superseded');
  expect(late?.resizedBy).toBe('req-superseded');
  expect((await admin.delete(`/servers/${id}`)).status).toBe(204);
  await admin.waitGone(id);
  const [host] = await hostsEmptied(runtime.table);
  expect([host!.allocations, host!.usedVcpus, host!.usedRam, host!.usedDisk]).toEqual([{}, 0, 0, 0]);
});
