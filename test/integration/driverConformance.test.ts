import { OperationCatalogue, operationRow, type OperationName } from '../../functions/core/compute/catalogue.js';
import { NotImplemented } from '../../functions/core/shared/errors.js';
import { Plans } from '../../functions/core/compute/ec2/plans.js';
import { onStateChange, reconcile } from '../../functions/core/compute/ec2/drift.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { readImage } from '../../functions/core/images/store.js';
import { PowerState } from '../../functions/core/compute/states.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { requestOperation } from '../../functions/core/compute/admission.js';
import { Ec2Driver } from '../../functions/core/compute/ec2/ec2Driver.js';
import { Ec2Capabilities } from '../../functions/core/compute/ec2/capabilities.js';
import {
  drive, EC2_TEST_SETTINGS, ec2Backend, expectedVmState, FAILS_FROM, FLAVOR, prepare, simulatedBackend, snapshotParams, statesFor, type Backend,
} from '../support/driverConformance.js';
import { consoleOutput } from '../../functions/core/compute/consoleLog.js';
import { ec2Console } from '../../functions/core/compute/ec2/console.js';
import { alice, mallory, CapturingQueue, requestId, seedInstance, startBackends, type TestBackends } from '../support/emulators.js';
import { IMAGE } from '../support/nova.js';

// The driver conformance suite: what any ComputeDriver must do, run on both drivers. Every
// operation from every vm_state its catalogue row allows; a worker dying right after each call
// it makes and before its next checkpoint (then the message delivered again); a duplicate
// delivery; throttling. The EC2 driver also meets its own world: an instance that vanished,
// EC2's capacity and limit errors, and drift (changes made outside taskgate). EC2 is the
// stateful double of test/support/ec2 (aws-sdk-client-mock), each request checked against the
// SDK's model.

let b: TestBackends;
beforeAll(async () => { b = await startBackends(); });
afterAll(async () => { await b.stop(); });

/** The operations the EC2 driver carries out: the suite runs them on every driver. */
const OPS = Object.keys(Plans) as OperationName[];
const RESENT: ReadonlySet<OperationName> = new Set(['reboot_soft', 'trigger_crash_dump']);
const CASES = OPS.flatMap((op) => statesFor(op).map((state) => [op, state] as const));

const BACKENDS: readonly [string, () => Backend][] = [
  ['simulated', () => simulatedBackend(b.table)],
  ['ec2', () => ec2Backend(b.table)],
];

describe.each(BACKENDS)('%s driver', (name, make) => {
  const modelProblems = (backend: Backend) => backend.outside?.modelProblems ?? [];

  test.each(CASES)('%s from %s: ends as the catalogue says, and the backend agrees', async (op, vmState) => {
    const backend = make();
    const { server, message, resourceId } = await prepare(b.table, backend, op, vmState);
    const { outcome, instance } = await drive(b.table, backend, message);
    expect(outcome).toBe('done');
    expect(instance.taskState).toBeUndefined();
    if (FAILS_FROM[op]?.includes(vmState)) {
      expect(instance.vmState).toBe(expectedVmState(op, server, false));
      expect(instance.fault?.message).toMatch(/not running/);
    } else {
      expect(instance.fault).toBeUndefined();
      expect(instance.vmState).toBe(expectedVmState(op, server));
      expect(backend.agrees(instance, op, resourceId)).toEqual([]);
    }
    expect(modelProblems(backend)).toEqual([]);
  });

  test.each(OPS)('%s: a worker dying after each call, then redelivered, neither repeats nor loses the call', async (op) => {
    const vmState = statesFor(op)[0]!;
    const plain = make();
    const first = await prepare(b.table, plain, op, vmState);
    const expected = await drive(b.table, plain, first.message);
    const calls = plain.effects();
    for (let k = 1; k <= calls; k++) {
      const backend = make();
      const { message, resourceId } = await prepare(b.table, backend, op, vmState);
      backend.crashAfterCall(k);
      const crashed = await drive(b.table, backend, message);
      expect(crashed.outcome).toBe('done');
      expect(crashed.crashes).toBe(name === 'simulated' && k === calls ? 0 : 1);
      expect(crashed.instance.vmState).toBe(expected.instance.vmState);
      expect(crashed.instance.powerState).toBe(expected.instance.powerState);
      expect(crashed.instance.fault).toBeUndefined();
      expect(backend.agrees(crashed.instance, op, resourceId)).toEqual([]);
      // RebootInstances and SendDiagnosticInterrupt leave nothing to read back: one whose answer
      // was lost is made again (docs/ec2.md). Every other call is seen by its effect, never made twice.
      if (name === 'ec2' && !RESENT.has(op)) expect(backend.effects()).toBe(calls);
    }
  });

  test.each(['rescue', 'unrescue', 'change_password'] as const)(
    '%s: refused at admission with Nova\'s 501 if the driver cannot carry it out, writing nothing; admitted otherwise', async (op) => {
      const backend = make();
      const vmState = statesFor(op)[0]!;
      const server = await seedInstance(b.table, { vmState, powerState: PowerState.RUNNING, flavorId: FLAVOR, imageId: IMAGE });
      const before = await readInstance(b.table, server.id);
      const queue = new CapturingQueue();
      const admitted = requestOperation({ table: b.table, queue, claimLeaseMs: 600_000, capabilities: backend.capabilities }, {
        instanceId: server.id, op, caller: alice, requestId: requestId(),
      });
      const after = async () => (await readInstance(b.table, server.id))!;
      if (backend.capabilities.unsupported.has(op)) {
        await expect(admitted).rejects.toThrow(new NotImplemented('The requested functionality is not supported.'));
        expect(await after()).toEqual(before);
        expect(queue.messages).toEqual([]);
        expect(backend.effects()).toBe(0);
      } else {
        await admitted;
        expect((await after()).taskState).toBe(operationRow(op).taskStates[0]);
        expect(queue.messages).toHaveLength(1);
      }
    },
  );

  test.each(['stop', 'create_image', 'create_backup'] as const)('%s: a duplicate delivery neither runs the operation twice nor undoes it', async (op) => {
    const backend = make();
    const { server, message } = await prepare(b.table, backend, op, 'active');
    const worker = { table: b.table, driver: backend.driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 };
    const first = await runOperation(worker, message);
    const effects = backend.effects();
    if (first !== 'done') {
      // Waiting on the backend: the copy delivered meanwhile finds the call made, and makes none.
      expect(await runOperation(worker, message)).toEqual({ resumeAfterSeconds: expect.any(Number) });
      expect(backend.effects()).toBe(effects);
      backend.advance();
      expect(await runOperation(worker, message)).toBe('done');
    }
    expect(await runOperation(worker, message)).toBe('dropped');
    const after = (await readInstance(b.table, message.instanceId))!;
    expect(after.vmState).toBe(expectedVmState(op, server));
    expect(after.fault).toBeUndefined();
    expect(backend.effects()).toBe(effects);
  });

  test.each(['create_image', 'create_backup'] as const)('%s: the image the request made is active in the image service', async (op) => {
    const backend = make();
    const { message } = await prepare(b.table, backend, op, 'active');
    const driven = await drive(b.table, backend, message);
    expect(driven.instance.fault).toBeUndefined();
    const image = (await readImage(b.table, (message.params.image as { id: string }).id))!;
    expect(image.status).toBe('active');
    if (name === 'ec2') {
      const amis = [...backend.outside!.images.values()];
      expect(image).toMatchObject({ ec2ImageId: amis[0]!.id, disk_format: 'ami', container_format: 'ami' });
      expect(amis[0]!.tags).toEqual(expect.arrayContaining([{ Key: 'taskgate:image', Value: image.id }, { Key: 'taskgate:stack', Value: 'conformance' }]));
    }
  });

  test('throttling delays the operation and changes nothing in its outcome', async () => {
    const backend = make();
    const { server, message } = await prepare(b.table, backend, 'reboot_hard', 'active');
    backend.throttleNext(3);
    const throttled = await drive(b.table, backend, message);
    expect(throttled.outcome).toBe('done');
    expect(throttled.instance.vmState).toBe(expectedVmState('reboot_hard', server));
    expect(throttled.instance.fault).toBeUndefined();
    expect(backend.agrees(throttled.instance, 'reboot_hard')).toEqual([]);
  });
});

describe('ec2 driver: EC2\'s own world', () => {
  test('an instance that vanished ends the operation at once with a fault naming it, never retried', async () => {
    const backend = ec2Backend();
    const { server, message } = await prepare(b.table, backend, 'stop', 'active');
    backend.outside!.forget(backend.outside!.serverInstances(server.id)[0]!.id);
    const driven = await drive(b.table, backend, message);
    expect(driven.invocations).toBe(1);
    expect(driven.instance.vmState).toBe(expectedVmState('stop', server, false));
    expect(driven.instance.fault?.message).toMatch(/vanished/);
  });

  test('a terminated instance is gone too', async () => {
    const backend = ec2Backend();
    const { server, message } = await prepare(b.table, backend, 'reboot_soft', 'active');
    backend.outside!.setState(backend.outside!.serverInstances(server.id)[0]!.id, 'terminated');
    const driven = await drive(b.table, backend, message);
    expect(driven.invocations).toBe(1);
    expect(driven.instance.fault?.message).toMatch(/vanished .*terminated/);
  });

  test.each(['InsufficientInstanceCapacity', 'InstanceLimitExceeded', 'InvalidParameterValue'])(
    'create refused with %s: the server is ERROR with a fault carrying EC2\'s code', async (code) => {
      const backend = ec2Backend();
      const { message } = await prepare(b.table, backend, 'create', 'building');
      backend.outside!.failNext('RunInstances', code);
      const driven = await drive(b.table, backend, message);
      expect(driven.invocations).toBe(1);
      expect(driven.instance.vmState).toBe('error');
      expect(driven.instance.fault?.message).toContain(`EC2 ${code}`);
    },
  );

  test('a redelivered create makes one instance: the ClientToken is the request id', async () => {
    const backend = ec2Backend();
    const { server, message } = await prepare(b.table, backend, 'create', 'building');
    backend.crashAfterCall(1);
    await drive(b.table, backend, message);
    const runs = backend.outside!.calls.filter((c) => c.action === 'RunInstances');
    expect(runs.map((c) => (c.input as { ClientToken: string }).ClientToken)).toEqual(runs.map(() => message.requestId));
    expect(backend.outside!.serverInstances(server.id)).toHaveLength(1);
    const tags = backend.outside!.serverInstances(server.id)[0]!.tags;
    expect(tags).toEqual(expect.arrayContaining([
      { Key: 'taskgate:server', Value: server.id }, { Key: 'taskgate:project', Value: server.projectId },
      { Key: 'taskgate:request', Value: message.requestId }, { Key: 'taskgate:stack', Value: 'conformance' },
    ]));
  });

  test('every catalogue operation has an EC2 plan or is declared unsupported', () => {
    expect([...OPS, ...Ec2Capabilities.unsupported].sort()).toEqual(Object.keys(OperationCatalogue).sort());
  });

  test('an unsupported operation on a server the caller cannot see is still Nova\'s 404 first', async () => {
    await expect(requestOperation({ table: b.table, queue: new CapturingQueue(), claimLeaseMs: 600_000, capabilities: Ec2Capabilities }, {
      instanceId: crypto.randomUUID(), op: 'rescue', caller: alice, requestId: requestId(),
    })).rejects.toThrow(/could not be found/);
  });

  test('an unsupported operation\'s message that reached the driver anyway (admitted before a driver change) ends with a fault', async () => {
    const backend = ec2Backend();
    const { server, message } = await prepare(b.table, backend, 'change_password', 'active');
    const driven = await drive(b.table, backend, message);
    expect(driven.invocations).toBe(1);
    expect(driven.instance.vmState).toBe(expectedVmState('change_password', server, false));
    expect(driven.instance.fault).toMatchObject({ code: 501, message: 'change_password is not supported by the EC2 driver' });
    expect(backend.effects()).toBe(0);
  });

  describe('createBackup\'s rotation', () => {
    /** Three backups of one server, the last with rotation 1: the two before it are rotated out. */
    async function threeBackups(backend: Backend, crashAt?: number) {
      const { server, message } = await prepare(b.table, backend, 'create_backup', 'active');
      await drive(b.table, backend, message);
      const ids = [(message.params.image as { id: string }).id];
      for (const rotation of [2, 1]) {
        const queue = new CapturingQueue();
        const id = requestId();
        await requestOperation({ table: b.table, queue, claimLeaseMs: 600_000 }, {
          instanceId: server.id, op: 'create_backup', caller: alice, requestId: id, params: snapshotParams('create_backup', id, server, rotation),
        });
        const next = queue.messages.at(-1)!;
        ids.push((next.params.image as { id: string }).id);
        if (rotation === 1 && crashAt !== undefined) backend.crashAfterCall(crashAt);
        const driven = await drive(b.table, backend, next);
        expect(driven.instance.fault).toBeUndefined();
      }
      return ids;
    }

    test('deregisters the AMIs of the backups beyond it, then their snapshots, and the image service deletes them', async () => {
      const backend = ec2Backend(b.table);
      const ec2 = backend.outside!;
      // A snapshot of this stack that no rotated backup made must stay.
      ec2.snapshots.set('snap-0other', { id: 'snap-0other', tags: [{ Key: 'taskgate:stack', Value: 'conformance' }] });
      const [oldest, older, newest] = await threeBackups(backend);
      const amis = [...ec2.images.values()];
      expect(amis.map((a) => a.name)).toEqual([`taskgate-${newest}`]);
      expect([...ec2.snapshots.values()].map((x) => x.id).sort()).toEqual([amis[0]!.snapshotId, 'snap-0other'].sort());
      expect((await readImage(b.table, oldest!))!.status).toBe('deleted');
      expect((await readImage(b.table, older!))!.status).toBe('deleted');
      expect((await readImage(b.table, newest!))!.status).toBe('active');
      expect(ec2.calls.filter((c) => c.action === 'DeregisterImage' || c.action === 'DeleteSnapshot').map((c) => c.action))
        .toEqual(['DeregisterImage', 'DeregisterImage', 'DeleteSnapshot', 'DeleteSnapshot']);
    });

    test.each([1, 2, 3, 4, 5])('a worker dying after call %i of the last backup: the rotation finishes, nothing is called twice', async (k) => {
      const backend = ec2Backend(b.table);
      const ec2 = backend.outside!;
      const [, , newest] = await threeBackups(backend, k);
      expect([...ec2.images.values()].map((a) => a.name)).toEqual([`taskgate-${newest}`]);
      expect(ec2.snapshots.size).toBe(1);
      expect(ec2.calls.filter((c) => c.effect && c.action !== 'CreateImage')).toHaveLength(4);
      expect(ec2.calls.filter((c) => c.effect && c.action === 'CreateImage')).toHaveLength(3);
    });
  });

  describe('os-getConsoleOutput', () => {
    const GUEST = ['[    0.000000] Linux version 6.1.0', 'cloud-init: boot finished', 'ip-10-0-0-5 login: '].join('\r\n') + '\r\n';

    test('is GetConsoleOutput of the server\'s instance, base64-decoded, the last `length` lines as Nova\'s _tail_log', async () => {
      const backend = ec2Backend(b.table);
      const { server } = await prepare(b.table, backend, 'stop', 'active');
      backend.outside!.serverInstances(server.id)[0]!.console = GUEST;
      const reader = ec2Console(backend.outside!.client, 'conformance');
      expect(await consoleOutput(b.table, alice, server.id, undefined, reader)).toBe('[    0.000000] Linux version 6.1.0\ncloud-init: boot finished\nip-10-0-0-5 login: ');
      expect(await consoleOutput(b.table, alice, server.id, 2, reader)).toBe('cloud-init: boot finished\nip-10-0-0-5 login: ');
      const asked = backend.outside!.calls.filter((c) => c.action === 'GetConsoleOutput').map((c) => c.input);
      expect(asked).toEqual([{ InstanceId: backend.outside!.serverInstances(server.id)[0]!.id, Latest: true }, expect.anything()]);
      expect(backend.outside!.modelProblems).toEqual([]);
    });

    test('an instance type without a live console gives what EC2 captured last', async () => {
      const backend = ec2Backend(b.table);
      const { server } = await prepare(b.table, backend, 'stop', 'active');
      Object.assign(backend.outside!.serverInstances(server.id)[0]!, { console: GUEST, latest: false });
      expect(await consoleOutput(b.table, alice, server.id, 1, ec2Console(backend.outside!.client, 'conformance'))).toBe('ip-10-0-0-5 login: ');
    });

    test('a server whose instance is gone is Nova\'s 404; another project\'s server too, without asking EC2', async () => {
      const backend = ec2Backend(b.table);
      const { server } = await prepare(b.table, backend, 'stop', 'active');
      const reader = ec2Console(backend.outside!.client, 'conformance');
      await expect(consoleOutput(b.table, mallory, server.id, undefined, reader)).rejects.toThrow(/could not be found/);
      expect(backend.outside!.calls).toEqual([]);
      backend.outside!.setState(backend.outside!.serverInstances(server.id)[0]!.id, 'terminated');
      await expect(consoleOutput(b.table, alice, server.id, undefined, reader)).rejects.toThrow(/could not be found/);
    });
  });

  test('pause needs hibernation: without it the operation fails with a fault, the server stays active', async () => {
    const backend = ec2Backend();
    const { server, message } = await prepare(b.table, backend, 'pause', 'active');
    const inst = backend.outside!.serverInstances(server.id)[0]!;
    inst.hibernation = false;
    const driven = await drive(b.table, backend, message);
    expect(driven.instance.vmState).toBe('active');
    expect(driven.instance.fault?.message).toMatch(/hibernation/);
    expect(inst.state).toBe('running');
  });

  test('an operation that waits on EC2 longer than its limit ends in error instead of polling forever', async () => {
    const backend = ec2Backend();
    const { server, message } = await prepare(b.table, backend, 'stop', 'active');
    backend.outside!.serverInstances(server.id)[0]!.state = 'stopping';
    // EC2 never finishes stopping; the driver's clock is past the limit of the operation.
    const late = new Ec2Driver(backend.outside!.client, { ...EC2_TEST_SETTINGS(), operationTimeoutSeconds: 60 }, { now: () => Date.now() + 61_000 });
    const driven = await drive(b.table, { ...backend, driver: late.asComputeDriver(), advance: () => undefined }, message);
    expect(driven.invocations).toBe(1);
    expect(driven.instance.vmState).toBe('active');
    expect(driven.instance.fault?.message).toMatch(/did not finish stop/);
  });

  test('a run superseded while it looks at EC2 makes no call: each call is fenced by a checkpoint', async () => {
    const backend = ec2Backend();
    const { server, message } = await prepare(b.table, backend, 'stop', 'active');
    backend.outside!.beforeNext('DescribeInstances', async () => {
      await requestOperation({ table: b.table, queue: new CapturingQueue(), claimLeaseMs: 600_000 }, {
        instanceId: server.id, op: 'delete', caller: alice, requestId: requestId(),
      });
    });
    const worker = { table: b.table, driver: backend.driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 };
    expect(await runOperation(worker, message)).toBe('dropped');
    expect(backend.outside!.calls.map((c) => c.action)).toEqual(['DescribeInstances']);
    expect(backend.outside!.serverInstances(server.id)[0]!.state).toBe('running');
  });

  describe('drift', () => {
    const ec2Of = (backend: Backend) => backend.outside!;

    test('an instance stopped outside taskgate: the idle server becomes stopped', async () => {
      const backend = ec2Backend();
      const { server, message } = await prepare(b.table, backend, 'reboot_soft', 'active');
      await drive(b.table, backend, message);
      const inst = ec2Of(backend).serverInstances(server.id)[0]!;
      inst.state = 'stopped';
      expect(await onStateChange(b.table, ec2Of(backend).client, 'conformance', inst.id, () => Date.now() + 1000)).toBe(true);
      const after = (await readInstance(b.table, server.id))!;
      expect(after.vmState).toBe('stopped');
      expect(after.powerState).toBe(PowerState.SHUTDOWN);
    });

    test('never over a claim in flight', async () => {
      const backend = ec2Backend();
      const { server } = await prepare(b.table, backend, 'reboot_hard', 'active');
      const inst = ec2Of(backend).serverInstances(server.id)[0]!;
      inst.state = 'stopped';
      expect(await onStateChange(b.table, ec2Of(backend).client, 'conformance', inst.id, () => Date.now() + 1000)).toBe(false);
      const after = (await readInstance(b.table, server.id))!;
      expect(after.vmState).toBe('active');
      expect(after.taskState).toBe('rebooting_hard');
    });

    test('never over a change made after EC2 was read (a late event)', async () => {
      const backend = ec2Backend();
      const { server, message } = await prepare(b.table, backend, 'stop', 'active');
      const inst = ec2Of(backend).serverInstances(server.id)[0]!;
      const readBefore = Date.now() - 60_000;
      await drive(b.table, backend, message);
      inst.state = 'running';
      expect(await onStateChange(b.table, ec2Of(backend).client, 'conformance', inst.id, () => readBefore)).toBe(false);
      expect((await readInstance(b.table, server.id))!.vmState).toBe('stopped');
    });

    test('the periodic reconcile finds what no event reported, terminated instances included', async () => {
      const backend = ec2Backend();
      const stopped = await prepare(b.table, backend, 'reboot_soft', 'active');
      const gone = await prepare(b.table, backend, 'reboot_soft', 'active');
      await drive(b.table, backend, stopped.message);
      await drive(b.table, backend, gone.message);
      ec2Of(backend).serverInstances(stopped.server.id)[0]!.state = 'stopped';
      ec2Of(backend).serverInstances(gone.server.id)[0]!.state = 'terminated';
      const result = await reconcile(b.table, ec2Of(backend).client, 'conformance', () => Date.now() + 1000);
      expect(result.changed).toBe(2);
      expect((await readInstance(b.table, stopped.server.id))!.vmState).toBe('stopped');
      const lost = (await readInstance(b.table, gone.server.id))!;
      expect(lost.vmState).toBe('error');
      expect(lost.fault?.message).toMatch(/terminated outside taskgate/);
    });
  });
});
