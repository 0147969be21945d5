import { driverSettings, EnvReader } from '../functions/core/config.js';
import { failAtFromSetting } from '../local/faults.js';
import { startRuntime } from '../local/runtime.js';

// `npm start`: taskgate on its embedded default. Nothing to install but Node.

const port = Number(process.env.PORT ?? 8774);
const { stepMs } = driverSettings(process.env);
const failAt = new EnvReader(process.env).string('TASKGATE_DRIVER_FAIL_AT');
const runtime = await startRuntime({
  port,
  host: process.env.HOST ?? '127.0.0.1',
  driver: { stepMs, beforeStep: failAt ? failAtFromSetting('TASKGATE_DRIVER_FAIL_AT', failAt) : undefined },
  dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
  sweepIntervalMs: Number(process.env.TASKGATE_SWEEP_SECONDS ?? 60) * 1000,
});

console.log(`taskgate API listening on ${runtime.apiUrl}`);
console.log(`  DynamoDB (${process.env.TASKGATE_DYNAMODB_ENDPOINT ? 'external' : 'dynalite'}): ${runtime.emulators.dynamodbEndpoint}, table ${runtime.emulators.tableName}`);
console.log(`  SQS (fauxqs): ${runtime.emulators.queueUrl}`);
console.log(`  compute worker running; each driver step takes ${stepMs} ms${failAt ? `; ${failAt} fails` : ''}`);
console.log('  try: curl -s -H "X-Auth-Token: alice:demo" ' + `${runtime.apiUrl}/flavors`);
console.log('Ctrl-C to stop.');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping taskgate...');
  await runtime.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
