import { runChaos } from './harness.js';

// The seeded chaos run at CI size (part of `npm test`; under half a minute on two cores): a random
// workload from 8 clients on shared instances, volumes and ports, with every injected fault
// (driver failures, crashes and hangs, killed API and compute invocations, lost, late and
// duplicated messages, failed sends, throttling), on four small hosts under a project quota the
// workload reaches and with creates into an anti-affinity group, then quiescence and the history
// checker, for two seeds. A failure prints the seed: `npm run chaos -- --seed N` runs it again, larger.
// TASKGATE_CHAOS_SEED runs one seed of your choice instead.

const SEEDS = process.env.TASKGATE_CHAOS_SEED ? [Number(process.env.TASKGATE_CHAOS_SEED)] : [20_309, 7];

it.each(SEEDS)('chaos (seed %i): every invariant holds over the recorded history', async (seed) => {
  // 1,000 operations: at 500, a kind that fires a few times a run (a worker killed at its Nth
  // write fires only if the run reaches that write) was sometimes drawn 0 times, and the run
  // then proved nothing of it.
  const report = await runChaos({ seed, operations: 1_000, clients: 8, instances: 10, volumes: 5, ports: 5 });
  expect(report.quiescent).toBe(true);
  // The run did what it is for: faults of every kind fired and operations were accepted.
  for (const kind of ['driver.fail', 'driver.hang', 'worker.kill', 'api.kill', 'queue.sendFailure', 'dynamodb.throttle']) {
    expect(report.faults[kind] ?? 0).toBeGreaterThan(0);
  }
  expect(Object.values(report.outcomes).reduce((a, b) => a + b, 0)).toBeGreaterThan(50);
  // Clients retried keyed requests whose answers were lost, so "one key, one effect" was put to the test.
  expect(report.keyedRetriesAfterLoss).toBeGreaterThan(0);
  // Placement was pressed: hosts filled (NoValidHost), the quota was reached, and each placement
  // invariant had writes to check, the anti-affinity one at least two members placed at once or in turn.
  expect(report.placement.noValidHost).toBeGreaterThan(0);
  expect(report.placement.quotaRefusals).toBeGreaterThan(0);
  expect(report.placement.checked.hostWrites).toBeGreaterThan(0);
  expect(report.placement.checked.usageWrites).toBeGreaterThan(0);
  expect(report.placement.checked.groupMembersPlaced).toBeGreaterThan(1);
  expect(report.violations).toEqual([]);
}, 300_000);
