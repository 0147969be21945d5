import type { Server } from 'node:http';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createApi } from '../../functions/api/app.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';
import type { OperationMessage, OperationQueue } from '../../functions/core/compute/queue.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { serveApi, type ProxyHandler } from '../../local/apiGateway.js';
import { CapturingQueue, seedInstance, startBackends, type TestBackends } from '../support/emulators.js';
import { captureLogs, logText } from '../support/logs.js';
import { IMAGE, Nova } from '../support/nova.js';

// The Idempotency-Key header (IETF httpapi draft) over HTTP, on the real API handler and
// dynalite: replays, misuse (422), a key still in flight (409), scoping, expiry, and the hot
// path without a key untouched.

/** A queue whose next send waits at a gate the test opens: holds a request inside admission. */
class GatedQueue implements OperationQueue {
  readonly inner = new CapturingQueue();
  private gate?: { reached: () => void; open: Promise<void> };
  hold(): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let reached!: () => void;
    const open = new Promise<void>((r) => { release = r; });
    const wasReached = new Promise<void>((r) => { reached = r; });
    this.gate = { reached, open };
    return { reached: wasReached, release };
  }
  async send(message: OperationMessage) {
    const gate = this.gate;
    if (gate) {
      this.gate = undefined;
      gate.reached();
      await gate.open;
    }
    return this.inner.send(message);
  }
}

let backends: TestBackends;
let server: Server;
let nova: Nova;
const queue = new GatedQueue();
let offsetMs = 0;
const now = () => Date.now() + offsetMs;
const TTL_SECONDS = 600;
const key = () => `"${crypto.randomUUID()}"`;

beforeAll(async () => {
  backends = await startBackends();
  const api = createApi({
    table: backends.table, queue, claimLeaseMs: 60_000, now, idempotency: { ttlSeconds: TTL_SECONDS, inProgressSeconds: 30 },
  }, { identity: new NoauthIdentityProvider() });
  const served = await serveApi(api as unknown as ProxyHandler, 0);
  server = served.server;
  nova = new Nova(`${served.url}/v2.1`);
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections?.();
  await backends.stop();
});

const createBody = (name = 'idem') => ({ server: { name, flavorRef: '1', imageRef: IMAGE } });
const withKey = (k: string) => ({ 'Idempotency-Key': k });

async function idempotencyItems(): Promise<number> {
  const out = await backends.table.db.send(new ScanCommand({
    TableName: backends.table.name, FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': 'IDEMPOTENCY#' },
  }));
  return out.Count ?? 0;
}

describe('Idempotency-Key', () => {
  it('a retried create returns the original answer (status, body, request id), also after the server was built', async () => {
    const k = key();
    const first = await nova.request('POST', '/servers', createBody(), withKey(k));
    expect(first.status).toBe(202);
    const requestId = first.headers.get('x-openstack-request-id');
    const retry = await nova.request('POST', '/servers', createBody(), withKey(k));
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('x-openstack-request-id')).toBe(requestId);
    expect(retry.headers.get('location')).toBe(first.headers.get('location'));
    // One server, one queued create.
    expect(queue.inner.messages.filter((m) => m.instanceId === first.body.server.id)).toHaveLength(1);

    const msg = queue.inner.messages.find((m) => m.instanceId === first.body.server.id)!;
    queue.inner.messages.splice(queue.inner.messages.indexOf(msg), 1);
    expect(await runOperation({ table: backends.table, driver: new SimulatedDriver(backends.table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 60_000 }, msg))
      .toBe('done');
    expect((await nova.get(`/servers/${first.body.server.id}`)).body.server.status).toBe('ACTIVE');
    const late = await nova.request('POST', '/servers', createBody(), withKey(k));
    expect(late.status).toBe(202);
    expect(late.body).toEqual(first.body);
    expect(late.headers.get('x-openstack-request-id')).toBe(requestId);
  });

  it('a retried action is answered as the first was, where without the key it would be a 409', async () => {
    const instance = await seedInstance(backends.table);
    const k = key();
    const first = await nova.request('POST', `/servers/${instance.id}/action`, { shelve: null }, withKey(k));
    expect(first.status).toBe(202);
    const retry = await nova.request('POST', `/servers/${instance.id}/action`, { shelve: null }, withKey(k));
    expect(retry.status).toBe(202);
    expect(retry.headers.get('x-openstack-request-id')).toBe(first.headers.get('x-openstack-request-id'));
    const unkeyed = await nova.action(instance.id, { shelve: null });
    expect(unkeyed.status).toBe(409);
    expect(queue.inner.messages.filter((m) => m.instanceId === instance.id)).toHaveLength(1);
  });

  it('the same key with another body gets 422 in Nova\'s error shape and changes nothing', async () => {
    const instance = await seedInstance(backends.table);
    const k = key();
    expect((await nova.request('POST', `/servers/${instance.id}/action`, { 'os-stop': null }, withKey(k))).status).toBe(202);
    const misuse = await nova.request('POST', `/servers/${instance.id}/action`, { pause: null }, withKey(k));
    expect(misuse.status).toBe(422);
    expect(misuse.body).toEqual({ computeFault: { code: 422, message: expect.stringMatching(/different request/) } });
    const other = await nova.request('POST', '/servers', createBody(), withKey(k));
    expect(other.status).toBe(422);
    expect(queue.inner.messages.filter((m) => m.instanceId === instance.id)).toHaveLength(1);
  });

  it('a retry while the first request is still being processed gets 409; then the answer', async () => {
    const k = key();
    const held = queue.hold();
    const first = nova.request('POST', '/servers', createBody('slow'), withKey(k));
    await held.reached;
    const during = await nova.request('POST', '/servers', createBody('slow'), withKey(k));
    expect(during.status).toBe(409);
    expect(during.body.conflictingRequest.message).toMatch(/still being processed/);
    held.release();
    const answered = await first;
    expect(answered.status).toBe(202);
    const after = await nova.request('POST', '/servers', createBody('slow'), withKey(k));
    expect(after.body).toEqual(answered.body);
  });

  it('keys are scoped by project and user: another caller\'s same key is its own request', async () => {
    const k = key();
    const mine = await nova.request('POST', '/servers', createBody(), withKey(k));
    const theirs = await nova.as('mallory:other').request('POST', '/servers', createBody(), withKey(k));
    const colleague = await nova.as('bob:demo').request('POST', '/servers', createBody(), withKey(k));
    expect([mine.status, theirs.status, colleague.status]).toEqual([202, 202, 202]);
    expect(new Set([mine.body.server.id, theirs.body.server.id, colleague.body.server.id]).size).toBe(3);
  });

  it('a 503 gives the key back: the retry runs again', async () => {
    const instance = await seedInstance(backends.table);
    const k = key();
    queue.inner.failNext = true;
    const logs = captureLogs();
    const failed = await nova.request('POST', `/servers/${instance.id}/action`, { 'os-stop': null }, withKey(k)).finally(logs.restore);
    expect(failed.status).toBe(503);
    expect(logText(logs.entries)).toContain('simulated SendMessage failure');
    const retry = await nova.request('POST', `/servers/${instance.id}/action`, { 'os-stop': null }, withKey(k));
    expect(retry.status).toBe(202);
    expect(retry.headers.get('x-openstack-request-id')).not.toBe(failed.headers.get('x-openstack-request-id'));
  });

  it('keys expire after their TTL: the same key then starts a new request', async () => {
    const k = key();
    const first = await nova.request('POST', '/servers', createBody(), withKey(k));
    offsetMs += (TTL_SECONDS + 1) * 1000;
    try {
      const later = await nova.request('POST', '/servers', createBody(), withKey(k));
      expect(later.status).toBe(202);
      expect(later.body.server.id).not.toBe(first.body.server.id);
    } finally {
      offsetMs = 0;
    }
  });

  it('delete and detach take keys too; a malformed key is a 400', async () => {
    const instance = await seedInstance(backends.table);
    const k = key();
    const first = await nova.request('DELETE', `/servers/${instance.id}`, undefined, withKey(k));
    expect(first.status).toBe(204);
    const retry = await nova.request('DELETE', `/servers/${instance.id}`, undefined, withKey(k));
    expect(retry.status).toBe(204);
    expect(retry.headers.get('x-openstack-request-id')).toBe(first.headers.get('x-openstack-request-id'));
    const bad = await nova.request('DELETE', `/servers/${instance.id}`, undefined, withKey('x'.repeat(300)));
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.message).toMatch(/Idempotency-Key/);
  });

  it('a request without a key writes and reads no idempotency record', async () => {
    const before = await idempotencyItems();
    const touched: string[] = [];
    const spy = (next: any) => async (args: any) => {
      const k = args.input?.Key?.pk ?? args.input?.Item?.pk;
      if (k) touched.push(String(k));
      return next(args);
    };
    backends.table.db.middlewareStack.add(spy, { step: 'initialize', name: 'idempotencySpy' });
    try {
      expect((await nova.post('/servers', createBody())).status).toBe(202);
    } finally {
      backends.table.db.middlewareStack.remove('idempotencySpy');
    }
    expect(touched.length).toBeGreaterThan(0);
    expect(touched.filter((pk) => pk.startsWith('IDEMPOTENCY#'))).toEqual([]);
    expect(await idempotencyItems()).toBe(before);
  });
});
