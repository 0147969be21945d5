import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { alice, CapturingQueue, seedInstance, startApiOnly, uuid, type ApiOnly } from '../support/emulators.js';
import { IMAGE } from '../support/nova.js';

// Rescue, crash dumps, passwords and console output over HTTP (each run by the worker where it
// queues), and the reads and reports beside them: diagnostics, os-server-password, external
// events, simple tenant usage, the usage audit log. Expected answers are Nova's, written out.

const RUNNING = 1, SHUTDOWN = 4;

const queue = new CapturingQueue();
let api: ApiOnly;
beforeAll(async () => { api = await startApiOnly(queue); });
afterAll(() => api.stop());

const admin = () => api.nova.as('admin:admin');
const run = async () => runOperation({
  table: api.table, driver: new SimulatedDriver(api.table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000,
}, queue.take());

async function server(fields: Parameters<typeof seedInstance>[1] = {}) {
  const id = uuid();
  await seedInstance(api.table, { id, vmState: 'active', powerState: RUNNING, ...fields });
  return id;
}

describe('rescue and unrescue', () => {
  it('rescue answers 200 with the password asked for (or a new one), unrescue 202; the server goes RESCUE and back', async () => {
    const id = await server();
    const res = await api.nova.action(id, { rescue: { adminPass: 'MySecretPass' } });
    expect([res.status, res.body]).toEqual([200, { adminPass: 'MySecretPass' }]);
    expect(await run()).toBe('done');
    expect((await api.nova.get(`/servers/${id}`)).body.server).toMatchObject({ status: 'RESCUE', 'OS-EXT-STS:vm_state': 'rescued' });
    // A rescued server refuses what needs it active (Nova's 409), and another rescue.
    expect((await api.nova.action(id, { reboot: { type: 'SOFT' } })).body.conflictingRequest.message)
      .toBe(`Cannot 'reboot' instance ${id} while it is in vm_state rescued`);
    expect((await api.nova.action(id, { rescue: null })).status).toBe(409);
    expect((await api.nova.action(id, { unrescue: null })).status).toBe(202);
    expect(await run()).toBe('done');
    expect((await api.nova.get(`/servers/${id}`)).body.server.status).toBe('ACTIVE');
    const generated = await api.nova.action(await server(), { rescue: null });
    expect(generated.body.adminPass).toMatch(/^\S{8,}$/);
    queue.take();
  });

  it('a rescue image the caller cannot boot is 400 UnsupportedRescueImage; on an unknown server 404 first', async () => {
    const id = await server();
    const missing = uuid();
    const res = await api.nova.action(id, { rescue: { rescue_image_ref: missing } });
    expect([res.status, res.body.badRequest?.message]).toEqual([400, `Requested rescue image '${missing}' is not supported`]);
    expect((await api.nova.action(uuid(), { rescue: { rescue_image_ref: missing } })).status).toBe(404);
    expect((await api.nova.action(id, { rescue: { rescue_image_ref: IMAGE } })).status).toBe(200);
    expect((await api.nova.action(id, { rescue: { other: 1 } })).status).toBe(400);
    queue.take();
  });
});

describe('trigger_crash_dump and changePassword', () => {
  it('trigger_crash_dump exists from 2.17 (404 before), takes null only, and fails on a guest not running', async () => {
    const id = await server();
    expect((await api.nova.action(id, { trigger_crash_dump: null })).status).toBe(404);
    expect((await api.nova.atVersion('2.17').action(id, { trigger_crash_dump: {} })).status).toBe(400);
    expect((await api.nova.atVersion('2.17').action(id, { trigger_crash_dump: null })).status).toBe(202);
    expect(await run()).toBe('done');
    // An errored server whose guest is off: admitted (Nova's ALLOW_TRIGGER_CRASH_DUMP), failed by the driver.
    const off = await server({ vmState: 'error', powerState: SHUTDOWN });
    expect((await api.nova.atVersion('2.17').action(off, { trigger_crash_dump: null })).status).toBe(202);
    expect(await run()).toBe('done');
    const { body } = await api.nova.get(`/servers/${off}/os-instance-actions`);
    expect(body.instanceActions[0]).toMatchObject({ action: 'trigger_crash_dump', message: 'Error' });
  });

  it('changePassword needs adminPass (400), an active server (409), and puts no password on the claim or the queue', async () => {
    const id = await server();
    expect((await api.nova.action(id, { changePassword: {} })).status).toBe(400);
    expect((await api.nova.action(await server({ vmState: 'stopped', powerState: SHUTDOWN }), { changePassword: { adminPass: 'x' } })).status).toBe(409);
    expect((await api.nova.action(id, { changePassword: { adminPass: 'n3w-Secret' } })).status).toBe(202);
    const item = await readInstance(api.table, id);
    expect(item?.taskState).toBe('updating_password');
    expect(JSON.stringify(item)).not.toContain('n3w-Secret');
    const message = queue.take();
    expect(JSON.stringify(message)).not.toContain('n3w-Secret');
    queue.messages.unshift(message);
    expect(await run()).toBe('done');
  });
});

describe('os-getConsoleOutput', () => {
  it('is the guest\'s console for what happened to it, its last `length` lines with Nova\'s -1 and 0', async () => {
    const { body: created } = await api.nova.post('/servers', { server: { name: 'console', flavorRef: '1', imageRef: IMAGE } });
    const id = created.server.id;
    // Still building: not on a host yet (InstanceNotReady).
    expect((await api.nova.action(id, { 'os-getConsoleOutput': {} })).status).toBe(409);
    expect(await run()).toBe('done');
    expect((await api.nova.action(id, { reboot: { type: 'SOFT' } })).status).toBe(202);
    expect(await run()).toBe('done');
    const all = (await api.nova.action(id, { 'os-getConsoleOutput': {} }));
    expect(all.status).toBe(200);
    const lines = (all.body.output as string).split('\n');
    expect(lines.filter((l) => l.startsWith('console login'))).toHaveLength(2);
    expect(lines).toContain('reboot: Restarting system');
    const tail = async (length: unknown) => (await api.nova.action(id, { 'os-getConsoleOutput': { length } })).body.output;
    expect(await tail(3)).toBe(lines.slice(-3).join('\n'));
    expect(await tail('2')).toBe(lines.slice(-2).join('\n'));
    expect(await tail(0)).toBe('');
    expect(await tail(-1)).toBe(lines.slice(1).join('\n'));
    expect(await tail(null)).toBe(lines.join('\n'));
    expect((await api.nova.action(id, { 'os-getConsoleOutput': { length: -2 } })).status).toBe(400);
    expect((await api.nova.action(id, { 'os-getConsoleOutput': { length: 'ten' } })).status).toBe(400);
    expect((await api.nova.as('mallory:other').action(id, { 'os-getConsoleOutput': {} })).status).toBe(404);
  });
});

describe('diagnostics and os-server-password', () => {
  it('diagnostics are administrators\' (403 for the owner), the libvirt keys before 2.48, the standard format from it', async () => {
    const id = await server();
    expect((await api.nova.get(`/servers/${id}/diagnostics`)).status).toBe(403);
    const legacy = await admin().get(`/servers/${id}/diagnostics`);
    expect(legacy.status).toBe(200);
    expect(legacy.body).toMatchObject({ memory: expect.any(Number), cpu0_time: 0, vda_read: 0 });
    const standard = await admin().atVersion('2.48').get(`/servers/${id}/diagnostics`);
    expect(standard.body).toMatchObject({
      state: 'running', driver: 'libvirt', num_cpus: expect.any(Number), num_disks: 1, num_nics: 0, config_drive: false,
      memory_details: { maximum: expect.any(Number), used: 0 }, cpu_details: expect.any(Array), disk_details: [expect.any(Object)], nic_details: [],
    });
    expect((await admin().get(`/servers/${uuid()}/diagnostics`)).status).toBe(404);
    expect((await admin().get(`/servers/${await server({ vmState: 'shelved_offloaded' })}/diagnostics`)).status).toBe(409);
  });

  it('the server password is empty (no metadata service), cleared with 204, another project\'s server 404', async () => {
    const id = await server();
    expect(await api.nova.get(`/servers/${id}/os-server-password`)).toMatchObject({ status: 200, body: { password: '' } });
    expect((await api.nova.delete(`/servers/${id}/os-server-password`)).status).toBe(204);
    expect((await api.nova.as('mallory:other').get(`/servers/${id}/os-server-password`)).status).toBe(404);
    expect((await api.nova.as('mallory:other').delete(`/servers/${id}/os-server-password`)).status).toBe(404);
    expect((await api.nova.delete(`/servers/${uuid()}/os-server-password`)).status).toBe(404);
  });
});

describe('os-server-external-events', () => {
  it('answers each event on its own (404 unknown server, 400 missing tag, 422 no host), 207 when any failed, records the accepted', async () => {
    const id = await server();
    const building = await server({ vmState: 'building', taskState: 'scheduling' });
    const unknown = uuid();
    const res = await admin().atVersion('2.51').post('/os-server-external-events', {
      events: [
        { name: 'network-changed', server_uuid: id },
        { name: 'network-vif-plugged', server_uuid: unknown, tag: 'port' },
        { name: 'volume-extended', server_uuid: id },
        { name: 'network-vif-plugged', server_uuid: building },
      ],
    });
    expect(res.status).toBe(207);
    expect(res.body.events).toEqual([
      { name: 'network-changed', server_uuid: id, status: 'completed', code: 200 },
      { name: 'network-vif-plugged', server_uuid: unknown, tag: 'port', status: 'failed', code: 404 },
      { name: 'volume-extended', server_uuid: id, status: 'failed', code: 400 },
      { name: 'network-vif-plugged', server_uuid: building, status: 'failed', code: 422 },
    ]);
    const requestId = res.headers.get('x-openstack-request-id');
    const { body } = await api.nova.get(`/servers/${id}/os-instance-actions/${requestId}`);
    expect(body.instanceAction).toMatchObject({ action: 'network-changed', request_id: requestId });
    expect(body.instanceAction.events).toEqual([expect.objectContaining({ event: 'compute_external_instance_event', result: 'Success' })]);
    expect((await api.nova.get(`/servers/${building}/os-instance-actions`)).body.instanceActions).toEqual([]);
  });

  it('is 200 when all succeed; administrators\' only (403); bad bodies and names newer than the version are 400', async () => {
    const id = await server();
    const ok = await admin().post('/os-server-external-events', { events: [{ name: 'network-vif-unplugged', server_uuid: id, status: 'in-progress' }] });
    expect([ok.status, ok.body.events[0].code, ok.body.events[0].status]).toEqual([200, 200, 'completed']);
    expect((await api.nova.post('/os-server-external-events', { events: [{ name: 'network-changed', server_uuid: id }] })).status).toBe(403);
    for (const body of [{ events: [] }, {}, { events: [{ name: 'network-changed' }] }, { events: [{ name: 'nope', server_uuid: id }] }]) {
      expect((await admin().post('/os-server-external-events', body)).status).toBe(400);
    }
    expect((await admin().atVersion('2.50').post('/os-server-external-events', { events: [{ name: 'volume-extended', server_uuid: id, tag: 'v' }] })).status).toBe(400);
  });
});

describe('os-simple-tenant-usage and os-instance_usage_audit_log', () => {
  const period = () => {
    const now = Date.now();
    const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 23);
    return `start=${fmt(now - 86_400_000)}&end=${fmt(now + 86_400_000)}`;
  };

  it('shows a project\'s usage to its reader (8 keys, as Tempest counts), lists every project\'s to administrators only', async () => {
    const id = await server({ created: new Date(Date.now() - 2 * 3_600_000).toISOString() });
    const show = await api.nova.get(`/os-simple-tenant-usage/${alice.projectId}?${period()}`);
    expect(show.status).toBe(200);
    const usage = show.body.tenant_usage;
    expect(Object.keys(usage)).toHaveLength(8);
    const mine = usage.server_usages.find((s: { instance_id: string }) => s.instance_id === id);
    expect(mine).toMatchObject({ tenant_id: alice.projectId, state: 'active', ended_at: null, flavor: expect.any(String) });
    expect(mine.hours).toBeGreaterThan(1.9);
    expect(usage.total_hours).toBeGreaterThanOrEqual(mine.hours);
    expect((await api.nova.get(`/os-simple-tenant-usage?${period()}`)).status).toBe(403);
    expect((await api.nova.get(`/os-simple-tenant-usage/other?${period()}`)).status).toBe(403);
    const all = await admin().get(`/os-simple-tenant-usage?${period()}&detailed=1`);
    expect(all.status).toBe(200);
    expect(all.body.tenant_usages.find((t: { tenant_id: string }) => t.tenant_id === alice.projectId)).toMatchObject({ server_usages: expect.any(Array) });
  });

  it('refuses a start after the end and a date it cannot read with Nova\'s 400', async () => {
    const res = await admin().get('/os-simple-tenant-usage?start=2026-02-01T00:00:00&end=2026-01-01T00:00:00');
    expect([res.status, res.body.badRequest?.message]).toEqual([400, 'Invalid start time. The start time cannot occur after the end time.']);
    expect((await admin().get('/os-simple-tenant-usage?start=yesterday')).status).toBe(400);
    expect((await admin().get('/os-simple-tenant-usage?start=2026-02-30T00:00:00')).status).toBe(400);
  });

  it('answers a usage without start or end (Nova reads its clock once for each: an instant, not a 400)', async () => {
    const all = await admin().get('/os-simple-tenant-usage');
    const mine = await api.nova.get(`/os-simple-tenant-usage/${alice.projectId}`);
    expect([all.status, mine.status]).toEqual([200, 200]);
    expect(mine.body.tenant_usage).toEqual(expect.any(Object));
  });

  it('the audit log names the last whole month and the host that ran no audit', async () => {
    const list = await admin().get('/os-instance_usage_audit_log');
    expect(list.status).toBe(200);
    expect(list.body.instance_usage_audit_logs).toMatchObject({
      num_hosts: 1, num_hosts_done: 0, num_hosts_not_run: 1, total_instances: 0, log: {}, overall_status: '0 of 1 hosts done. 0 errors.',
    });
    const show = await admin().get(`/os-instance_usage_audit_log/${encodeURIComponent('2026-03-15 10:00:00')}`);
    expect(show.body.instance_usage_audit_log).toMatchObject({ period_beginning: '2026-02-01 00:00:00', period_ending: '2026-03-01 00:00:00' });
    expect((await admin().get('/os-instance_usage_audit_log/not-a-date')).status).toBe(400);
    expect((await api.nova.get('/os-instance_usage_audit_log')).status).toBe(403);
  });
});
