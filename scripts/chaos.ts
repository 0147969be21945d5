import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runChaos } from '../test/chaos/harness.js';

// `npm run chaos -- --seed 7 --ops 5000`: a larger chaos run than the default suite's. Prints
// the operations sent, the faults injected by kind, the outcomes, placement's figures and every
// violation found (`--history FILE` keeps the recorded history); exits 1 if there was one.

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '7' }, ops: { type: 'string', default: '2000' },
    clients: { type: 'string', default: '12' }, instances: { type: 'string', default: '24' },
    volumes: { type: 'string', default: '10' }, ports: { type: 'string', default: '10' },
    faults: { type: 'string', default: '1' },
    history: { type: 'string' },
  },
});
const report = await runChaos({
  seed: Number(values.seed), operations: Number(values.ops), clients: Number(values.clients),
  instances: Number(values.instances), volumes: Number(values.volumes), ports: Number(values.ports),
  faultLevel: Number(values.faults),
});
const { violations, history, ...figures } = report;
// --history FILE: the recorded history as JSON, one event a line, to read a violation's writes.
if (values.history) writeFileSync(values.history, history.map((e) => JSON.stringify(e)).join('\n'));
console.log(JSON.stringify(figures, null, 2));
console.log(`violations: ${violations.length}`);
for (const v of violations.slice(0, 50)) console.log(`  [${v.invariant}] ${v.message}`);
process.exit(violations.length > 0 ? 1 : 0);
