import { setTimeout as sleep } from 'node:timers/promises';
import { ec2Client } from '../../functions/core/compute/ec2/client.js';
import { Ec2Driver } from '../../functions/core/compute/ec2/ec2Driver.js';
import { serverInstance } from '../../functions/core/compute/ec2/observe.js';
import type { OperationName } from '../../functions/core/compute/catalogue.js';
import { requestOperation } from '../../functions/core/compute/admission.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { ec2Settings } from '../../functions/core/shared/config.js';
import { PowerState } from '../../functions/core/compute/states.js';
import { alice, CapturingQueue, requestId, seedInstance, startBackends, type TestBackends } from '../support/emulators.js';

// The EC2 driver over HTTP, opt-in (docs/ec2.md): TASKGATE_EC2_ENDPOINT=<any EC2-compatible
// endpoint>, or TASKGATE_EC2_LIVE=1 for the region's real EC2 (never in CI: it starts instances
// and costs money). The driver's settings come from the same variables the compute function
// reads (TASKGATE_EC2_SUBNET_ID, ..., TASKGATE_EC2_AMIS with the image id below). One server goes
// through create, stop, start, hard reboot, resize and delete; each waits for EC2 the way the
// queue would, a delivery every poll interval, bounded.

const enabled = Boolean(process.env.TASKGATE_EC2_ENDPOINT) || process.env.TASKGATE_EC2_LIVE === '1';
const IMAGE = process.env.TASKGATE_EC2_TEST_IMAGE ?? 'image';
const [FLAVOR, FLAVOR2] = (process.env.TASKGATE_EC2_TEST_FLAVORS ?? '1,2').split(',');

(enabled ? describe : describe.skip)('EC2 driver against an EC2 endpoint over HTTP', () => {
  let b: TestBackends;
  beforeAll(async () => { b = await startBackends(); });
  afterAll(async () => { await b?.stop(); });

  test('create, stop, start, hard reboot, resize, confirm, delete', async () => {
    const settings = { ...ec2Settings(process.env), pollSeconds: Number(process.env.TASKGATE_EC2_POLL_SECONDS ?? 5) };
    const ec2 = ec2Client(settings);
    const driver = new Ec2Driver(ec2, settings).asComputeDriver();
    const server = await seedInstance(b.table, { vmState: 'building', powerState: PowerState.NOSTATE, flavorId: FLAVOR!, imageId: IMAGE });
    const run = async (op: OperationName, params: Record<string, unknown> = {}) => {
      const queue = new CapturingQueue();
      await requestOperation({ table: b.table, queue, claimLeaseMs: 3_600_000 }, { instanceId: server.id, op, caller: alice, requestId: requestId(), params });
      for (let delivery = 0; delivery < 120; delivery++) {
        const outcome = await runOperation({ table: b.table, driver, runLeaseMs: 60_000, claimLeaseMs: 3_600_000 }, queue.messages[0]!);
        if (typeof outcome !== 'object') return outcome;
        await sleep(outcome.resumeAfterSeconds * 1000);
      }
      throw new Error(`${op} did not finish`);
    };
    const state = async () => (await serverInstance(ec2, settings.stackTag, server.id))?.state;
    try {
      expect(await run('create')).toBe('done');
      expect(await state()).toBe('running');
      expect(await run('stop')).toBe('done');
      expect(await state()).toBe('stopped');
      expect(await run('start')).toBe('done');
      expect(await run('reboot_hard')).toBe('done');
      expect(await state()).toBe('running');
      expect(await run('resize', { flavorRef: FLAVOR2 })).toBe('done');
      expect((await serverInstance(ec2, settings.stackTag, server.id))?.instanceType).toBe(settings.instanceTypes[FLAVOR2!]);
      expect(await run('confirm_resize')).toBe('done');
    } finally {
      expect(await run('delete')).toBe('done');
    }
    expect(['terminated', undefined]).toContain(await state());
  }, 3_600_000);
});
