import { identityProvider } from '../functions/core/identity/fromConfig.js';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, EnvReader, driverSettings, identityConfig, localSettingsFromEnv, publicUrlSettings, timingsFromEnv } from '../functions/core/config.js';
import { failAtFromSetting } from '../local/faults.js';
import { startRuntime } from '../local/runtime.js';

// `npm start`: taskgate on its embedded default. Nothing to install but Node. State is kept in
// a data directory (TASKGATE_DATA_DIR, default .data/ under the project); `npm start -- --fresh`
// empties it first.
// Identity: whatever TASKGATE_AUTH_MODE names; unset, development mode (noauth), with a warning.

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
let settings: ReturnType<typeof localSettingsFromEnv>;
let timings: ReturnType<typeof timingsFromEnv>;
let driverConfig: ReturnType<typeof driverSettings>;
let failAt: string | undefined;
let beforeStep: ReturnType<typeof failAtFromSetting> | undefined;
let fresh: boolean;
let publicUrl: string | undefined;
try {
  settings = localSettingsFromEnv(process.env, projectRoot);
  timings = timingsFromEnv(process.env);
  publicUrl = publicUrlSettings(new EnvReader(process.env)).publicUrl;
  driverConfig = driverSettings(process.env);
  failAt = process.env.TASKGATE_DRIVER_FAIL_AT || undefined;
  beforeStep = failAt ? failAtFromSetting('TASKGATE_DRIVER_FAIL_AT', failAt) : undefined;
  fresh = parseArgs({ options: { fresh: { type: 'boolean', default: false } } }).values.fresh ?? false;
} catch (err) {
  if (!(err instanceof ConfigError) && !(err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw err;
  console.error(`taskgate: ${(err as Error).message}`);
  process.exit(2);
}

const authModeGiven = !!process.env.TASKGATE_AUTH_MODE;
let identity: ReturnType<typeof identityProvider>;
try {
  identity = identityProvider(identityConfig({ ...process.env, TASKGATE_AUTH_MODE: process.env.TASKGATE_AUTH_MODE || 'noauth' }));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`taskgate: ${err.message}`);
  process.exit(2);
}
if (!authModeGiven) {
  console.warn('WARNING: TASKGATE_AUTH_MODE is not set: development mode (noauth). Anyone who reaches this port can act\n'
    + '  as any user of any project (X-Auth-Token: <user>:<project>; user admin is an administrator).\n'
    + '  Set TASKGATE_AUTH_MODE=keystone or jwt to authenticate for real (README, "Identity").');
}

if (fresh && settings.dataDir) await rm(settings.dataDir, { recursive: true, force: true });
const driver = { stepMs: driverConfig.stepMs, beforeStep };
const runtime = await startRuntime({
  port: settings.port, host: settings.host, driver, timings,
  dynamodbEndpoint: settings.dynamodbEndpoint, dataDir: settings.dataDir,
  publicUrl,
  identity,
});

console.log(`taskgate API listening on ${runtime.apiUrl}`);
console.log(settings.dataDir
  ? `  data directory: ${settings.dataDir}${fresh ? ' (started afresh)' : ''} (npm start -- --fresh to empty it)`
  : '  data: in memory (TASKGATE_DATA_DIR=memory), lost on stop');
console.log(`  DynamoDB (${settings.dynamodbEndpoint ? 'external' : 'dynalite'}): ${runtime.emulators.dynamodbEndpoint}, table ${runtime.emulators.tableName}`);
console.log(`  SQS (fauxqs): ${runtime.emulators.queueUrl}`);
console.log(`  compute worker running; each driver step takes ${driver.stepMs} ms${failAt ? `; ${failAt} fails` : ''}`);
console.log(`  identity: ${identity.mode}`);
if (identity.mode === 'noauth') console.log('  try: curl -s -H "X-Auth-Token: alice:demo" ' + `${runtime.apiUrl}/flavors`);
console.log('Ctrl-C to stop.');

// The first signal stops; in-flight requests get a moment to answer, running operations are
// left to their messages (redelivered after a restart, as after a Lambda timeout).
const GRACE_MS = 1500;
let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping taskgate...`);
  // Whatever happens to the orderly stop, exit soon.
  setTimeout(() => process.exit(0), 2 * GRACE_MS + 1000).unref();
  runtime.stop({ graceMs: GRACE_MS })
    .catch((err) => console.error('stop failed', (err as Error).message))
    .finally(() => process.exit(0));
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
