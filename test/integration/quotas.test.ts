import { readCharges } from '../../functions/core/placement/quotas/charges.js';
import { giveBackServer, readUsage } from '../../functions/core/placement/quotas/usage.js';
import { serverIdFor } from '../../functions/core/compute/admission.js';
import { CapturingQueue, startApiOnly, type ApiOnly } from '../support/emulators.js';
import { IMAGE, Nova } from '../support/nova.js';

// Nova's quota sets, quota classes and limits, as each microversion shows them; updates and
// deletes by admins only; the usage admission charges, shown by limits and the detail view; a
// create charged but not admitted (its message could not be queued) gives its charge back.

let api: ApiOnly;
let queue: CapturingQueue;
let admin: Nova;
beforeAll(async () => {
  queue = new CapturingQueue();
  api = await startApiOnly(queue);
  admin = api.nova.as('admin:admin');
});
afterAll(() => api.stop());

const DEFAULTS = {
  instances: 10, cores: 20, ram: 51200, metadata_items: 128, key_pairs: 100, server_groups: 10, server_group_members: 10,
  injected_files: 5, injected_file_content_bytes: 10240, injected_file_path_bytes: 255,
  fixed_ips: -1, floating_ips: -1, security_groups: -1, security_group_rules: -1,
};
const NETWORK = ['fixed_ips', 'floating_ips', 'security_groups', 'security_group_rules'];
const INJECTED = ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];
const without = (names: string[]) => Object.fromEntries(Object.entries(DEFAULTS).filter(([k]) => !names.includes(k)));

it('shows the defaults, and each microversion drops what Nova drops (2.36 nova-network, 2.57 injected files)', async () => {
  const p = 'q-show';
  const nova = api.nova.as(`u:${p}`);
  expect((await nova.get(`/os-quota-sets/${p}`)).body.quota_set).toEqual({ id: p, ...DEFAULTS });
  expect((await nova.atVersion('2.36').get(`/os-quota-sets/${p}`)).body.quota_set).toEqual({ id: p, ...without(NETWORK) });
  expect((await nova.atVersion('2.57').get(`/os-quota-sets/${p}/defaults`)).body.quota_set).toEqual({ id: p, ...without([...NETWORK, ...INJECTED]) });
  const detail = (await nova.atVersion('2.57').get(`/os-quota-sets/${p}/detail`)).body.quota_set;
  expect(detail.instances).toEqual({ in_use: 0, limit: 10, reserved: 0 });
  expect(detail.floating_ips).toBeUndefined();
});

it('a member reads its own project\'s quotas only, and cannot change or delete them (403, nothing written)', async () => {
  const p = 'q-member';
  const nova = api.nova.as(`u:${p}`);
  const other = await nova.get('/os-quota-sets/somebody-else');
  expect([other.status, other.body.forbidden?.message]).toEqual([403, "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."]);
  const put = await nova.request('PUT', `/os-quota-sets/${p}`, { quota_set: { instances: 50 } });
  expect([put.status, put.body.forbidden?.message]).toEqual([403, "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed."]);
  const del = await nova.delete(`/os-quota-sets/${p}`);
  expect([del.status, del.body.forbidden?.message]).toEqual([403, "Policy doesn't allow os_compute_api:os-quota-sets:delete to be performed."]);
  const cls = await nova.request('PUT', '/os-quota-class-sets/default', { quota_class_set: { instances: 50 } });
  expect([cls.status, cls.body.forbidden?.message]).toEqual([403, "Policy doesn't allow os_compute_api:os-quota-class-sets:update to be performed."]);
  expect((await nova.get(`/os-quota-sets/${p}`)).body.quota_set.instances).toBe(10);
  expect((await admin.get('/os-quota-class-sets/default')).body.quota_class_set.instances).toBe(10);
});

it('an admin updates a project\'s quotas, refuses bad values (400), and a delete goes back to the defaults', async () => {
  const p = 'q-admin';
  const put = await admin.request('PUT', `/os-quota-sets/${p}`, { quota_set: { instances: 3, cores: '7', ram: -1 } });
  expect(put.status).toBe(200);
  expect(put.body.quota_set).toEqual({ ...DEFAULTS, instances: 3, cores: 7, ram: -1 });
  for (const bad of [{ instances: -2 }, { instances: 'x' }, { nope: 1 }, { instances: 1.5 }]) {
    expect((await admin.request('PUT', `/os-quota-sets/${p}`, { quota_set: bad })).status).toBe(400);
  }
  // A resource gone at 2.36 is refused there.
  expect((await admin.atVersion('2.36').request('PUT', `/os-quota-sets/${p}`, { quota_set: { floating_ips: 1 } })).status).toBe(400);
  expect((await admin.get(`/os-quota-sets/${p}`)).body.quota_set).toMatchObject({ instances: 3, cores: 7, ram: -1 });
  expect((await admin.delete(`/os-quota-sets/${p}`)).status).toBe(202);
  expect((await admin.get(`/os-quota-sets/${p}`)).body.quota_set).toEqual({ id: p, ...DEFAULTS });
});

it('a quota class: admin only; `default` changes every project\'s defaults; server groups shown from 2.50', async () => {
  expect((await api.nova.get('/os-quota-class-sets/default')).status).toBe(403);
  const before = (await admin.get('/os-quota-class-sets/default')).body.quota_class_set;
  expect(before).toEqual({ id: 'default', ...without(['server_groups', 'server_group_members']) });
  expect((await admin.atVersion('2.50').get('/os-quota-class-sets/default')).body.quota_class_set).toEqual({ id: 'default', ...without(NETWORK) });
  const put = await admin.request('PUT', '/os-quota-class-sets/default', { quota_class_set: { key_pairs: 77 } });
  expect([put.status, put.body.quota_class_set.key_pairs, put.body.quota_class_set.id]).toEqual([200, 77, undefined]);
  expect((await api.nova.as('u:q-class').get('/os-quota-sets/q-class')).body.quota_set.key_pairs).toBe(77);
  expect((await admin.request('PUT', '/os-quota-class-sets/default', { quota_class_set: { key_pairs: 100 } })).status).toBe(200);
});

it('limits: absolute limits and usage, as 2.1, 2.36, 2.39 and 2.57 show them; another project\'s for admins only', async () => {
  const p = 'q-limits';
  const nova = api.nova.as(`u:${p}`);
  const v21 = (await nova.get('/limits')).body.limits;
  expect(v21.rate).toEqual([]);
  expect(v21.absolute).toEqual({
    maxTotalInstances: 10, maxTotalCores: 20, maxTotalRAMSize: 51200, maxServerMeta: 128, maxImageMeta: 128, maxPersonality: 5,
    maxPersonalitySize: 10240, maxTotalKeypairs: 100, maxServerGroups: 10, maxServerGroupMembers: 10, maxTotalFloatingIps: -1,
    maxSecurityGroups: -1, maxSecurityGroupRules: -1, totalInstancesUsed: 0, totalCoresUsed: 0, totalRAMUsed: 0,
    totalFloatingIpsUsed: 0, totalSecurityGroupsUsed: 0, totalServerGroupsUsed: 0,
  });
  const v236 = (await nova.atVersion('2.36').get('/limits')).body.limits.absolute;
  expect(Object.keys(v236)).not.toEqual(expect.arrayContaining(['maxTotalFloatingIps']));
  expect(v236.maxImageMeta).toBe(128);
  expect((await nova.atVersion('2.39').get('/limits')).body.limits.absolute.maxImageMeta).toBeUndefined();
  const v257 = (await nova.atVersion('2.57').get('/limits')).body.limits.absolute;
  expect([v257.maxPersonality, v257.maxPersonalitySize, v257.maxTotalInstances]).toEqual([undefined, undefined, 10]);

  await nova.createServer('l', '3');
  expect((await nova.get('/limits')).body.limits.absolute).toMatchObject({ totalInstancesUsed: 1, totalCoresUsed: 2, totalRAMUsed: 4096 });
  expect((await nova.get(`/os-quota-sets/${p}/detail`)).body.quota_set.cores).toEqual({ in_use: 2, limit: 20, reserved: 0 });
  expect((await nova.get('/limits?tenant_id=other')).status).toBe(403);
  expect((await admin.get(`/limits?tenant_id=${p}`)).body.limits.absolute.totalInstancesUsed).toBe(1);
  // Below what is used: Nova's 400, unless forced.
  const low = await admin.request('PUT', `/os-quota-sets/${p}`, { quota_set: { cores: 1 } });
  expect([low.status, low.body.badRequest?.message]).toEqual([400, 'Quota limit 1 for cores must be greater than or equal to already used and reserved 2.']);
  expect((await admin.request('PUT', `/os-quota-sets/${p}`, { quota_set: { cores: 1, force: true } })).status).toBe(200);
});

it('refuses a create over quota with Nova\'s 403 (each resource named), charging nothing', async () => {
  const p = 'q-over';
  const nova = api.nova.as(`u:${p}`);
  await admin.request('PUT', `/os-quota-sets/${p}`, { quota_set: { instances: 2, cores: 3 } });
  await nova.createServer('a', '3'); // 2 cores
  const cores = await nova.post('/servers', { server: { name: 'b', flavorRef: '3', imageRef: IMAGE } });
  expect([cores.status, cores.body.forbidden?.message]).toEqual([403, 'Quota exceeded for cores: Requested 2, but already used 2 of 3 cores']);
  await nova.createServer('c', '1');
  const instances = await nova.post('/servers', { server: { name: 'd', flavorRef: '1', imageRef: IMAGE } });
  expect([instances.status, instances.body.forbidden?.message]).toEqual([403, 'Quota exceeded for cores, instances: Requested 1, 1, but already used 3, 2 of 3, 2 cores, instances']);
  const usage = await readUsage(api.table, p);
  expect([usage.instances, usage.cores, (await readCharges(api.table, p)).size]).toEqual([2, 3, 2]);
});

it('multiple create: max_count if it fits, else as many as fit down to min_count, else 403', async () => {
  const p = 'q-multi';
  const nova = api.nova.as(`u:${p}`);
  await admin.request('PUT', `/os-quota-sets/${p}`, { quota_set: { instances: 5 } });
  const three = await nova.post('/servers', { server: { name: 'm', flavorRef: '1', imageRef: IMAGE, min_count: 1, max_count: 3, return_reservation_id: true } });
  expect(three.status).toBe(202);
  expect((await readUsage(api.table, p)).instances).toBe(3);
  // 2 left: 2..4 asked, 2 made.
  const some = await nova.post('/servers', { server: { name: 'n', flavorRef: '1', imageRef: IMAGE, min_count: 2, max_count: 4, return_reservation_id: true } });
  expect(some.status).toBe(202);
  expect((await readUsage(api.table, p)).instances).toBe(5);
  const none = await nova.post('/servers', { server: { name: 'o', flavorRef: '1', imageRef: IMAGE, min_count: 1, max_count: 2 } });
  expect([none.status, none.body.forbidden?.message]).toEqual([403, 'Quota exceeded for instances: Requested 1-2, but already used 5 of 5 instances']);
  expect((await nova.get('/servers')).body.servers).toHaveLength(5);
});

it('a create charged but not queued gives its charge back, exactly once', async () => {
  const p = 'q-unqueued';
  const nova = api.nova.as(`u:${p}`);
  queue.failNext = true;
  const res = await nova.post('/servers', { server: { name: 'x', flavorRef: '2', imageRef: IMAGE } });
  expect(res.status).toBe(503);
  const usage = await readUsage(api.table, p);
  expect([usage.instances, usage.cores, usage.ram, (await readCharges(api.table, p)).size]).toEqual([0, 0, 0, 0]);
});

it('a create retried as the same request (same server id) is charged once', async () => {
  const p = 'q-retry';
  const nova = api.nova.as(`u:${p}`);
  const key = crypto.randomUUID();
  const first = await nova.request('POST', '/servers', { server: { name: 'r', flavorRef: '1', imageRef: IMAGE } }, { 'Idempotency-Key': key });
  const again = await nova.request('POST', '/servers', { server: { name: 'r', flavorRef: '1', imageRef: IMAGE } }, { 'Idempotency-Key': key });
  expect([first.status, again.status, again.body.server.id]).toEqual([202, 202, first.body.server.id]);
  const usage = await readUsage(api.table, p);
  expect([usage.instances, [...(await readCharges(api.table, p)).keys()]]).toEqual([1, [first.body.server.id]]);
  expect(serverIdFor).toBeDefined();

  // A give-back done twice (a redelivered delete, two settlers at once) gives back once.
  const id = first.body.server.id;
  expect(await Promise.all([giveBackServer(api.table, p, id), giveBackServer(api.table, p, id)])).toEqual(expect.arrayContaining([true, false]));
  expect(await giveBackServer(api.table, p, id)).toBe(false);
  const after = await readUsage(api.table, p);
  expect([after.instances, after.cores, after.ram, (await readCharges(api.table, p)).size]).toEqual([0, 0, 0, 0]);
});
