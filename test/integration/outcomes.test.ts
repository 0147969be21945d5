import { getAttachment, Ports, readAttachable, Volumes } from '../../functions/core/shared/attachables.js';
import { OperationCatalogue, type OperationName } from '../../functions/core/compute/catalogue.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import type { Instance } from '../../functions/core/compute/instance.js';
import { findMigration } from '../../functions/core/compute/migrations.js';
import { pendingMigrationOf } from '../../functions/core/compute/pendingMove.js';
import type { PowerStateValue } from '../../functions/core/compute/states.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { allImages } from '../../functions/core/images/store.js';
import { allocate } from '../../functions/core/placement/allocations.js';
import { readHosts, seedHosts, setHostService } from '../../functions/core/placement/hosts.js';
import {
  alice, CapturingQueue, seedAttachment, seedInstance, startApiOnly, uuid, type ApiOnly,
} from '../support/emulators.js';
import { failAt as failAtStep } from '../support/faults.js';
import { IMAGE, IMAGE2, type NovaResponse } from '../support/nova.js';
import { seedVolume } from '../support/volumes.js';
import { seedPort } from '../support/networks.js';

// Each operation's two endings, as docs/operations.md states them: admitted over HTTP, run by the
// compute worker through the simulated driver (told to fail at a named step for the failure
// case), then read back as Nova shows it: vm_state, task_state, power_state, fault, and the
// instance action with its event. Expected values are written out here, not read from the code.

// Nova's power states (nova/compute/power_state.py).
const RUNNING = 1, PAUSED = 3, SHUTDOWN = 4, SUSPENDED = 7, NOSTATE = 0;

interface Held { volumeId: string; portId: string; newVolumeId: string; newPortId: string }

interface Case {
  readonly op: OperationName;
  /** The vm_state the server is in when the request arrives (with what a resize left behind). */
  readonly from: Instance['vmState'];
  readonly send: (api: ApiOnly, id: string, held: Held) => Promise<NovaResponse>;
  readonly action: string;
  readonly success: { vm: Instance['vmState'] | 'gone'; power: number; check?: (s: Seen) => void };
  /** The driver step told to fail, and where the server must be left. */
  readonly failure: { step: string; vm: Instance['vmState']; check?: (s: Seen) => void };
  /** A move's: the host the server is placed on first (PLACED_HOSTS), with its allocation there. */
  readonly placedOn?: string;
}

interface Seen {
  readonly instance: Instance;
  readonly held: Held;
  readonly volume: (id: string) => Promise<string | undefined>;
  readonly port: (id: string) => Promise<string | undefined>;
}

const action = (body: unknown) => (api: ApiOnly, id: string) => api.nova.action(id, body);

/** The moves' hosts: o1's compute service is forced down (evacuate's condition), o2 and o3 are up. */
const PLACED_HOSTS = ['o1', 'o2', 'o3'].map((name) => ({ name, zone: 'nova', vcpus: 64, ram: 65536, disk: 1000 }));
const asAdmin = (body: unknown) => (api: ApiOnly, id: string) => api.nova.as('admin:admin').atVersion('2.25').action(id, body);
/** Which hosts hold the server's allocation. */
const heldOn = async (id: string) => (await readHosts(api.table)).filter((h) => h.allocations?.[id]).map((h) => h.name);

const CASES: Case[] = [
  {
    op: 'rebuild', from: 'error', action: 'rebuild', send: action({ rebuild: { imageRef: IMAGE2 } }),
    success: { vm: 'active', power: RUNNING, check: ({ instance }) => expect(instance.imageId).toBe(IMAGE2) },
    failure: { step: 'spawn', vm: 'error' },
  },
  {
    op: 'rebuild', from: 'stopped', action: 'rebuild', send: action({ rebuild: { imageRef: IMAGE2 } }),
    success: { vm: 'stopped', power: SHUTDOWN }, failure: { step: 'power_off', vm: 'error' },
  },
  {
    op: 'resize', from: 'active', action: 'resize', send: action({ resize: { flavorRef: '2' } }),
    success: {
      vm: 'resized', power: RUNNING,
      // What a confirm or a revert goes back to is on the migration record, the item points at it.
      check: async ({ instance }) => {
        const migration = await findMigration(api.table, pendingMigrationOf(instance)!);
        expect([instance.flavorId, instance.oldFlavorId, instance.preResizeVmState, migration?.oldFlavorId, migration?.before?.vmState])
          .toEqual(['2', undefined, undefined, '1', 'active']);
      },
    },
    failure: {
      step: 'migrate', vm: 'active',
      check: ({ instance }) => expect([instance.flavorId, instance.oldFlavorId]).toEqual(['1', undefined]),
    },
  },
  {
    op: 'confirm_resize', from: 'resized', action: 'confirmResize', send: action({ confirmResize: null }),
    success: {
      vm: 'stopped', power: SHUTDOWN,
      check: ({ instance }) => expect([instance.flavorId, instance.oldFlavorId]).toEqual(['2', undefined]),
    },
    failure: { step: 'confirm', vm: 'resized', check: ({ instance }) => expect(instance.oldFlavorId).toBe('1') },
  },
  {
    op: 'revert_resize', from: 'resized', action: 'revertResize', send: action({ revertResize: null }),
    success: {
      vm: 'stopped', power: SHUTDOWN,
      check: ({ instance }) => expect([instance.flavorId, instance.oldFlavorId]).toEqual(['1', undefined]),
    },
    failure: { step: 'revert', vm: 'error' },
  },
  {
    op: 'shelve', from: 'paused', action: 'shelve', send: action({ shelve: null }),
    success: { vm: 'shelved', power: SHUTDOWN }, failure: { step: 'snapshot', vm: 'paused' },
  },
  {
    op: 'shelve_offload', from: 'shelved', action: 'shelveOffload', send: action({ shelveOffload: null }),
    success: { vm: 'shelved_offloaded', power: NOSTATE }, failure: { step: 'offload', vm: 'shelved' },
  },
  {
    op: 'unshelve', from: 'shelved_offloaded', action: 'unshelve', send: action({ unshelve: null }),
    success: { vm: 'active', power: RUNNING }, failure: { step: 'spawn', vm: 'shelved_offloaded' },
  },
  {
    op: 'attach_volume', from: 'stopped', action: 'attach_volume',
    // 2.20: volumes of shelved servers too, as operations.md's table.
    send: (api, id, held) => api.nova.atVersion('2.20').post(`/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: held.newVolumeId } }),
    success: {
      vm: 'stopped', power: SHUTDOWN,
      check: async ({ volume, held }) => expect(await volume(held.newVolumeId)).toBe('in-use'),
    },
    failure: {
      step: 'connect_volume', vm: 'stopped',
      check: async ({ volume, held }) => expect(await volume(held.newVolumeId)).toBe('available'),
    },
  },
  {
    op: 'detach_volume', from: 'shelved_offloaded', action: 'detach_volume',
    send: (api, id, held) => api.nova.atVersion('2.20').delete(`/servers/${id}/os-volume_attachments/${held.volumeId}`),
    success: {
      vm: 'shelved_offloaded', power: NOSTATE,
      check: async ({ volume, held, instance }) => {
        expect(await volume(held.volumeId)).toBe('available');
        expect(await getAttachment(api.table, Volumes, instance.id, held.volumeId)).toBeUndefined();
      },
    },
    failure: {
      step: 'disconnect_volume', vm: 'shelved_offloaded',
      check: async ({ volume, held, instance }) => {
        expect(await volume(held.volumeId)).toBe('in-use');
        expect(await getAttachment(api.table, Volumes, instance.id, held.volumeId)).toBeDefined();
      },
    },
  },
  {
    op: 'attach_interface', from: 'paused', action: 'attach_interface',
    send: (api, id, held) => api.nova.post(`/servers/${id}/os-interface`, { interfaceAttachment: { port_id: held.newPortId } }),
    success: { vm: 'paused', power: PAUSED, check: async ({ port, held }) => expect(await port(held.newPortId)).toBe('in-use') },
    failure: { step: 'plug_vif', vm: 'paused', check: async ({ port, held }) => expect(await port(held.newPortId)).toBe('available') },
  },
  {
    op: 'detach_interface', from: 'active', action: 'detach_interface',
    send: (api, id, held) => api.nova.delete(`/servers/${id}/os-interface/${held.portId}`),
    success: { vm: 'active', power: RUNNING, check: async ({ port, held }) => expect(await port(held.portId)).toBe('available') },
    failure: { step: 'unplug_vif', vm: 'active', check: async ({ port, held }) => expect(await port(held.portId)).toBe('in-use') },
  },
  {
    op: 'start', from: 'stopped', action: 'start', send: action({ 'os-start': null }),
    success: { vm: 'active', power: RUNNING }, failure: { step: 'power_on', vm: 'stopped' },
  },
  {
    op: 'stop', from: 'error', action: 'stop', send: action({ 'os-stop': null }),
    success: { vm: 'stopped', power: SHUTDOWN }, failure: { step: 'power_off', vm: 'error' },
  },
  {
    op: 'reboot_soft', from: 'active', action: 'reboot', send: action({ reboot: { type: 'SOFT' } }),
    success: { vm: 'active', power: RUNNING }, failure: { step: 'reboot', vm: 'active' },
  },
  {
    op: 'reboot_hard', from: 'suspended', action: 'reboot', send: action({ reboot: { type: 'HARD' } }),
    success: { vm: 'active', power: RUNNING }, failure: { step: 'reboot', vm: 'error' },
  },
  {
    op: 'pause', from: 'active', action: 'pause', send: action({ pause: null }),
    success: { vm: 'paused', power: PAUSED }, failure: { step: 'pause', vm: 'active' },
  },
  {
    op: 'unpause', from: 'paused', action: 'unpause', send: action({ unpause: null }),
    success: { vm: 'active', power: RUNNING }, failure: { step: 'unpause', vm: 'paused' },
  },
  {
    op: 'suspend', from: 'active', action: 'suspend', send: action({ suspend: null }),
    success: { vm: 'suspended', power: SUSPENDED }, failure: { step: 'suspend', vm: 'active' },
  },
  {
    op: 'resume', from: 'suspended', action: 'resume', send: action({ resume: null }),
    success: { vm: 'active', power: RUNNING }, failure: { step: 'resume', vm: 'suspended' },
  },
  {
    op: 'delete', from: 'active', action: 'delete', send: (api, id) => api.nova.delete(`/servers/${id}`),
    success: {
      vm: 'gone', power: NOSTATE,
      check: async ({ volume, port, held }) => {
        expect(await volume(held.volumeId)).toBe('available');
        expect(await port(held.portId)).toBe('available');
      },
    },
    failure: {
      step: 'shutdown', vm: 'error',
      check: async ({ volume, held }) => expect(await volume(held.volumeId)).toBe('in-use'),
    },
  },  // Rescue, images, crash dumps and passwords (nova/compute/manager.py's endings for each).
  {
    op: 'rescue', from: 'stopped', action: 'rescue', send: action({ rescue: null }),
    success: { vm: 'rescued', power: RUNNING }, failure: { step: 'spawn_rescue', vm: 'error' },
  },
  {
    op: 'unrescue', from: 'rescued', action: 'unrescue', send: action({ unrescue: null }),
    success: { vm: 'active', power: RUNNING }, failure: { step: 'unrescue', vm: 'error' },
  },
  {
    op: 'create_image', from: 'active', action: 'createImage', send: action({ createImage: { name: 'snap', metadata: { purpose: 'test' } } }),
    success: {
      vm: 'active', power: RUNNING,
      check: async ({ instance }) => expect(await imagesOf(instance.id)).toEqual([expect.objectContaining({
        status: 'active', name: 'snap', owner: alice.projectId, visibility: 'private', disk_format: 'qcow2', container_format: 'bare',
        properties: expect.objectContaining({ image_type: 'snapshot', instance_uuid: instance.id, base_image_ref: instance.imageId, user_id: 'alice', purpose: 'test' }),
      })]),
    },
    // @delete_image_on_error: the queued image goes with the failure.
    failure: { step: 'upload', vm: 'active', check: async ({ instance }) => expect((await imagesOf(instance.id)).map((i) => i.status)).toEqual(['deleted']) },
  },
  {
    op: 'create_backup', from: 'stopped', action: 'createBackup', send: action({ createBackup: { name: 'b', backup_type: 'daily', rotation: 2 } }),
    success: {
      vm: 'stopped', power: SHUTDOWN,
      check: async ({ instance }) => expect(await imagesOf(instance.id)).toEqual([expect.objectContaining({
        status: 'active', properties: expect.objectContaining({ image_type: 'backup', backup_type: 'daily', instance_uuid: instance.id }),
      })]),
    },
    failure: { step: 'upload', vm: 'stopped', check: async ({ instance }) => expect((await imagesOf(instance.id)).map((i) => i.status)).toEqual(['deleted']) },
  },
  {
    op: 'trigger_crash_dump', from: 'active', action: 'trigger_crash_dump',
    send: (api, id) => api.nova.atVersion('2.17').action(id, { trigger_crash_dump: null }),
    success: { vm: 'active', power: RUNNING }, failure: { step: 'inject_nmi', vm: 'active' },
  },
  {
    op: 'change_password', from: 'active', action: 'changePassword', send: action({ changePassword: { adminPass: 'n3w-Secret' } }),
    success: { vm: 'active', power: RUNNING }, failure: { step: 'set_admin_password', vm: 'active' },
  },
  // Moves (administrators'): their target taken on another host, their source kept or given back.
  {
    op: 'migrate', from: 'active', action: 'migrate', placedOn: 'o2', send: asAdmin({ migrate: null }),
    success: {
      vm: 'resized', power: RUNNING,
      check: async ({ instance }) => {
        expect(instance.host).toBe('o3');
        expect(await heldOn(instance.id)).toEqual(['o2', 'o3']);
      },
    },
    // A failed cold migration leaves the server where and as it was, its target given back.
    failure: { step: 'finish', vm: 'active', check: async ({ instance }) => expect([instance.host, await heldOn(instance.id)]).toEqual(['o2', ['o2']]) },
  },
  {
    op: 'live_migrate', from: 'paused', action: 'live-migration', placedOn: 'o2',
    send: asAdmin({ 'os-migrateLive': { host: null, block_migration: 'auto' } }),
    success: { vm: 'paused', power: PAUSED, check: async ({ instance }) => expect([instance.host, await heldOn(instance.id)]).toEqual(['o3', ['o3']]) },
    // _rollback_live_migration: the server stays on its source in its vm_state.
    failure: { step: 'copy_memory', vm: 'paused', check: async ({ instance }) => expect([instance.host, await heldOn(instance.id)]).toEqual(['o2', ['o2']]) },
  },
  {
    op: 'evacuate', from: 'error', action: 'evacuate', placedOn: 'o1', send: asAdmin({ evacuate: {} }),
    success: { vm: 'active', power: RUNNING, check: async ({ instance }) => expect(await heldOn(instance.id)).toEqual([instance.host]) },
    // The rebuild failed: ERROR, on its source still (Nova's is on the target by then), the target given back.
    failure: { step: 'rebuild_spawn', vm: 'error', check: async ({ instance }) => expect([instance.host, await heldOn(instance.id)]).toEqual(['o1', ['o1']]) },
  },
];

const queue = new CapturingQueue();
let api: ApiOnly;
beforeAll(async () => {
  api = await startApiOnly(queue);
  await seedHosts(api.table, PLACED_HOSTS);
  await setHostService(api.table, 'o1', { forcedDown: true });
});
afterAll(() => api.stop());

const readItem = async (id: string) => (await readInstance(api.table, id))!;

/** The images made from a server (createImage, createBackup), whatever their status. */
const imagesOf = async (serverId: string) => (await allImages(api.table)).filter((i) => i.properties.instance_uuid === serverId);

/** The server's allocation taken on `host` as the scheduler takes it, and the fields its item records. */
async function placed(id: string, host: string): Promise<Partial<Instance>> {
  // A host that is down takes no allocation: the server was placed there before it went down.
  const down = host === 'o1';
  if (down) await setHostService(api.table, host, { forcedDown: false });
  const claimed = await allocate(api.table, (await readHosts(api.table)).find((h) => h.name === host)!, { serverId: id, vcpus: 1, ram: 512, disk: 1, now: Date.now() });
  if (down) await setHostService(api.table, host, { forcedDown: true });
  return { host, node: host, allocation: claimed.host!.allocations[id]! };
}

/** Seeds the server, sends the request over HTTP, runs the queued message with the given driver. */
async function runCase(c: Case, failAt?: string) {
  const id = uuid();
  await seedInstance(api.table, {
    id, vmState: c.from,
    powerState: { stopped: SHUTDOWN, resized: SHUTDOWN, paused: PAUSED, suspended: SUSPENDED, shelved_offloaded: NOSTATE }[c.from as string] as PowerStateValue | undefined ?? RUNNING,
    // A resized server here was resized from stopped, so it is still powered off.
    ...(c.from === 'resized' ? { flavorId: '2', oldFlavorId: '1', preResizeVmState: 'stopped' as const } : {}),
    ...(c.placedOn ? await placed(id, c.placedOn) : {}),
  });
  const held: Held = {
    volumeId: await seedAttachment(api.table, Volumes, id), portId: await seedAttachment(api.table, Ports, id),
    newVolumeId: await seedVolume(api.table), newPortId: await seedPort(api.table, alice.projectId),
  };
  const res = await c.send(api, id, held);
  if (res.status >= 300) throw new Error(`${c.op} from ${c.from}: ${res.status} ${JSON.stringify(res.body)}`);
  const requestId = res.headers.get('x-openstack-request-id')!;

  const driver = new SimulatedDriver(api.table, { stepMs: 0, ...(failAt ? { beforeStep: failAtStep(c.op, failAt) } : {}) });
  const message = queue.take();
  expect(message.requestId).toBe(requestId);
  expect(await runOperation({ table: api.table, driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 }, message)).toBe('done');

  const seen: Seen = {
    instance: await readItem(id), held,
    // An id with no item was never attached, or its only attach failed and left no trace: available.
    volume: async (v) => (await readAttachable(api.table, Volumes, v))?.status,
    port: async (p) => (await readAttachable(api.table, Ports, p))?.status ?? 'available',
  };
  return { id, requestId, seen };
}

describe.each(CASES.map((c) => [`${c.op} from ${c.from}`, c] as const))('%s', (_name, c) => {
  it('succeeds as docs/operations.md says: vm_state, power, no task_state, a Success event', async () => {
    const { id, requestId, seen } = await runCase(c);
    if (c.success.vm === 'gone') {
      expect(seen.instance.deleted).toBe(true);
      expect((await api.nova.get(`/servers/${id}`)).status).toBe(404);
    } else {
      expect(seen.instance.vmState).toBe(c.success.vm);
      const shown = (await api.nova.get(`/servers/${id}`)).body.server;
      expect(shown['OS-EXT-STS:vm_state']).toBe(c.success.vm);
      expect(shown['OS-EXT-STS:task_state']).toBeNull();
      expect(shown['OS-EXT-STS:power_state']).toBe(c.success.power);
      expect(shown.fault).toBeUndefined();
      const { body } = await api.nova.get(`/servers/${id}/os-instance-actions/${requestId}`);
      expect(body.instanceAction).toMatchObject({ action: c.action, request_id: requestId, message: null });
      expect(body.instanceAction.events).toEqual([expect.objectContaining({
        event: `compute_${c.op}`, result: 'Success', traceback: null, finish_time: expect.any(String),
      })]);
    }
    expect(seen.instance.powerState).toBe(c.success.power);
    expect([seen.instance.taskState, seen.instance.claim, seen.instance.fault]).toEqual([undefined, undefined, undefined]);
    await c.success.check?.(seen);
  });

  it(`fails at ${c.failure.step} as docs/operations.md says: vm_state ${c.failure.vm}, fault and Error event recorded`, async () => {
    const { id, requestId, seen } = await runCase(c, c.failure.step);
    const injected = `Injected failure at ${c.op}:${c.failure.step}`;
    expect(seen.instance.vmState).toBe(c.failure.vm);
    expect([seen.instance.taskState, seen.instance.claim, seen.instance.deleted]).toEqual([undefined, undefined, undefined]);
    expect(seen.instance.fault).toEqual({ code: 500, message: injected, created: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });

    const shown = (await api.nova.get(`/servers/${id}`)).body.server;
    expect(shown['OS-EXT-STS:vm_state']).toBe(c.failure.vm);
    expect(shown['OS-EXT-STS:task_state']).toBeNull();
    // Nova shows a server's fault only while it is in ERROR.
    if (c.failure.vm === 'error') expect(shown.fault).toEqual(expect.objectContaining({ code: 500, message: injected }));
    else expect(shown.fault).toBeUndefined();

    const { body } = await api.nova.get(`/servers/${id}/os-instance-actions/${requestId}`);
    expect(body.instanceAction).toMatchObject({ action: c.action, request_id: requestId, message: 'Error' });
    expect(body.instanceAction.events).toEqual([expect.objectContaining({
      event: `compute_${c.op}`, result: 'Error', traceback: injected,
    })]);
    await c.failure.check?.(seen);
  });
});

describe('create', () => {
  const create = async (failAt?: string) => {
    const res = await api.nova.post('/servers', { server: { name: 'outcome', flavorRef: '1', imageRef: IMAGE } });
    expect(res.status).toBe(202);
    const id = res.body.server.id as string;
    expect((await readItem(id))).toMatchObject({ vmState: 'building', taskState: 'scheduling' });
    const driver = new SimulatedDriver(api.table, { stepMs: 0, ...(failAt ? { beforeStep: failAtStep('create', failAt) } : {}) });
    expect(await runOperation({ table: api.table, driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 }, queue.take())).toBe('done');
    const { body } = await api.nova.get(`/servers/${id}/os-instance-actions`);
    return { server: (await api.nova.get(`/servers/${id}`)).body.server, actions: body.instanceActions };
  };

  it('builds: scheduling, spawning, then ACTIVE and running', async () => {
    const { server, actions } = await create();
    expect(server).toMatchObject({
      status: 'ACTIVE', 'OS-EXT-STS:vm_state': 'active', 'OS-EXT-STS:task_state': null, 'OS-EXT-STS:power_state': RUNNING,
    });
    expect(actions).toEqual([expect.objectContaining({ action: 'create', message: null })]);
  });

  it('a failed build leaves the server in ERROR with its fault', async () => {
    const { server, actions } = await create('spawn');
    expect(server).toMatchObject({
      status: 'ERROR', 'OS-EXT-STS:vm_state': 'error', 'OS-EXT-STS:task_state': null,
      fault: expect.objectContaining({ code: 500, message: 'Injected failure at create:spawn' }),
    });
    expect(actions).toEqual([expect.objectContaining({ action: 'create', message: 'Error' })]);
  });
});

it('leaves no row of the catalogue without its two outcomes tested', () => {
  const covered = new Set<string>([...CASES.map((c) => c.op), 'create']);
  expect([...covered].sort()).toEqual(Object.keys(OperationCatalogue).sort());
});
