import { performance } from 'node:perf_hooks';
import type { OperationName } from '../functions/core/compute/catalogue.js';
import { Plans } from '../functions/core/compute/ec2/plans.js';
import { runOperation, type WorkOutcome } from '../functions/core/compute/worker.js';
import { ec2Backend, prepare, statesFor } from '../test/support/driverConformance.js';
import { startBackends } from '../test/support/emulators.js';

// npm run bench:ec2: what each operation costs on the EC2 driver, on the recorded run (the EC2
// double of test/support/ec2 over dynalite): EC2 calls, Lambda invocations (deliveries of its
// message) and the compute time they spend, with EC2 finishing each transition by the next
// look. Then the same stop with EC2 taking 1 to 16 looks to stop: invocations grow with EC2's
// time divided by the poll interval, the time each one computes does not, and no invocation
// waits. Figures go to docs/ec2.md.

const b = await startBackends();
const worker = (driver: Parameters<typeof runOperation>[0]['driver']) => ({ table: b.table, driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 });

async function measure(op: OperationName, looksPerTransition = 1) {
  const backend = ec2Backend(b.table);
  const { message } = await prepare(b.table, backend, op, statesFor(op)[0]!);
  const ec2 = backend.outside!;
  const before = ec2.calls.length;
  let invocations = 0;
  let computeMs = 0;
  let outcome: WorkOutcome;
  do {
    invocations++;
    const t0 = performance.now();
    outcome = await runOperation(worker(backend.driver), message);
    computeMs += performance.now() - t0;
    if (typeof outcome === 'object' && invocations % looksPerTransition === 0) ec2.advance();
  } while (typeof outcome === 'object' || outcome === 'retry');
  const calls = ec2.calls.slice(before);
  return {
    op, outcome, invocations, calls: calls.length,
    mutating: calls.filter((c) => !c.action.startsWith('Describe')).map((c) => c.action).join(' + ') || '-',
    computeMs, perInvocationMs: computeMs / invocations,
  };
}

// Warm the module graph and dynalite first: the first operation would otherwise carry it.
await measure('stop');

const rows = [];
for (const op of Object.keys(Plans) as OperationName[]) rows.push(await measure(op));
console.log('| operation | EC2 calls | of which change EC2 | Lambda invocations | compute ms (total) | ms / invocation |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.op} | ${r.calls} | ${r.mutating} | ${r.invocations} | ${r.computeMs.toFixed(1)} | ${r.perInvocationMs.toFixed(1)} |`);
}

console.log('\nstop, with EC2 taking longer to stop (looks before the instance is stopped):');
console.log('| looks | EC2 calls | Lambda invocations | compute ms (total) | ms / invocation | GB-s at 512 MB |');
console.log('|---|---|---|---|---|---|');
for (const looks of [1, 2, 4, 8, 16]) {
  const r = await measure('stop', looks);
  console.log(`| ${looks} | ${r.calls} | ${r.invocations} | ${r.computeMs.toFixed(1)} | ${r.perInvocationMs.toFixed(1)} | ${(r.computeMs / 1000 * 0.5).toFixed(4)} |`);
}
await b.stop();
