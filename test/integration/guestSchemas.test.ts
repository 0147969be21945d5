import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { alice, CapturingQueue, seedInstance, startApiOnly, uuid, type ApiOnly } from '../support/emulators.js';
import type { NovaResponse } from '../support/nova.js';
import { tempestProblems } from '../support/tempestSchemas.js';

// The answers of rescue, createBackup, the console, the server password, diagnostics, external
// events, tenant usage and the usage audit log, checked against the schemas Tempest holds Nova to
// (test/fixtures/tempest), at the microversions where those schemas change.

const queue = new CapturingQueue();
let api: ApiOnly;
beforeAll(async () => { api = await startApiOnly(queue); });
afterAll(() => api.stop());

function conforms(module: string, name: string, res: NovaResponse) {
  const problems = tempestProblems(module, name, res);
  if (problems.length > 0) throw new Error(`${module}.${name}: ${problems.join('; ')}\n${JSON.stringify(res.body, null, 1)}`);
}

const admin = () => api.nova.as('admin:admin');
const run = () => runOperation({
  table: api.table, driver: new SimulatedDriver(api.table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000,
}, queue.take());

async function server() {
  const id = uuid();
  await seedInstance(api.table, { id });
  return id;
}

it('answers the server actions as Tempest expects', async () => {
  conforms('v2_1.servers', 'rescue_server_with_admin_pass', await api.nova.action(await server(), { rescue: { adminPass: 'p' } }));
  queue.take();
  conforms('v2_1.servers', 'create_backup', await api.nova.action(await server(), { createBackup: { name: 'b', backup_type: 'daily', rotation: 1 } }));
  queue.take();
  conforms('v2_45.servers', 'create_backup', await api.nova.atVersion('2.45').action(await server(), { createBackup: { name: 'b', backup_type: 'daily', rotation: 1 } }));
  queue.take();
  const id = await server();
  conforms('v2_1.servers', 'get_console_output', await api.nova.action(id, { 'os-getConsoleOutput': { length: 5 } }));
  conforms('v2_1.servers', 'show_password', await api.nova.get(`/servers/${id}/os-server-password`));
  conforms('v2_1.servers', 'server_actions_delete_password', await api.nova.delete(`/servers/${id}/os-server-password`));
});

it('answers diagnostics as Tempest expects, before and from 2.48', async () => {
  const id = await server();
  conforms('v2_1.servers', 'show_server_diagnostics', await admin().get(`/servers/${id}/diagnostics`));
  conforms('v2_48.servers', 'show_server_diagnostics', await admin().atVersion('2.48').get(`/servers/${id}/diagnostics`));
});

it('answers external events, tenant usage and the audit log as Tempest expects', async () => {
  const id = await server();
  conforms('v2_1.server_external_events', 'create', await admin().post('/os-server-external-events', {
    // Tempest's schema is for its 200 (a 207's events are the same shape, with their codes).
    events: [{ name: 'network-changed', server_uuid: id }, { name: 'network-vif-plugged', server_uuid: id, tag: 't' }],
  }));
  const { body } = await api.nova.post('/servers', { server: { name: 'usage', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b' } });
  expect(await run()).toBe('done');
  expect(body.server.id).toBeDefined();
  const day = 86_400_000;
  const q = `start=${new Date(Date.now() - day).toISOString().slice(0, 19)}&end=${new Date(Date.now() + day).toISOString().slice(0, 19)}`;
  conforms('v2_1.tenant_usages', 'list_tenant_usage', await admin().get(`/os-simple-tenant-usage?${q}&detailed=1`));
  conforms('v2_1.tenant_usages', 'get_tenant_usage', await api.nova.get(`/os-simple-tenant-usage/${alice.projectId}?${q}`));
  conforms('v2_1.instance_usage_audit_logs', 'list_instance_usage_audit_log', await admin().get('/os-instance_usage_audit_log'));
  conforms('v2_1.instance_usage_audit_logs', 'get_instance_usage_audit_log', await admin().get(`/os-instance_usage_audit_log/${encodeURIComponent('2026-03-15 10:00:00')}`));
});
