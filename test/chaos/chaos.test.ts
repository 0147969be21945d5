import { runChaos } from './harness.js';

// The seeded chaos run at CI size: a random workload from 8 clients on shared instances,
// volumes and ports, with every injected fault (driver failures, crashes and hangs, killed API
// and compute invocations, lost, late and duplicated messages, failed sends, throttling), then
// quiescence and the history checker. A failure prints the seed: `npm run chaos -- --seed N`.

const SEED = Number(process.env.TASKGATE_CHAOS_SEED ?? 20_309);

it(`chaos (seed ${SEED}): every invariant holds over the recorded history`, async () => {
  const report = await runChaos({ seed: SEED, operations: 300, clients: 8, instances: 10, volumes: 5, ports: 5 });
  expect(report.quiescent).toBe(true);
  // The run did what it is for: faults of every kind fired and operations were accepted.
  for (const kind of ['driver.fail', 'driver.hang', 'worker.kill', 'api.kill', 'queue.sendFailure', 'dynamodb.throttle']) {
    expect(report.faults[kind] ?? 0).toBeGreaterThan(0);
  }
  expect(Object.values(report.outcomes).reduce((a, b) => a + b, 0)).toBeGreaterThan(30);
  expect(report.violations).toEqual([]);
}, 300_000);
