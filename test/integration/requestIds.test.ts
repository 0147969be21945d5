import { createApi } from '../../functions/api/app.js';
import { proxyEvent } from '../../local/apiGateway.js';
import { lambdaContext } from '../../local/lambdaContext.js';
import { CapturingQueue, startBackends, type TestBackends } from '../support/emulators.js';
import { captureLogs } from '../support/logs.js';
import { IMAGE } from '../support/nova.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';

// Nova's request ids: its own on every answer; a caller's X-OpenStack-Request-ID kept as the
// global id, here seen where it must survive: in the work queued for the compute worker.

let backends: TestBackends;
const queue = new CapturingQueue();
let api: ReturnType<typeof createApi>;

beforeAll(async () => {
  backends = await startBackends();
  api = createApi({ table: backends.table, queue, claimLeaseMs: 60_000 }, { identity: new NoauthIdentityProvider() });
});
afterAll(() => backends.stop());

async function createServer(headers: Record<string, string>) {
  const body = JSON.stringify({ server: { name: 'ids', flavorRef: '1', imageRef: IMAGE } });
  const event = proxyEvent({ method: 'POST', url: '/v2.1/servers', headers: {}, socket: {} } as never, Buffer.from(body));
  event.headers = { 'X-Auth-Token': 'alice:ids', ...headers };
  return api(event as never, lambdaContext('api', 5000) as never);
}

it('keeps a caller\'s well-formed global request id with the queued work, and answers with its own', async () => {
  const global = `req-${crypto.randomUUID()}`;
  const logs = captureLogs();
  const res = await createServer({ 'X-OpenStack-Request-ID': global }).finally(logs.restore);
  expect(res.statusCode).toBe(202);
  const own = res.headers?.['x-openstack-request-id'];
  // Logged once, with both ids: what ties this request to the caller's chain in the logs.
  expect(logs.entries).toEqual([{ level: 'info', message: expect.any(String), attributes: { requestId: own, globalRequestId: global } }]);
  expect(own).toMatch(/^req-[0-9a-f-]{36}$/);
  expect(own).not.toBe(global);
  expect(res.headers?.['x-compute-request-id']).toBe(own);
  expect(queue.take()).toMatchObject({ op: 'create', requestId: own, globalRequestId: global });
});

it('ignores a malformed global request id', async () => {
  const res = await createServer({ 'X-OpenStack-Request-ID': 'not-a-request-id' });
  expect(res.statusCode).toBe(202);
  expect(queue.take().globalRequestId).toBeUndefined();
});
