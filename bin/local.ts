import { identityConfig } from '../functions/core/config.js';
import { identityProvider } from '../functions/core/identity/fromConfig.js';
import { simulatedDriverOptionsFromEnv } from '../functions/core/simulatedDriver.js';
import { startRuntime } from '../local/runtime.js';

// `npm start`: taskgate on its embedded default. Nothing to install but Node. Identity: whatever
// TASKGATE_AUTH_MODE names; unset, development mode (noauth), with a warning.

const authModeGiven = !!process.env.TASKGATE_AUTH_MODE;
const identity = identityProvider(identityConfig({ ...process.env, TASKGATE_AUTH_MODE: process.env.TASKGATE_AUTH_MODE || 'noauth' }));
if (!authModeGiven) {
  console.warn('WARNING: TASKGATE_AUTH_MODE is not set: development mode (noauth). Anyone who reaches this port can act\n'
    + '  as any user of any project (X-Auth-Token: <user>:<project>; user admin is an administrator).\n'
    + '  Set TASKGATE_AUTH_MODE=keystone or jwt to authenticate for real (README, "Identity").');
}

const port = Number(process.env.PORT ?? 8774);
const runtime = await startRuntime({
  port,
  host: process.env.HOST ?? '127.0.0.1',
  driver: simulatedDriverOptionsFromEnv(),
  dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
  sweepIntervalMs: Number(process.env.TASKGATE_SWEEP_SECONDS ?? 60) * 1000,
  identity,
});

console.log(`taskgate API listening on ${runtime.apiUrl}`);
console.log(`  DynamoDB (${process.env.TASKGATE_DYNAMODB_ENDPOINT ? 'external' : 'dynalite'}): ${runtime.emulators.dynamodbEndpoint}, table ${runtime.emulators.tableName}`);
console.log(`  SQS (fauxqs): ${runtime.emulators.queueUrl}`);
console.log(`  compute worker running; each driver step takes ${runtime.driver ? simulatedDriverOptionsFromEnv().stepMs : 0} ms`);
console.log(`  identity: ${identity.mode}`);
if (identity.mode === 'noauth') console.log('  try: curl -s -H "X-Auth-Token: alice:demo" ' + `${runtime.apiUrl}/flavors`);
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
