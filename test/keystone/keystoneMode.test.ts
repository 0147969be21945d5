import { jest } from '@jest/globals';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeystoneIdentityProvider } from '../../functions/core/identity/keystone.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { startKeystone, type Keystone } from '../support/keystone.js';
import { IMAGE, IMAGE2, Nova } from '../support/nova.js';
import { Cinder } from '../support/volumes.js';

// Keystone mode against a real Keystone 22 (scripts/keystone/): the local runtime runs the same
// authorizer as API Gateway would, and every token is validated by Keystone with taskgate's
// service token. `npm run test:keystone` (slow: Keystone takes a minute or two to set up).


jest.setTimeout(600_000);

let keystone: Keystone;
let runtime: Runtime;
let provider: KeystoneIdentityProvider;
/** The provider's clock: the tests move it past the cache TTL instead of waiting it out. */
let clockOffsetMs = 0;
const CACHE_TTL_SECONDS = 300;
const tokens: Record<string, string> = {};

function newProvider(now?: () => number): KeystoneIdentityProvider {
  return new KeystoneIdentityProvider({
    url: keystone.url,
    credentials: async () => ({ username: keystone.service.name, password: keystone.service.password, projectName: 'service', userDomainName: 'Default', projectDomainName: 'Default' }),
    cacheTtlSeconds: CACHE_TTL_SECONDS, cacheMaxEntries: 1000, timeoutMs: 30_000, now,
  });
}

beforeAll(async () => {
  keystone = await startKeystone();
  provider = newProvider(() => Date.now() + clockOffsetMs);
  runtime = await startRuntime({ port: 0, driver: { stepMs: 0 }, identity: provider, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
  for (const user of ['alpha-member', 'alpha-reader', 'alpha-admin', 'beta-member', 'beta-reader']) {
    tokens[user] = (await keystone.token(user)).token;
  }
});
afterAll(async () => {
  await runtime?.stop();
  await keystone?.stop();
});

const as = (user: string) => new Nova(runtime.apiUrl, tokens[user]!);

async function tableItems(): Promise<unknown[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await runtime.table.db.send(new ScanCommand({ TableName: runtime.table.name, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
}

describe('tokens', () => {
  it('admits a valid token with the project and roles of its scope', async () => {
    const member = keystone.users['alpha-member']!;
    const identity = await newProvider().authenticate(tokens['alpha-member']!);
    expect(identity).toMatchObject({ userId: member.id, projectId: keystone.projects.alpha });
    expect([...identity.roles].sort()).toEqual(['member', 'reader']);
    const admin = await newProvider().authenticate(tokens['alpha-admin']!);
    expect(admin.roles).toEqual(expect.arrayContaining(['admin', 'member', 'reader']));
    const reader = await newProvider().authenticate(tokens['alpha-reader']!);
    expect(reader.roles).toEqual(['reader']);

    // over HTTP: the server is created in the token's project, by the token's user
    const nova = as('alpha-member');
    const id = await nova.createServer('scoped');
    const server = await nova.waitIdle(id);
    expect(server).toMatchObject({ tenant_id: keystone.projects.alpha, user_id: member.id });
  });

  it('refuses missing, malformed and unknown tokens with 401', async () => {
    const fernetLike = `gAAAAAB${'x'.repeat(176)}`;
    for (const token of ['', 'alice:demo', 'admin:admin', 'not a token', fernetLike, `${tokens['alpha-member']!.slice(0, -4)}AAAA`, 'é'.repeat(10), 'x'.repeat(9000)]) {
      const res = await new Nova(runtime.apiUrl, token).get('/servers');
      expect([token.slice(0, 20), res.status]).toEqual([token.slice(0, 20), 401]);
      expect(res.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    }
  });

  it('refuses a revoked token: at once when not cached, and within the cache TTL when it was', async () => {
    const { token } = await keystone.token('beta-member');
    const nova = new Nova(runtime.apiUrl, token);
    expect((await nova.get('/servers')).status).toBe(200); // now cached
    const revoke = await keystone.admin('/auth/tokens', { method: 'DELETE', headers: { 'x-subject-token': token } });
    expect(revoke.status).toBe(204);

    await expect(newProvider().authenticate(token)).rejects.toThrow('requires authentication'); // uncached: Keystone says 404
    expect((await nova.get('/servers')).status).toBe(200); // still inside the cache TTL, as keystonemiddleware
    clockOffsetMs += (CACHE_TTL_SECONDS + 1) * 1000;
    expect((await nova.get('/servers')).status).toBe(401);
    expect((await nova.post('/servers', { server: { name: 'x', flavorRef: '1', imageRef: IMAGE } })).status).toBe(401);
  });

  it('refuses an expired token, and the cache never serves it past its expiry', async () => {
    // Keystone caps a token at its application credential's expiry: a token that ends in seconds.
    clockOffsetMs = 0; // the revocation test moved the provider's clock on
    const member = keystone.users['alpha-member']!;
    const login = await keystone.token('alpha-member');
    const expiresAt = new Date(Date.now() + 20_000);
    const created = await fetch(`${keystone.url}/users/${member.id}/application_credentials`, {
      method: 'POST', headers: { 'x-auth-token': login.token, 'content-type': 'application/json' },
      body: JSON.stringify({ application_credential: { name: 'short', expires_at: expiresAt.toISOString().replace('Z', '') } }),
    });
    expect(created.status).toBe(201);
    const cred = (await created.json() as { application_credential: { id: string; secret: string } }).application_credential;
    const issued = await fetch(`${keystone.url}/auth/tokens`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['application_credential'], application_credential: { id: cred.id, secret: cred.secret } } } }),
    });
    expect(issued.status).toBe(201);
    const token = issued.headers.get('x-subject-token')!;
    const tokenExpiry = Date.parse((await issued.json() as { token: { expires_at: string } }).token.expires_at);
    expect(tokenExpiry).toBeLessThanOrEqual(expiresAt.getTime() + 1000);

    const nova = new Nova(runtime.apiUrl, token);
    expect((await nova.get('/servers')).status).toBe(200); // cached until the token's expiry, not the TTL
    await sleep(Math.max(0, tokenExpiry - Date.now() + 1500));
    expect((await nova.get('/servers')).status).toBe(401);
    await expect(newProvider().authenticate(token)).rejects.toThrow('requires authentication');
  });
});

describe('projects and roles (Nova\'s default policies)', () => {
  /** alpha's volume, made through Cinder with alpha's Keystone token (Nova attaches only Cinder's). */
  let VOL = '';
  const PORT = '0b8e0a9c-1b7a-4c1e-9f43-3cb1d6f2a7e0';
  let alphaServer: string;
  let betaServer: string;
  let alphaRequest: string;

  beforeAll(async () => {
    alphaServer = await as('alpha-member').createServer('alpha-1');
    betaServer = await as('beta-member').createServer('beta-1');
    await as('alpha-member').waitIdle(alphaServer);
    await as('beta-member').waitIdle(betaServer);
    VOL = await new Cinder(runtime.apiUrl.replace(/\/v2\.1$/, ''), tokens['alpha-member']!, keystone.projects.alpha!).create();
    expect((await as('alpha-member').post(`/servers/${alphaServer}/os-volume_attachments`, { volumeAttachment: { volumeId: VOL } })).status).toBe(200);
    await as('alpha-member').waitIdle(alphaServer);
    const actions = await as('alpha-member').get(`/servers/${alphaServer}/os-instance-actions`);
    alphaRequest = actions.body.instanceActions[0].request_id;
  });

  const ACTIONS: readonly unknown[] = [
    { reboot: { type: 'SOFT' } }, { reboot: { type: 'HARD' } }, { rebuild: { imageRef: IMAGE2 } }, { resize: { flavorRef: '2' } },
    { confirmResize: null }, { revertResize: null }, { shelve: null }, { shelveOffload: null }, { unshelve: null },
    { 'os-start': null }, { 'os-stop': null }, { pause: null }, { unpause: null }, { suspend: null }, { resume: null },
    { lock: null }, { unlock: null },
  ];
  const writes = (id: string): [string, string, unknown?][] => [
    ...ACTIONS.map((a): [string, string, unknown] => ['POST', `/servers/${id}/action`, a]),
    ['POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: 'a5f8e3b2-7c1d-4e6f-9a0b-1c2d3e4f5a6b' } }],
    ['DELETE', `/servers/${id}/os-volume_attachments/${VOL}`],
    ['POST', `/servers/${id}/os-interface`, { interfaceAttachment: { port_id: PORT } }],
    ['DELETE', `/servers/${id}/os-interface/${PORT}`],
    ['PUT', `/servers/${id}`, { server: { name: 'renamed' } }],
    ['POST', `/servers/${id}/metadata`, { metadata: { a: 'b' } }], ['PUT', `/servers/${id}/metadata`, { metadata: { a: 'b' } }],
    ['PUT', `/servers/${id}/metadata/a`, { meta: { a: 'b' } }], ['DELETE', `/servers/${id}/metadata/a`],
    ['PUT', `/servers/${id}/tags`, { tags: ['t'] }], ['PUT', `/servers/${id}/tags/t`], ['DELETE', `/servers/${id}/tags/t`],
    ['DELETE', `/servers/${id}/tags`],
    ['DELETE', `/servers/${id}`],
  ];
  const reads = (id: string): [string, string][] => [
    ['GET', `/servers/${id}`], ['GET', `/servers/${id}/os-volume_attachments`], ['GET', `/servers/${id}/os-volume_attachments/${VOL}`],
    ['GET', `/servers/${id}/os-interface`], ['GET', `/servers/${id}/os-interface/${PORT}`],
    ['GET', `/servers/${id}/os-instance-actions`], ['GET', `/servers/${id}/os-instance-actions/${alphaRequest}`],
    ['GET', `/servers/${id}/metadata`], ['GET', `/servers/${id}/tags`], ['GET', `/servers/${id}/ips`],
  ];

  it('each project gets 404 for every read and every operation on the other\'s servers, and nothing changes', async () => {
    const before = await tableItems();
    for (const [user, id] of [['beta-member', alphaServer], ['alpha-member', betaServer], ['beta-reader', alphaServer], ['alpha-reader', betaServer]] as const) {
      const nova = as(user);
      for (const [method, path, body] of [...reads(id), ...(user.endsWith('member') ? writes(id) : [])]) {
        const res = await nova.request(method, path, body);
        expect([user, method, path, JSON.stringify(body ?? null), res.status]).toEqual([user, method, path, JSON.stringify(body ?? null), 404]);
        expect(Object.keys(res.body)).toEqual(['itemNotFound']);
      }
      const listed = await nova.get('/servers/detail');
      expect(listed.body.servers.map((s: { id: string }) => s.id)).not.toContain(id);
    }
    expect(await tableItems()).toEqual(before);
  });

  it('a reader reads its project\'s servers and gets 403 for every write, and nothing changes', async () => {
    const reader = as('alpha-reader');
    for (const [method, path] of reads(alphaServer).slice(0, 4)) expect([path, (await reader.request(method, path)).status]).toEqual([path, expect.any(Number)]);
    expect((await reader.get(`/servers/${alphaServer}`)).status).toBe(200);
    expect((await reader.get('/servers')).status).toBe(200);
    expect((await reader.get('/flavors')).status).toBe(200);
    const before = await tableItems();
    for (const [method, path, body] of [...writes(alphaServer), ['POST', '/servers', { server: { name: 'r', flavorRef: '1', imageRef: IMAGE } }] as [string, string, unknown]]) {
      const res = await reader.request(method, path, body);
      expect([method, path, JSON.stringify(body ?? null), res.status]).toEqual([method, path, JSON.stringify(body ?? null), 403]);
      expect(res.body.forbidden.message).toMatch(/^Policy doesn't allow os_compute_api:[\w:-]+ to be performed\.$/);
    }
    expect(await tableItems()).toEqual(before);
  });

  it('a member gets 403 for every admin-only call, and nothing changes', async () => {
    const admin = as('alpha-admin');
    expect((await admin.action(alphaServer, { lock: null })).status).toBe(202); // an admin's lock
    const member = as('alpha-member');
    const before = await tableItems();
    const adminOnly: [string, string, unknown?][] = [
      ['POST', `/servers/${alphaServer}/action`, { 'os-resetState': { state: 'error' } }],
      ['POST', `/servers/${alphaServer}/action`, { unlock: null }],
      ['GET', '/servers?all_tenants=1'], ['GET', '/servers/detail?all_tenants=True'],
      ['GET', `/servers?tenant_id=${keystone.projects.beta}`], ['GET', `/servers/detail?tenant_id=${keystone.projects.beta}`],
      ['POST', '/flavors', { flavor: { name: 'x', ram: 1, vcpus: 1, disk: 1 } }], ['PUT', '/flavors/1', { flavor: { description: 'x' } }],
      ['DELETE', '/flavors/1'], ['POST', '/flavors/1/os-extra_specs', { extra_specs: { a: 'b' } }], ['DELETE', '/flavors/1/os-extra_specs/a'],
      ['GET', '/os-availability-zone/detail'],
    ];
    for (const [method, path, body] of adminOnly) {
      const res = await member.request(method, path, body);
      expect([method, path, res.status]).toEqual([method, path, 403]);
    }
    expect(await tableItems()).toEqual(before);

    // the admin passes the same policies (what all_tenants lists is the Nova-fidelity work's), and lifts its own lock
    expect((await admin.get('/servers?all_tenants=1')).status).toBe(200);
    expect((await admin.get('/os-availability-zone/detail')).status).toBe(200);
    expect((await member.get('/os-availability-zone')).status).toBe(200);
    expect((await admin.get(`/servers/detail?tenant_id=${keystone.projects.beta}`)).status).toBe(200);
    expect((await admin.action(alphaServer, { unlock: null })).status).toBe(202);
  });
});
