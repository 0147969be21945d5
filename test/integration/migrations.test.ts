import { readInstance } from '../../functions/core/compute/readInstance.js';
import { readHosts, seedHosts, serviceIdOf } from '../../functions/core/placement/hosts.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova } from '../support/nova.js';
import { capacityViolations } from '../support/placement.js';
import { tempestProblems } from '../support/tempestSchemas.js';

// Moving servers through the whole runtime, over three hosts: cold migration with its confirm
// and revert, live migration, evacuation from a host that is down, the migration records each
// leaves (os-migrations, a server's migrations), and Nova's answers to what it refuses.

const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';
const HOSTS = [
  { name: 'm1', zone: 'nova', vcpus: 8, ram: 16384, disk: 200 },
  { name: 'm2', zone: 'nova', vcpus: 8, ram: 16384, disk: 200 },
  { name: 'm3', zone: 'nova', vcpus: 8, ram: 16384, disk: 200 },
];

let runtime: Runtime;
let admin: Nova;
let member: Nova;
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT, driver: { stepMs: 0 } });
  await seedHosts(runtime.table, HOSTS);
  admin = new Nova(runtime.apiUrl, 'admin:admin');
  member = new Nova(runtime.apiUrl, 'mo:movers');
});
afterAll(() => runtime.stop());

/** A server of the administrator's project on `host`, ACTIVE. */
async function bootOn(host: string): Promise<string> {
  const res = await admin.post('/servers', { server: { name: `on-${host}`, flavorRef: '1', imageRef: IMAGE, availability_zone: `nova:${host}` } });
  expect(res.status).toBe(202);
  const id = res.body.server.id;
  expect((await admin.waitIdle(id)).status).toBe('ACTIVE');
  return id;
}

/** The hosts holding an allocation of the server. */
async function allocatedOn(id: string): Promise<string[]> {
  return (await readHosts(runtime.table)).filter((h) => h.allocations?.[id]).map((h) => h.name);
}

const hostOf = async (id: string) => (await admin.get(`/servers/${id}`)).body.server['OS-EXT-SRV-ATTR:host'];

async function migrationsOf(id: string, version = '2.79') {
  const res = await admin.atVersion(version).get(`/os-migrations?instance_uuid=${id}`);
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.migrations;
}

/**
 * The server's latest migration once it has ended: a confirm's or a revert's worker releases the
 * server first and settles the move after (the source given back, the record's last status), so
 * an idle server may still show the record `confirming` for that one write's time.
 */
async function endedMigrationOf(id: string) {
  const ended = (m: { status: string }) => ['confirmed', 'reverted', 'error'].includes(m.status);
  let [latest] = await migrationsOf(id);
  for (let i = 0; i < 300 && !ended(latest); i++) {
    await new Promise((r) => setTimeout(r, 10));
    [latest] = await migrationsOf(id);
  }
  return latest;
}

const setService = (host: string, change: Record<string, unknown>) =>
  admin.atVersion('2.53').request('PUT', `/os-services/${serviceIdOf(host)}`, change);

describe('cold migration', () => {
  it('moves to another host into VERIFY_RESIZE holding both hosts; confirm gives the source back', async () => {
    const id = await bootOn('m1');
    expect((await admin.action(id, { migrate: null })).status).toBe(202);
    const moved = await admin.waitIdle(id);
    expect(moved.status).toBe('VERIFY_RESIZE');
    const target = await hostOf(id);
    expect(target).not.toBe('m1');
    expect((await allocatedOn(id)).sort()).toEqual(['m1', target].sort());
    expect((await migrationsOf(id))[0]).toMatchObject({
      migration_type: 'migration', status: 'finished', source_compute: 'm1', dest_compute: target, instance_uuid: id,
      old_instance_type_id: 1, new_instance_type_id: 1,
    });

    expect((await admin.action(id, { confirmResize: null })).status).toBe(204);
    expect((await admin.waitIdle(id)).status).toBe('ACTIVE');
    expect((await endedMigrationOf(id)).status).toBe('confirmed');
    expect(await allocatedOn(id)).toEqual([target]);
    expect(capacityViolations(await readHosts(runtime.table))).toEqual([]);
  });

  it('revert moves it back to its source and gives the target back', async () => {
    const id = await bootOn('m2');
    expect((await admin.atVersion('2.56').action(id, { migrate: { host: 'm3' } })).status).toBe(202);
    await admin.waitIdle(id);
    expect([await hostOf(id), (await allocatedOn(id)).sort()]).toEqual(['m3', ['m2', 'm3']]);
    expect((await admin.action(id, { revertResize: null })).status).toBe(202);
    expect((await admin.waitIdle(id)).status).toBe('ACTIVE');
    expect(await endedMigrationOf(id)).toMatchObject({ status: 'reverted', source_compute: 'm2', dest_compute: 'm3' });
    expect([await hostOf(id), await allocatedOn(id)]).toEqual(['m2', ['m2']]);
  });

  it('a server deleted while it waits for its confirm gives back both hosts', async () => {
    const id = await bootOn('m1');
    expect((await admin.action(id, { migrate: null })).status).toBe(202);
    await admin.waitIdle(id);
    expect(await allocatedOn(id)).toHaveLength(2);
    expect((await admin.delete(`/servers/${id}`)).status).toBe(204);
    await admin.waitGone(id);
    for (let i = 0; i < 200 && (await allocatedOn(id)).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await allocatedOn(id)).toEqual([]);
  });

  it('answers Nova\'s refusals, changing nothing', async () => {
    const id = await bootOn('m1');
    const before = await readInstance(runtime.table, id);
    const sameHost = await admin.atVersion('2.56').action(id, { migrate: { host: 'm1' } });
    expect([sameHost.status, sameHost.body.badRequest?.message]).toEqual([400, 'Cannot migrate to the host where the server exists.']);
    const unknown = await admin.atVersion('2.56').action(id, { migrate: { host: 'nowhere' } });
    expect([unknown.status, unknown.body.badRequest?.message]).toEqual([400, 'Compute host nowhere could not be found.']);
    // Before 2.56 Nova reads no body: the host is not asked for, and the scheduler chooses.
    expect((await admin.atVersion('2.55').action(id, { migrate: { host: 'm1' } })).status).toBe(202);
    expect((await admin.waitIdle(id)).status).toBe('VERIFY_RESIZE');
    expect(await hostOf(id)).not.toBe('m1');
    // Nova finds the server first: another project's is 404 to a member, the member's own 403.
    expect((await member.action(id, { migrate: null })).status).toBe(404);
    const own = await member.createServer('own');
    await member.waitIdle(own);
    const byMember = await member.action(own, { migrate: null });
    expect(byMember.status).toBe(403);
    expect(byMember.body.forbidden.message).toBe('Policy doesn\'t allow os_compute_api:os-migrate-server:migrate to be performed.');
    expect(before?.host).toBe('m1');
  });
});

describe('live migration', () => {
  it('moves the server, keeping its vm_state, and gives its source back', async () => {
    const id = await bootOn('m1');
    expect((await admin.action(id, { pause: null })).status).toBe(202);
    await admin.waitIdle(id);
    const res = await admin.atVersion('2.30').action(id, { 'os-migrateLive': { host: 'm2', block_migration: 'auto', force: false } });
    expect(res.status).toBe(202);
    expect((await admin.waitIdle(id)).status).toBe('PAUSED');
    expect([await hostOf(id), await allocatedOn(id)]).toEqual(['m2', ['m2']]);
    expect((await migrationsOf(id))[0]).toMatchObject({ migration_type: 'live-migration', status: 'completed', source_compute: 'm1', dest_compute: 'm2' });
    // Only in-progress ones are a server's migrations.
    expect((await admin.atVersion('2.23').get(`/servers/${id}/migrations`)).body.migrations).toEqual([]);
    const mid = (await migrationsOf(id))[0].id;
    const shown = await admin.atVersion('2.23').get(`/servers/${id}/migrations/${mid}`);
    expect([shown.status, shown.body.itemNotFound?.message]).toEqual([404, `Live migration ${mid} for server ${id} is not in progress.`]);
  });

  it('answers Nova\'s refusals: force without a host, an unknown host, the wrong state, abort when not migrating', async () => {
    const id = await bootOn('m3');
    const force = await admin.atVersion('2.30').action(id, { 'os-migrateLive': { host: null, block_migration: false, force: true } });
    expect([force.status, force.body.badRequest?.message]).toEqual([400, 'Can\'t force to a non-provided destination']);
    const unknown = await admin.atVersion('2.25').action(id, { 'os-migrateLive': { host: 'nowhere', block_migration: 'auto' } });
    expect([unknown.status, unknown.body.badRequest?.message]).toEqual([400, 'Compute host nowhere could not be found.']);
    const noDisk = await admin.atVersion('2.25').action(id, { 'os-migrateLive': { host: null, block_migration: 'auto', disk_over_commit: false } });
    expect(noDisk.status).toBe(400);
    expect((await admin.action(id, { 'os-stop': null })).status).toBe(202);
    await admin.waitIdle(id);
    const stopped = await admin.action(id, { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } });
    expect([stopped.status, stopped.body.conflictingRequest?.message])
      .toEqual([409, `Cannot 'live-migration' instance ${id} while it is in vm_state stopped`]);
    const abort = await admin.atVersion('2.24').delete(`/servers/${id}/migrations/1`);
    expect([abort.status, abort.body.conflictingRequest?.message])
      .toEqual([409, `Cannot 'abort live migration' instance ${id} while it is in task_state None`]);
    expect((await admin.atVersion('2.23').delete(`/servers/${id}/migrations/1`)).status).toBe(404);
  });
});

describe('evacuation', () => {
  it('is refused while the server\'s host is up, and rebuilds it elsewhere once the host is forced down', async () => {
    const id = await bootOn('m2');
    const up = await admin.atVersion('2.14').action(id, { evacuate: {} });
    expect([up.status, up.body?.badRequest?.message]).toEqual([400, 'Compute service of m2 is still in use.']);
    expect((await readInstance(runtime.table, id))?.taskState).toBeUndefined();

    expect((await setService('m2', { forced_down: true })).status).toBe(200);
    try {
      const same = await admin.atVersion('2.29').action(id, { evacuate: { host: 'm2' } });
      expect([same.status, same.body.badRequest?.message]).toEqual([400, 'The target host can\'t be the same one.']);
      const unknown = await admin.atVersion('2.29').action(id, { evacuate: { host: 'nowhere' } });
      expect([unknown.status, unknown.body.itemNotFound?.message]).toEqual([404, 'Compute host nowhere not found.']);
      const old = await admin.action(id, { evacuate: { onSharedStorage: false } });
      expect(old.status).toBe(200);
      expect(typeof old.body.adminPass).toBe('string');
      expect((await admin.waitIdle(id)).status).toBe('ACTIVE');
      const target = await hostOf(id);
      expect(target).not.toBe('m2');
      expect(await allocatedOn(id)).toEqual([target]);
      expect((await migrationsOf(id))[0]).toMatchObject({ migration_type: 'evacuation', status: 'done', source_compute: 'm2', dest_compute: target });
    } finally {
      await setService('m2', { forced_down: false });
    }
  });
});

describe('os-migrations', () => {
  it('records a resize as a migration, filters and pages them, and shows each version\'s fields', async () => {
    const id = await bootOn('m3');
    expect((await admin.action(id, { resize: { flavorRef: '2' } })).status).toBe(202);
    await admin.waitIdle(id);
    const [resize] = await migrationsOf(id);
    expect(resize).toMatchObject({ migration_type: 'resize', status: 'finished', source_compute: 'm3', dest_compute: 'm3', old_instance_type_id: 1, new_instance_type_id: 2 });
    expect((await admin.action(id, { confirmResize: null })).status).toBe(204);
    await admin.waitIdle(id);
    expect((await migrationsOf(id))[0].status).toBe('confirmed');

    const v21 = (await admin.get(`/os-migrations?instance_uuid=${id}`)).body.migrations[0];
    expect(Object.keys(v21).sort()).toEqual([
      'created_at', 'dest_compute', 'dest_host', 'dest_node', 'id', 'instance_uuid', 'new_instance_type_id', 'old_instance_type_id',
      'source_compute', 'source_node', 'status', 'updated_at',
    ]);
    expect(Object.keys((await migrationsOf(id, '2.59'))[0])).toEqual(expect.arrayContaining(['migration_type', 'uuid']));
    expect((await admin.get('/os-migrations?migration_type=resize&status=confirmed')).body.migrations.map((m: any) => m.instance_uuid)).toContain(id);

    const all = (await admin.atVersion('2.59').get('/os-migrations')).body.migrations;
    expect(all.length).toBeGreaterThan(2);
    const first = await admin.atVersion('2.59').get('/os-migrations?limit=2');
    expect(first.body.migrations.map((m: any) => m.uuid)).toEqual(all.slice(0, 2).map((m: any) => m.uuid));
    expect(first.body.migrations_links[0].href).toContain(`marker=${all[1].uuid}`);
    const next = await admin.atVersion('2.59').get(`/os-migrations?limit=2&marker=${all[1].uuid}`);
    expect(next.body.migrations[0].uuid).toBe(all[2].uuid);
    const bad = await admin.atVersion('2.59').get(`/os-migrations?marker=${crypto.randomUUID()}`);
    expect(bad.status).toBe(400);
    expect((await member.get('/os-migrations')).status).toBe(403);
  });
});

describe('Tempest\'s schemas', () => {
  it('os-migrations conforms at 2.1, 2.23 (migration_type, links), 2.59 (uuid, paging) and 2.79', async () => {
    const id = await bootOn('m1');
    expect((await admin.action(id, { migrate: null })).status).toBe(202);
    await admin.waitIdle(id);
    for (const [module, version] of [['v2_1', '2.1'], ['v2_23', '2.23'], ['v2_59', '2.59'], ['v2_59', '2.79']] as const) {
      const res = await admin.atVersion(version).get('/os-migrations');
      expect([version, tempestProblems(`${module}.migrations`, 'list_migrations', res)]).toEqual([version, []]);
      expect(res.body.migrations.length).toBeGreaterThan(0);
    }
    // A full page links the next: Nova's own 2.59 response schema has migrations_links, Tempest's
    // does not (its tests never page), so that is the one difference it reports.
    const paged = await admin.atVersion('2.59').get('/os-migrations?limit=1');
    expect(tempestProblems('v2_59.migrations', 'list_migrations', paged))
      .toEqual(['/ must NOT have additional properties {"additionalProperty":"migrations_links"}']);
    expect((await admin.action(id, { confirmResize: null })).status).toBe(204);
    await admin.waitIdle(id);
  });

  it('an evacuation answers as Tempest\'s evacuate_server_with_admin_pass before 2.14', async () => {
    const id = await bootOn('m3');
    expect((await setService('m3', { forced_down: true })).status).toBe(200);
    try {
      const res = await admin.action(id, { evacuate: { onSharedStorage: false, adminPass: 'chosen' } });
      expect(tempestProblems('v2_1.servers', 'evacuate_server_with_admin_pass', res)).toEqual([]);
      expect(res.body.adminPass).toBe('chosen');
      expect((await admin.waitIdle(id)).status).toBe('ACTIVE');
    } finally {
      await setService('m3', { forced_down: false });
    }
  });
});
