import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { seedInstance, startApiOnly, type ApiOnly } from '../support/emulators.js';
import { changeImage } from '../../functions/core/images/store.js';
import { IMAGE, IMAGE2, Nova } from '../support/nova.js';

// The image service (Glance v2's images API under /image) and Nova's side of it, over HTTP
// through the local API Gateway front, on the emulators (noauth: `user:project`, user `admin`
// the administrator, anyone else a member): version discovery, the built-in images, listing with
// Glance's filters, paging and sorting, create, JSON-patch update and delete with Glance's
// default policies and its error bodies, nothing written for a refused request; server create
// and rebuild check their image as Nova does; Nova's image proxy up to 2.35.

const PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' };
/** Glance answers errors in JSON to a client that asks for it (openstacksdk, Tempest do). */
const JSON_PLEASE = { accept: 'application/json' };

let api: ApiOnly;
let root: string;
/** Glance clients: an administrator, members of two projects. */
let admin: Nova;
let alice: Nova;
let bob: Nova;

const glanceError = (code: number, title: string, message: string) => ({ message, code: `${code} ${title}`, title });

async function tableItems(): Promise<unknown[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await api.table.db.send(new ScanCommand({ TableName: api.table.name, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
}

const patch = (as: Nova, id: string, ops: unknown) => as.request('PATCH', `/images/${id}`, ops, PATCH);

async function made(as: Nova, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await as.post('/images', body);
  if (res.status !== 201) throw new Error(`image create: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

beforeAll(async () => {
  api = await startApiOnly();
  root = api.nova.baseUrl.replace(/\/v2\.1$/, '');
  admin = new Nova(`${root}/image/v2`, 'admin:admin-proj', JSON_PLEASE);
  alice = new Nova(`${root}/image/v2`, 'alice:proj-a', JSON_PLEASE);
  bob = new Nova(`${root}/image/v2`, 'bob:proj-b', JSON_PLEASE);
});
afterAll(async () => {
  await api?.stop();
});

describe('version discovery', () => {
  it('answers without a token: 300 at the endpoint, 200 at /versions, each naming v2 under /image', async () => {
    const anonymous = new Nova(root, '');
    const choices = await anonymous.get('/image');
    expect(choices.status).toBe(300);
    expect(choices.body.versions[0]).toEqual({ id: 'v2.7', status: 'CURRENT', links: [{ rel: 'self', href: expect.stringMatching(/\/image\/v2\/$/) }] });
    expect(choices.body.versions.map((v: { id: string }) => v.id)).toContain('v2.0');
    const listed = await anonymous.get('/image/versions');
    expect([listed.status, listed.body]).toEqual([200, choices.body]);
    expect((await anonymous.get('/image/v2/images')).status).toBe(401);
  });
});

describe('the built-in images', () => {
  it('are public, active qcow2 images of no project, shown field for field as Glance shows them', async () => {
    const res = await alice.get(`/images/${IMAGE}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      name: 'cirros', disk_format: 'qcow2', container_format: 'bare', visibility: 'public', size: expect.any(Number),
      virtual_size: null, status: 'active', checksum: null, protected: false, min_ram: 0, min_disk: 0, owner: null,
      os_hidden: false, os_hash_algo: null, os_hash_value: null, id: IMAGE, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      updated_at: expect.any(String), tags: [], self: `/v2/images/${IMAGE}`, file: `/v2/images/${IMAGE}/file`, schema: '/v2/schemas/image',
    });
    const alt = await bob.get(`/images/${IMAGE2}`);
    expect([alt.status, alt.body.name, alt.body.status]).toEqual([200, 'cirros-alt', 'active']);
  });

  it('an id that names no image, a UUID or not, is Glance\'s 404 in its body', async () => {
    for (const id of [crypto.randomUUID(), 'cirros', 'x'.repeat(40)]) {
      const res = await alice.get(`/images/${id}`);
      expect([id, res.status, res.body]).toEqual([id, 404, glanceError(404, 'Not Found', `No image found with ID ${id}`)]);
    }
  });

  it('an error\'s body follows the Accept header as webob\'s does: JSON when asked, else HTML (any), else plain text', async () => {
    const id = crypto.randomUUID();
    const asked = (accept: string) => new Nova(`${root}/image/v2`, 'alice:proj-a', { accept }).get(`/images/${id}`);
    const html = await asked('*/*');
    expect([html.status, html.headers.get('content-type'), html.body]).toEqual([404, 'text/html; charset=UTF-8',
      `<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID ${id}<br /><br />\n\n\n\n </body>\n</html>`]);
    const text = await asked('text/plain');
    expect([text.status, text.headers.get('content-type'), text.body]).toEqual([404, 'text/plain; charset=UTF-8', `404 Not Found\n\nNo image found with ID ${id}\n\n\n`]);
    expect((await asked('text/html;q=0.5, application/json')).body).toEqual(glanceError(404, 'Not Found', `No image found with ID ${id}`));
  });
});

describe('create, patch and delete', () => {
  it('an administrator creates a queued image (201, Location), patches it and deletes it (204), after which it is gone', async () => {
    const res = await admin.post('/images', {
      name: 'made-by-admin', disk_format: 'raw', container_format: 'bare', visibility: 'public', min_ram: 64, tags: ['a', 'a', 'b'], purpose: 'test',
    });
    expect(res.status).toBe(201);
    const image = res.body;
    expect(res.headers.get('location')).toBe(`${root}/image/v2/images/${image.id}`);
    expect(image).toMatchObject({
      name: 'made-by-admin', status: 'queued', visibility: 'public', owner: 'admin-proj', size: null, checksum: null,
      min_ram: 64, min_disk: 0, protected: false, tags: ['a', 'b'], purpose: 'test', self: `/v2/images/${image.id}`,
    });
    expect(image.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await alice.get(`/images/${image.id}`)).body).toEqual(image);

    const changed = await patch(admin, image.id, [
      { op: 'replace', path: '/name', value: 'renamed' },
      { op: 'add', path: '/min_disk', value: 2 },
      { op: 'replace', path: '/tags', value: ['c'] },
      { op: 'add', path: '/os_distro', value: 'cirros' },
      { op: 'replace', path: '/purpose', value: 'changed' },
      { op: 'remove', path: '/purpose' },
    ]);
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ name: 'renamed', min_disk: 2, tags: ['c'], os_distro: 'cirros', min_ram: 64 });
    expect(changed.body).not.toHaveProperty('purpose');
    expect((await admin.get(`/images/${image.id}`)).body).toEqual(changed.body);

    const removed = await admin.delete(`/images/${image.id}`);
    expect([removed.status, removed.body]).toEqual([204, undefined]);
    expect((await admin.get(`/images/${image.id}`)).body).toEqual(glanceError(404, 'Not Found', `No image found with ID ${image.id}`));
    expect((await admin.delete(`/images/${image.id}`)).body).toEqual(glanceError(404, 'Not Found', `Failed to find image ${image.id} to delete`));
    // Glance never gives a deleted image's id again.
    expect((await admin.post('/images', { id: image.id })).body).toEqual(glanceError(409, 'Conflict', `Image ID ${image.id} already exists!`));
  });

  it('a member creates its own project\'s images, private by default shared, and changes and deletes them', async () => {
    const image = await made(alice, { name: 'alice-own' });
    expect(image).toMatchObject({ owner: 'proj-a', visibility: 'shared', status: 'queued' });
    expect((await patch(alice, image.id, [{ op: 'replace', path: '/visibility', value: 'community' }])).body.visibility).toBe('community');
    expect((await alice.delete(`/images/${image.id}`)).status).toBe(204);
  });

  it('a member is refused what Glance\'s defaults keep from it, with Glance\'s 403, and nothing is written', async () => {
    const own = await made(alice, { name: 'alice-refusals' });
    const before = await tableItems();
    const refusals: [Promise<{ status: number; body: unknown }>, string][] = [
      [patch(alice, IMAGE, [{ op: 'replace', path: '/name', value: 'mine' }]), 'You are not authorized to complete modify_image action.'],
      [alice.delete(`/images/${IMAGE}`), 'You are not authorized to complete delete_image action.'],
      [alice.post('/images', { name: 'x', visibility: 'public' }), 'You are not authorized to complete publicize_image action.'],
      [alice.post('/images', { name: 'x', owner: 'proj-b' }), 'You are not permitted to create images owned by \'proj-b\''],
      [patch(alice, own.id, [{ op: 'replace', path: '/visibility', value: 'public' }]), 'You are not authorized to complete publicize_image action.'],
      [patch(alice, own.id, [{ op: 'replace', path: '/owner', value: 'proj-b' }]), 'Owner can\'t be updated by non admin.'],
      [patch(alice, own.id, [{ op: 'replace', path: '/status', value: 'active' }]), 'Attribute \'status\' is read-only.'],
      [patch(alice, own.id, [{ op: 'add', path: '/os_glance_x', value: 'v' }]), 'Attribute \'os_glance_x\' is reserved.'],
      [patch(alice, own.id, [{ op: 'remove', path: '/name' }]), 'Property name may not be removed.'],
      [alice.post('/images', { name: 'x', size: 5 }), 'Attribute \'size\' is read-only.'],
      [alice.post('/images', { name: 'x', self: '/v2/images/x' }), 'Attribute \'self\' is read-only.'],
    ];
    for (const [sent, message] of refusals) {
      const res = await sent;
      expect([message, res.status, res.body]).toEqual([message, 403, glanceError(403, 'Forbidden', message)]);
    }
    expect(await tableItems()).toEqual(before);
  });

  it('another project\'s private (or shared) image does not exist for a member: 404 on every route, absent from lists', async () => {
    const secret = await made(alice, { name: 'secret-of-a', visibility: 'private' });
    const notFound = glanceError(404, 'Not Found', `No image found with ID ${secret.id}`);
    expect((await bob.get(`/images/${secret.id}`)).body).toEqual(notFound);
    expect((await patch(bob, secret.id, [{ op: 'replace', path: '/name', value: 'x' }])).body).toEqual(notFound);
    expect((await bob.delete(`/images/${secret.id}`)).body).toEqual(glanceError(404, 'Not Found', `Failed to find image ${secret.id} to delete`));
    const listed = await bob.get('/images?limit=1000');
    expect(listed.body.images.map((i: { id: string }) => i.id)).not.toContain(secret.id);
    expect((await admin.get(`/images/${secret.id}`)).body.name).toBe('secret-of-a');
  });

  it('a protected image is not deleted (403) until it is unprotected', async () => {
    const image = await made(admin, { name: 'keep-me', protected: true });
    const before = await tableItems();
    const refused = await admin.delete(`/images/${image.id}`);
    expect([refused.status, refused.body]).toEqual([403, glanceError(403, 'Forbidden', `Image ${image.id} is protected and cannot be deleted.`)]);
    expect(await tableItems()).toEqual(before);
    expect((await patch(admin, image.id, [{ op: 'replace', path: '/protected', value: false }])).status).toBe(200);
    expect((await admin.delete(`/images/${image.id}`)).status).toBe(204);
  });

  it('tags go in and out one at a time', async () => {
    const image = await made(alice, { name: 'tagged' });
    expect((await alice.request('PUT', `/images/${image.id}/tags/blue`)).status).toBe(204);
    expect((await alice.get(`/images/${image.id}`)).body.tags).toEqual(['blue']);
    expect((await alice.delete(`/images/${image.id}/tags/blue`)).status).toBe(204);
    expect((await alice.delete(`/images/${image.id}/tags/blue`)).status).toBe(404);
    expect((await bob.request('PUT', `/images/${IMAGE}/tags/x`)).body).toEqual(glanceError(403, 'Forbidden', `Not allowed to update tags for image ${IMAGE}.`));
  });

  it('image data is not kept: upload and download answer 501, an image without data 204', async () => {
    const image = await made(alice, { name: 'no-data' });
    expect((await alice.request('PUT', `/images/${image.id}/file`, 'bytes', { 'content-type': 'application/octet-stream' })).body)
      .toEqual(glanceError(501, 'Not Implemented', 'taskgate keeps no image data: image upload is not implemented.'));
    expect((await alice.get(`/images/${image.id}/file`)).status).toBe(204);
    expect((await alice.get(`/images/${IMAGE}/file`)).status).toBe(501);
  });

  it('the schemas clients read are served', async () => {
    const image = await alice.get('/schemas/image');
    expect(image.status).toBe(200);
    expect(image.body).toMatchObject({ name: 'image', additionalProperties: { type: 'string' } });
    expect(image.body.properties.visibility.enum).toEqual(['community', 'public', 'private', 'shared']);
    expect((await alice.get('/schemas/images')).body.properties.images.items.name).toBe('image');
  });
});

describe('two changes of one image', () => {
  it('a change whose image was written after it read it is redone on what won: neither is lost', async () => {
    const image = await made(alice, { name: 'contended' });
    let runs = 0;
    const changed = await changeImage(api.table, image.id, async (current) => {
      runs++;
      // Another request changes the image between this one's read and its write.
      if (runs === 1) expect((await patch(alice, image.id, [{ op: 'add', path: '/first', value: '1' }])).status).toBe(200);
      return { ...current!, properties: { ...current!.properties, second: '2' } };
    });
    expect(runs).toBe(2);
    expect(changed.properties).toEqual({ first: '1', second: '2' });
    expect((await alice.get(`/images/${image.id}`)).body).toMatchObject({ first: '1', second: '2' });
  });

  it('six patches at once each land (each loser redoes its change), and a built-in image\'s first change is made once', async () => {
    const image = await made(alice, { name: 'many-writers' });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    const answers = await Promise.all(keys.map((k) => patch(alice, image.id, [{ op: 'add', path: `/${k}`, value: k }])));
    expect(answers.map((a) => a.status)).toEqual(keys.map(() => 200));
    expect((await alice.get(`/images/${image.id}`)).body).toMatchObject(Object.fromEntries(keys.map((k) => [k, k])));
    const tagged = await Promise.all(keys.map((k) => admin.request('PUT', `/images/${IMAGE2}/tags/${k}`)));
    expect(tagged.map((a) => a.status)).toEqual(keys.map(() => 204));
    expect([...(await admin.get(`/images/${IMAGE2}`)).body.tags].sort()).toEqual(keys);
    await Promise.all(keys.map((k) => admin.delete(`/images/${IMAGE2}/tags/${k}`)));
  });
});

describe('bad input is Glance\'s 400 (or 409, 413, 415) in its body, and writes nothing', () => {
  it('for create, patch and list', async () => {
    const own = await made(alice, { name: 'target' });
    const before = await tableItems();
    const cases: [string, Promise<{ status: number; body: any }>, number, string][] = [
      ['bad visibility', alice.post('/images', { visibility: 'everyone' }), 400,
        'Provided object does not match schema \'image\': \'everyone\' is not one of [\'community\', \'public\', \'private\', \'shared\']'],
      ['name too long', alice.post('/images', { name: 'n'.repeat(256) }), 400,
        `Provided object does not match schema 'image': '${'n'.repeat(63)}... is too long`],
      ['min_ram a string', alice.post('/images', { min_ram: '5' }), 400, 'Provided object does not match schema \'image\': \'5\' is not of type \'integer\''],
      ['negative min_disk', alice.post('/images', { min_disk: -1 }), 400, 'Invalid value \'-1\' for parameter \'min_disk\': Cannot be a negative value'],
      ['custom property not a string', alice.post('/images', { flavour: 5 }), 400, 'Provided object does not match schema \'image\': 5 is not of type \'string\''],
      ['bad id', alice.post('/images', { id: 'abc' }), 400, expect.stringContaining('\'abc\' does not match') as unknown as string],
      ['body not an object', alice.post('/images', [1]), 400, 'Provided object does not match schema \'image\': [1] is not of type \'object\''],
      ['too many tags', alice.post('/images', { tags: Array.from({ length: 129 }, (_, i) => `t${i}`) }), 413,
        'The limit has been exceeded on the number of allowed image tags. Attempted: 129, Maximum: 128'],
      ['taken id', alice.post('/images', { id: IMAGE }), 409, `Image ID ${IMAGE} already exists!`],
      ['patch not a list', patch(alice, own.id, { op: 'replace' }), 400, 'Request body must be a JSON array of operation objects.'],
      ['patch bad op', patch(alice, own.id, [{ op: 'move', path: '/name' }]), 400,
        'Invalid operation: `move`. It must be one of the following: add, remove, replace.'],
      ['patch without value', patch(alice, own.id, [{ op: 'add', path: '/name' }]), 400, 'Operation "add" requires a member named "value".'],
      ['patch bad pointer', patch(alice, own.id, [{ op: 'add', path: 'name', value: 'x' }]), 400, 'Pointer `name` does not start with "/".'],
      ['patch deep pointer', patch(alice, own.id, [{ op: 'add', path: '/tags/0', value: 'x' }]), 400, 'Invalid JSON pointer for this resource: \'/tags/0\''],
      ['patch bad value', patch(alice, own.id, [{ op: 'replace', path: '/min_ram', value: 'lots' }]), 400,
        'Provided object does not match schema \'image\': \'lots\' is not of type \'integer\''],
      ['patch of a missing property', patch(alice, own.id, [{ op: 'replace', path: '/nothing', value: 'x' }]), 409, 'Property nothing does not exist.'],
      ['second op refused', patch(alice, own.id, [{ op: 'replace', path: '/name', value: 'ok' }, { op: 'remove', path: '/nothing' }]), 409,
        'Property nothing does not exist.'],
      ['patch as JSON', alice.request('PATCH', `/images/${own.id}`, [{ op: 'replace', path: '/name', value: 'x' }]), 415,
        'Image PATCH expects Content-Type one of: application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch'],
      ['bad limit', alice.get('/images?limit=x'), 400, 'limit param must be an integer'],
      ['negative limit', alice.get('/images?limit=-1'), 400, 'limit param must be positive'],
      ['bad sort key', alice.get('/images?sort_key=owner'), 400,
        'Invalid sort key: owner. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at.'],
      ['bad sort dir', alice.get('/images?sort=name:up'), 400, 'Invalid sort direction: up'],
      ['both sort syntaxes', alice.get('/images?sort=name&sort_key=id'), 400, 'Old and new sorting syntax cannot be combined'],
      ['bad visibility filter', alice.get('/images?visibility=everyone'), 400, 'Invalid visibility value: everyone'],
      ['bad member_status', alice.get('/images?member_status=maybe'), 400, 'Invalid status: maybe'],
      ['unknown marker', alice.get(`/images?marker=${IMAGE.replace(/^7/, '8')}`), 400, `No image found with ID ${IMAGE.replace(/^7/, '8')}`],
      ['bad filter operator', alice.get('/images?name=like:x'), 400, 'Unable to filter by unknown operator \'like\'.'],
      ['malformed JSON', alice.request('POST', '/images', '{"name": '), 400, expect.any(String) as unknown as string],
    ];
    const titles: Record<number, string> = { 400: 'Bad Request', 409: 'Conflict', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type' };
    for (const [what, sent, status, message] of cases) {
      const res = await sent;
      expect([what, res.status, res.body]).toEqual([what, status, glanceError(status, titles[status]!, message)]);
    }
    expect(await tableItems()).toEqual(before);
  });
});

describe('listing', () => {
  let ids: Record<string, string>;

  beforeAll(async () => {
    // Apart from the other tests' images: every filter here is narrowed to this set by a tag.
    const spec: [Nova, string, Record<string, unknown>][] = [
      [alice, 'l-alpha', { visibility: 'private', disk_format: 'raw', tags: ['list', 'red'] }],
      [alice, 'l-bravo', { visibility: 'shared', disk_format: 'qcow2', tags: ['list'] }],
      [alice, 'l-charlie', { visibility: 'community', disk_format: 'iso', tags: ['list', 'red'] }],
      [bob, 'l-delta', { visibility: 'community', disk_format: 'raw', tags: ['list'] }],
      [bob, 'l-echo', { visibility: 'private', tags: ['list'] }],
      [admin, 'l-foxtrot', { visibility: 'public', protected: true, tags: ['list', 'red'] }],
      [alice, 'l-golf', { os_hidden: true, tags: ['list'] }],
    ];
    ids = {};
    for (const [as, name, extra] of spec) ids[name] = (await made(as, { name, ...extra })).id;
  });

  const names = (res: { body: { images: { name: string }[] } }) => res.body.images.map((i) => i.name);
  const listAs = async (as: Nova, query: string) => {
    const res = await as.get(`/images?tag=list&${query}`);
    expect(res.status).toBe(200);
    return res;
  };

  it('shows a member its project\'s images, public ones, and community ones only when asked for', async () => {
    expect(names(await listAs(alice, 'sort=name:asc'))).toEqual(['l-alpha', 'l-bravo', 'l-charlie', 'l-foxtrot']);
    expect(names(await listAs(alice, 'sort=name:asc&visibility=community'))).toEqual(['l-charlie', 'l-delta']);
    expect(names(await listAs(alice, 'sort=name:asc&visibility=all'))).toEqual(['l-alpha', 'l-bravo', 'l-charlie', 'l-delta', 'l-foxtrot']);
    expect(names(await listAs(bob, 'sort=name:asc'))).toEqual(['l-delta', 'l-echo', 'l-foxtrot']);
    expect(names(await listAs(admin, 'sort=name:asc'))).toEqual(['l-alpha', 'l-bravo', 'l-echo', 'l-foxtrot']);
    expect(names(await listAs(alice, 'os_hidden=true'))).toEqual(['l-golf']);
  });

  it('filters by name, status, visibility, owner, tag, disk format, protected and member status', async () => {
    expect(names(await listAs(alice, 'name=l-bravo'))).toEqual(['l-bravo']);
    expect(names(await listAs(alice, 'name=in:l-alpha,l-charlie&sort=name:asc'))).toEqual(['l-alpha', 'l-charlie']);
    expect(names(await listAs(alice, 'status=active'))).toEqual([]);
    expect(names(await listAs(alice, 'status=queued&sort=name:asc'))).toEqual(['l-alpha', 'l-bravo', 'l-charlie', 'l-foxtrot']);
    expect(names(await listAs(alice, 'visibility=private'))).toEqual(['l-alpha']);
    expect(names(await listAs(alice, 'visibility=shared'))).toEqual(['l-bravo']);
    expect(names(await listAs(admin, 'owner=proj-b&visibility=all&sort=name:asc'))).toEqual(['l-delta', 'l-echo']);
    expect(names(await listAs(alice, 'tag=red&sort=name:asc'))).toEqual(['l-alpha', 'l-charlie', 'l-foxtrot']);
    expect(names(await listAs(alice, 'disk_format=raw'))).toEqual(['l-alpha']);
    expect(names(await listAs(alice, 'protected=true'))).toEqual(['l-foxtrot']);
    expect(names(await listAs(alice, 'member_status=all&sort=name:asc&limit=2'))).toEqual(['l-alpha', 'l-bravo']);
    const seeded = await alice.get('/images?status=active&sort=name:asc');
    expect(names(seeded)).toEqual(['cirros', 'cirros-alt']);
    expect(seeded.body.images.map((i: { id: string }) => i.id)).toEqual([IMAGE, IMAGE2]);
  });

  it('sorts by sort_key and sort_dir, or sort=key:dir, newest first by default', async () => {
    expect(names(await listAs(alice, 'sort_key=name&sort_dir=desc'))).toEqual(['l-foxtrot', 'l-charlie', 'l-bravo', 'l-alpha']);
    expect(names(await listAs(alice, 'sort=disk_format:asc,name:desc'))).toEqual(['l-foxtrot', 'l-charlie', 'l-bravo', 'l-alpha']);
    const byDefault = (await listAs(alice, '')).body.images as { created_at: string; id: string }[];
    // Newest first; within one second (created_at shows seconds) in the order they were made, as
    // Glance's database keeps the time finer than it shows it.
    const sorted = [...byDefault].sort((a, b) => b.created_at.localeCompare(a.created_at));
    expect(byDefault.map((i) => i.created_at)).toEqual(sorted.map((i) => i.created_at));
  });

  it('pages with limit and marker, and a next link while a page is full', async () => {
    const first = await listAs(alice, 'sort=name:asc&limit=3');
    expect(names(first)).toEqual(['l-alpha', 'l-bravo', 'l-charlie']);
    expect(first.body.first).toBe('/v2/images?tag=list&sort=name%3Aasc&limit=3');
    expect(first.body.next).toBe(`/v2/images?tag=list&sort=name%3Aasc&limit=3&marker=${ids['l-charlie']}`);
    expect(first.body.schema).toBe('/v2/schemas/images');
    // A client joins the relative link to the image endpoint, as openstacksdk does.
    const second = await alice.get(first.body.next.replace(/^\/v2/, ''));
    expect(names(second)).toEqual(['l-foxtrot']);
    expect(second.body).not.toHaveProperty('next');
    const full = await listAs(alice, `sort=name:asc&limit=1&marker=${ids['l-charlie']}`);
    expect(names(full)).toEqual(['l-foxtrot']);
    expect(full.body.next).toContain(`marker=${ids['l-foxtrot']}`);
    expect(names(await alice.get(full.body.next.replace(/^\/v2/, '')))).toEqual([]);
    expect(names(await listAs(alice, 'limit=0'))).toEqual([]);
    // Another project's private image is no marker for a member.
    expect((await alice.get(`/images?marker=${ids['l-echo']}`)).status).toBe(403);
  });
});

describe('Nova\'s side', () => {
  const nova = () => api.nova;

  it('server create with an image the caller cannot boot is Nova\'s 400, and creates nothing', async () => {
    const queued = await made(new Nova(`${root}/image/v2`, 'alice:demo'), { name: 'not-yet' });
    const privateElsewhere = await made(bob, { name: 'bobs', visibility: 'private' });
    const before = await tableItems();
    const create = (imageRef: string, flavorRef = '1') => nova().post('/servers', { server: { name: 'vm', flavorRef, imageRef } });
    for (const [imageRef, message] of [
      [crypto.randomUUID(), 'Can not find requested image'],
      [privateElsewhere.id, 'Can not find requested image'],
      [queued.id, `Image ${queued.id} is not active.`],
    ] as const) {
      const res = await create(imageRef);
      expect([imageRef, res.status, res.body]).toEqual([imageRef, 400, { badRequest: { code: 400, message } }]);
    }
    expect(await tableItems()).toEqual(before);
    expect((await nova().get('/servers')).body.servers).toEqual([]);
    // Nova finds the flavor before the image.
    expect((await create(crypto.randomUUID(), '42')).body.badRequest.message).toBe('Flavor 42 could not be found.');
  });

  it('an image the flavor is too small for is Nova\'s 400 (memory, then disk)', async () => {
    const before = await tableItems();
    expect((await patch(admin, IMAGE2, [{ op: 'replace', path: '/min_ram', value: 4096 }])).status).toBe(200);
    const create = (flavorRef: string) => nova().post('/servers', { server: { name: 'vm', flavorRef, imageRef: IMAGE2 } });
    expect((await create('1')).body).toEqual({ badRequest: { code: 400, message: 'Flavor\'s memory is too small for requested image.' } });
    expect((await patch(admin, IMAGE2, [{ op: 'replace', path: '/min_ram', value: 0 }, { op: 'replace', path: '/min_disk', value: 30 }])).status).toBe(200);
    expect((await create('2')).body).toEqual({ badRequest: { code: 400, message: 'Flavor\'s disk is smaller than the minimum size specified in image metadata. '
      + `Flavor disk is ${20 * 1024 ** 3} bytes, minimum size is ${30 * 1024 ** 3} bytes.` } });
    expect((await patch(admin, IMAGE2, [{ op: 'replace', path: '/min_disk', value: 0 }])).status).toBe(200);
    const servers = (await nova().get('/servers')).body.servers;
    expect(servers).toEqual([]);
    expect((await tableItems()).filter((i: any) => i.pk !== 'IMAGES')).toEqual(before.filter((i: any) => i.pk !== 'IMAGES'));
  });

  it('rebuild with an image the caller cannot boot is Nova\'s 400 and changes nothing; an unknown server is 404 first', async () => {
    const server = await seedInstance(api.table, { projectId: 'demo', userId: 'alice', imageId: IMAGE });
    const queued = await made(new Nova(`${root}/image/v2`, 'alice:demo'), { name: 'rebuild-not-yet' });
    const before = await tableItems();
    const unknown = crypto.randomUUID();
    expect((await nova().action(server.id, { rebuild: { imageRef: unknown } })).body)
      .toEqual({ badRequest: { code: 400, message: 'Cannot find image for rebuild' } });
    expect((await nova().action(server.id, { rebuild: { imageRef: queued.id } })).body)
      .toEqual({ badRequest: { code: 400, message: `Image ${queued.id} is not active.` } });
    expect((await nova().action(crypto.randomUUID(), { rebuild: { imageRef: unknown } })).status).toBe(404);
    expect(await tableItems()).toEqual(before);
    expect((await nova().action(server.id, { rebuild: { imageRef: IMAGE2 } })).status).toBe(202);
  });

  it('the image proxy shows images in Nova\'s shape up to 2.35 and is 404 from 2.36', async () => {
    const list = await nova().get('/images');
    expect(list.status).toBe(200);
    expect(list.body.images).toContainEqual({
      id: IMAGE, name: 'cirros', links: [
        { rel: 'self', href: `${root}/v2.1/images/${IMAGE}` },
        { rel: 'bookmark', href: `${root}/images/${IMAGE}` },
        { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${root}/image/images/${IMAGE}` },
      ],
    });
    const detail = await nova().get('/images/detail?name=cirros');
    expect(detail.body.images).toEqual([expect.objectContaining({
      id: IMAGE, name: 'cirros', status: 'ACTIVE', progress: 100, minDisk: 0, minRam: 0, metadata: {},
      'OS-EXT-IMG-SIZE:size': expect.any(Number), created: expect.any(String), updated: expect.any(String),
    })]);
    const shown = await nova().atVersion('2.35').get(`/images/${IMAGE}`);
    expect(shown.body.image).toEqual(detail.body.images[0]);
    expect((await nova().get(`/images/${crypto.randomUUID()}`)).body).toEqual({ itemNotFound: { code: 404, message: 'Image not found.' } });
    const paged = await nova().get('/images?limit=1');
    expect(paged.body.images_links[0].href).toContain(`marker=${paged.body.images[0].id}`);
    for (const path of ['/images', '/images/detail', `/images/${IMAGE}`]) {
      const res = await nova().atVersion('2.36').get(path);
      expect([path, res.status, res.body]).toEqual([path, 404, { itemNotFound: { code: 404, message: 'The resource could not be found.' } }]);
    }
    expect((await nova().delete(`/images/${IMAGE}`)).body).toEqual({ forbidden: { code: 403, message: 'You are not allowed to delete the image.' } });
  });

  it('image metadata through Nova, up to 2.38', async () => {
    const own = new Nova(api.nova.baseUrl, 'carol:proj-c');
    const image = await made(new Nova(`${root}/image/v2`, 'carol:proj-c'), { name: 'with-metadata' });
    expect((await own.post(`/images/${image.id}/metadata`, { metadata: { a: '1', b: '2' } })).body).toEqual({ metadata: { a: '1', b: '2' } });
    expect((await own.request('PUT', `/images/${image.id}/metadata/a`, { meta: { a: '3' } })).body).toEqual({ meta: { a: '3' } });
    expect((await own.delete(`/images/${image.id}/metadata/b`)).status).toBe(204);
    expect((await own.atVersion('2.38').get(`/images/${image.id}/metadata`)).body).toEqual({ metadata: { a: '3' } });
    expect((await own.atVersion('2.39').get(`/images/${image.id}/metadata`)).status).toBe(404);
    expect((await own.delete(`/images/${image.id}/metadata/zzz`)).body).toEqual({ itemNotFound: { code: 404, message: 'Invalid metadata key' } });
    expect((await api.nova.post(`/images/${IMAGE}/metadata`, { metadata: { a: '1' } })).body)
      .toEqual({ forbidden: { code: 403, message: `Not authorized for image ${IMAGE}.` } });
  });
});

describe('image tasks (Glance 2.12)', () => {
  it('an image the caller sees has none (taskgate runs no imports); another project\'s private image is 404', async () => {
    const image = await made(alice, { name: 'tasks', visibility: 'private' });
    expect(await alice.get(`/images/${image.id}/tasks`)).toMatchObject({ status: 200, body: { tasks: [] } });
    expect((await bob.get(`/images/${image.id}/tasks`)).status).toBe(404);
  });
});
