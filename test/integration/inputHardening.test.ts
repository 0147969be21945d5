import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Ports, releaseAttachable, Volumes } from '../../functions/core/shared/attachables.js';
import { keys } from '../../functions/core/shared/table.js';
import { CapturingQueue, seedAttachment, seedInstance, startApiOnly, type ApiOnly } from '../support/emulators.js';
import { IMAGE, type Nova } from '../support/nova.js';
import { captureLogs, logText } from '../support/logs.js';
import { rawRequest } from '../support/rawHttp.js';
import { seedVolume } from '../support/volumes.js';
import { seedPort } from '../support/networks.js';

// What an adversarial probe found (issue 10, item 6), each over real HTTP through the local API
// Gateway front and the API Lambda on the emulators: the answer Nova gives, and nothing changed.

let api: ApiOnly;
let queue: CapturingQueue;
let owner: Nova, admin: Nova, stranger: Nova;
let origin: string;
beforeAll(async () => {
  queue = new CapturingQueue();
  api = await startApiOnly(queue);
  owner = api.nova;
  admin = api.nova.as('admin:admin');
  stranger = api.nova.as('mallory:other');
  origin = new URL(api.nova.baseUrl).origin;
});
afterAll(() => api.stop());

const token = { 'x-auth-token': 'alice:demo' };
const raw = (method: string, path: string, headers: Record<string, string> = token, body?: string) =>
  rawRequest(origin, method, path, headers, body);
const item = async (key: { pk: string; sk: string }) =>
  (await api.table.db.send(new GetCommand({ TableName: api.table.name, Key: key, ConsistentRead: true }))).Item;
const dump = async () => (await api.table.db.send(new ScanCommand({ TableName: api.table.name, ConsistentRead: true }))).Items ?? [];

describe('the path is routed as sent', () => {
  it.each(['os-volume_attachments', 'os-interface'])(
    'DELETE /servers/{id}/%s/%%2e%%2e is a 404 for that path: the server is not deleted', async (collection) => {
      const server = await seedInstance(api.table);
      for (const dots of ['%2e%2e', '%2E%2E', '..', '%2e.', '.%2e']) {
        const res = await raw('DELETE', `/v2.1/servers/${server.id}/${collection}/${dots}`);
        expect(res.status).toBe(404);
        expect(Object.keys(res.body)).toEqual(['itemNotFound']);
      }
      expect(await item(keys.instance(server.id))).toMatchObject({ version: 1, vmState: 'active' });
      expect((await item(keys.instance(server.id)))?.taskState).toBeUndefined();
      expect(queue.messages).toEqual([]);
    });

  it('GETs are not re-targeted either: dot segments name nothing', async () => {
    const server = await seedInstance(api.table);
    for (const path of [
      `/v2.1/servers/${server.id}/os-volume_attachments/%2e%2e`, // would be GET /servers/{id}
      `/v2.1/servers/${server.id}/os-interface/%2e%2e`,
      '/v2.1/flavors/%2e%2e', // would be GET /v2.1/
      `/v2.1/servers/${server.id}/os-instance-actions/%2e%2e`,
    ]) {
      const res = await raw('GET', path);
      expect(res.status).toBe(404);
    }
  });

  it('every path id is checked as what it is, with Nova\'s 404 and a bounded message', async () => {
    const server = await seedInstance(api.table);
    const long = 'x'.repeat(3000);
    const cases: [string, RegExp][] = [
      ['/v2.1/servers/not-a-uuid', /^Instance not-a-uuid could not be found\.$/],
      [`/v2.1/servers/${long}`, /^Instance x{64}\.\.\. could not be found\.$/],
      [`/v2.1/servers/${server.id}/os-volume_attachments/vol-1`, /^Volume vol-1 could not be found\.$/],
      [`/v2.1/servers/${server.id}/os-interface/${long}`, /^Port id x{64}\.\.\. could not be found\.$/],
      ['/v2.1/flavors/%3Cscript%3E', /^Flavor <script> could not be found\.$/],
      [`/v2.1/servers/${server.id}/os-instance-actions/not-a-request`, /^Action for request_id not-a-request not found$/],
      ['/v2.1/servers/%ZZ', /^Instance %ZZ could not be found\.$/],
    ];
    for (const [path, message] of cases) {
      const res = await raw('GET', path);
      expect(res.status).toBe(404);
      expect(res.body.itemNotFound.message).toMatch(message);
      expect(res.text.length).toBeLessThan(400);
    }
  });

  it('a server id in another spelling (upper case, no hyphens) names the same server, as in Nova', async () => {
    const server = await seedInstance(api.table);
    for (const spelling of [server.id.toUpperCase(), server.id.replaceAll('-', '')]) {
      const res = await owner.get(`/servers/${spelling}`);
      expect(res.status).toBe(200);
      expect(res.body.server.id).toBe(server.id);
    }
  });
});

describe('one volume or port, one key, whatever its spelling', () => {
  it.each([
    ['volume', 'os-volume_attachments', (id: string) => ({ volumeAttachment: { volumeId: id } }), Volumes],
    ['port', 'os-interface', (id: string) => ({ interfaceAttachment: { port_id: id } }), Ports],
  ] as const)('a %s spelled three ways is attached to one server of three', async (_noun, collection, body, kind) => {
    // Each is its service's, made first (a volume by Cinder, a port by Neutron).
    const id = kind === Volumes ? await seedVolume(api.table) : await seedPort(api.table, 'demo');
    const spellings = [id, id.toUpperCase(), id.replaceAll('-', '')];
    const servers = await Promise.all(spellings.map(() => seedInstance(api.table)));
    const answers = await Promise.all(servers.map((s, i) => owner.post(`/servers/${s.id}/${collection}`, body(spellings[i]!))));
    // The losers: Cinder's 400, Nova's 409 PortInUse.
    const refused = kind === Volumes ? 400 : 409;
    expect(answers.map((a) => a.status).sort()).toEqual([200, refused, refused]);
    const winner = answers.find((a) => a.status === 200)!;
    expect(JSON.stringify(winner.body)).toContain(id);
    expect(await item(kind.item(id))).toMatchObject({ id, status: kind.reservedStatus });
    expect(await item(kind.item(id.toUpperCase()))).toBeUndefined();
    expect(await item(kind.item(id.replaceAll('-', '')))).toBeUndefined();
  });
});

describe('lock', () => {
  it('the owner\'s second lock is a no-op: it never turns an admin\'s lock into the owner\'s', async () => {
    const { id } = await seedInstance(api.table);
    expect((await admin.action(id, { lock: null })).status).toBe(202);
    expect((await owner.action(id, { lock: null })).status).toBe(202);
    expect(await item(keys.instance(id))).toMatchObject({ locked: true, lockedBy: 'admin' });
    const refused = await owner.action(id, { unlock: null });
    expect(refused.status).toBe(403);
    expect(await item(keys.instance(id))).toMatchObject({ locked: true, lockedBy: 'admin' });
  });

  it('locking twice as the owner leaves the owner\'s lock, which the owner lifts', async () => {
    const { id } = await seedInstance(api.table);
    expect((await owner.action(id, { lock: null })).status).toBe(202);
    expect((await owner.action(id, { lock: null })).status).toBe(202);
    expect(await item(keys.instance(id))).toMatchObject({ locked: true, lockedBy: 'owner' });
    expect((await owner.action(id, { unlock: null })).status).toBe(202);
    expect((await item(keys.instance(id)))?.locked).toBe(false);
  });
});

describe('volumes and ports belong to a project', () => {
  it.each([
    ['volume', 'os-volume_attachments', (id: string) => ({ volumeAttachment: { volumeId: id } }), Volumes, 'Volume'],
    ['port', 'os-interface', (id: string) => ({ interfaceAttachment: { port_id: id } }), Ports, 'Port id'],
  ] as const)('another project cannot attach a %s, in use or not, and learns nothing of it', async (_n, collection, body, kind, noun) => {
    const mine = await seedInstance(api.table);
    const theirs = await seedInstance(api.table, { projectId: 'other', userId: 'mallory' });
    const id = await seedAttachment(api.table, kind, mine.id);
    const notFound = { itemNotFound: { code: 404, message: `${noun} ${id} could not be found.` } };

    const whileAttached = await stranger.post(`/servers/${theirs.id}/${collection}`, body(id));
    expect(whileAttached.status).toBe(404);
    expect(whileAttached.body).toEqual(notFound);

    await releaseAttachable(api.table, kind, { id, instanceId: mine.id }); // detached: available again
    const afterDetach = await stranger.post(`/servers/${theirs.id}/${collection}`, body(id));
    expect(afterDetach.body).toEqual(notFound);
    expect(await item(kind.item(id))).toMatchObject({ status: 'available', projectId: 'demo' });
    expect((await item(keys.instance(theirs.id)))?.taskState).toBeUndefined();

    // Its own project attaches it again.
    expect((await owner.post(`/servers/${mine.id}/${collection}`, body(id))).status).toBe(200);
  });
});

describe('query strings', () => {
  it('?limit=0 and ?limit=-0 are an empty page, as in Nova; a long marker is Nova\'s 400, briefly worded', async () => {
    await seedInstance(api.table);
    for (const limit of ['0', '-0']) {
      const res = await owner.get(`/servers?limit=${limit}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ servers: [] });
    }
    const res = await owner.get(`/servers/detail?marker=${'m'.repeat(3000)}`);
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toBe(`marker [${'m'.repeat(64)}...] not found`);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__proto__[x]'])(
    'a query key %s is an unknown key like any other, with or without a token', async (key) => {
      for (const path of ['/v2.1/servers', '/v2.1/servers/detail', '/v2.1/flavors', '/v2.1/']) {
        const url = `${path}?${encodeURIComponent(key)}=1&${encodeURIComponent(key)}=2`;
        const withToken = await raw('GET', url);
        expect(withToken.status).toBe(200);
        const without = await raw('GET', url, {});
        expect(without.status).toBe(path === '/v2.1/' ? 200 : 401);
        if (path !== '/v2.1/') expect(without.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: expect.any(String) } });
      }
    });

  it('?name= is Nova\'s regular expression filter, linear-time, bounded, and refused when malformed', async () => {
    const a = await seedInstance(api.table, { name: 'web-1', projectId: 'names' });
    await seedInstance(api.table, { name: 'db-1', projectId: 'names' });
    await seedInstance(api.table, { name: `${'a'.repeat(254)}!`, projectId: 'names' });
    const lister = owner.as('carol:names');
    const names = async (pattern: string) =>
      (await lister.get(`/servers?name=${encodeURIComponent(pattern)}`)).body.servers.map((s: { name: string }) => s.name);
    expect(await names('^web')).toEqual(['web-1']);
    expect(await names('-1$')).toEqual(expect.arrayContaining(['web-1', 'db-1']));
    // A backtracking engine takes time doubling per character on this; RE2JS does not backtrack.
    expect(await names('(a*)*$')).toHaveLength(3);
    expect(await names('^(a|aa)+$')).toEqual([]);
    expect(a.name).toBe('web-1');
    for (const bad of ['(a', '(a)\\1', '(?=a)', 'x'.repeat(256)]) {
      const res = await lister.get(`/servers?name=${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
      expect(res.body.badRequest.message.length).toBeLessThan(300);
    }
  });
});

describe('bodies', () => {
  it('a body over Nova\'s 112 KiB is 413 overLimit, and nothing is written', async () => {
    const before = await dump();
    const res = await owner.post('/servers', { server: { name: 'big', flavorRef: '1', imageRef: IMAGE, user_data: 'x'.repeat(120_000) } });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ overLimit: { code: 413, message: 'Request is too large.' } });
    expect(await dump()).toEqual(before);
  });

  it('a body over API Gateway\'s 10 MB never reaches the function', async () => {
    const res = await raw('POST', '/v2.1/servers', { ...token, 'content-type': 'application/json' }, 'x'.repeat(10 * 1024 * 1024 + 1));
    expect(res.status).toBe(413);
  });

  it('an error echoes a bad value once, cut short', async () => {
    const name = `${' '.repeat(50)}${'n'.repeat(50_000)}`;
    const res = await owner.post('/servers', { server: { name, flavorRef: '1', imageRef: IMAGE } });
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message.length).toBeLessThan(400);
    const server = await seedInstance(api.table);
    const unknown = await owner.action(server.id, { ['z'.repeat(5000)]: null });
    expect(unknown.status).toBe(400);
    expect(unknown.body.badRequest.message.length).toBeLessThan(200);
  });
});

describe('methods', () => {
  it.each([
    ['PUT', '/v2.1/servers', 'GET, POST'],
    ['PATCH', `/v2.1/servers/${crypto.randomUUID()}`, 'GET, PUT, DELETE'],
    ['DELETE', '/v2.1/flavors', 'GET, POST'],
    ['GET', `/v2.1/servers/${crypto.randomUUID()}/action`, 'POST'],
    ['POST', '/', 'GET'],
  ])('%s %s is 405 badMethod, allowing %s', async (method, path, allow) => {
    const res = await raw(method, path);
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ badMethod: { code: 405, message: expect.any(String) } });
    expect(String(res.headers.allow).split(', ').sort()).toEqual(allow.split(', ').sort());
  });

  it('an unknown path stays a 404', async () => {
    expect((await raw('GET', '/v2.1/nothing-here')).status).toBe(404);
  });
});

describe('links', () => {
  it('are built from the configured base URL, never from the client\'s Host or X-Forwarded-Proto', async () => {
    const { id } = await seedInstance(api.table);
    for (const headers of [
      { host: 'evil.example', 'x-forwarded-proto': 'javascript' } as Record<string, string>,
      { host: 'evil.example:443', 'x-forwarded-proto': 'HTTP', 'x-forwarded-host': 'evil.example' },
    ]) {
      const res = await raw('GET', `/v2.1/servers/${id}`, { ...token, ...headers });
      expect(res.status).toBe(200);
      for (const link of res.body.server.links) expect(link.href.startsWith(`${origin}/`)).toBe(true);
      const versions = await raw('GET', '/', headers);
      const v21 = versions.body.versions.find((v: { id: string }) => v.id === 'v2.1');
      expect(v21.links[0].href).toBe(`${origin}/v2.1/`);
    }
  });
});

describe('errors from the backends', () => {
  it('a 503 carries a fixed message; the cause is only logged, with the request id', async () => {
    const { id } = await seedInstance(api.table);
    queue.failNext = true;
    const logged = captureLogs();
    try {
      const res = await owner.action(id, { 'os-stop': null });
      expect(res.status).toBe(503);
      expect(res.body.serviceUnavailable.message).not.toMatch(/simulated/);
      const lines = logText(logged.entries).split('\n');
      expect(lines.some((l) => l.includes('simulated SendMessage failure') && l.includes(res.headers.get('x-openstack-request-id')!))).toBe(true);
    } finally {
      logged.restore();
    }
  });
});
