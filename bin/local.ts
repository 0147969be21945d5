import { identityProvider } from '../functions/core/identity/fromConfig.js';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ConfigError, EnvReader, driverSettings, identityConfig, idempotencySettings, localSettingsFromEnv, projectSpreads, publicUrlSettings, timingsFromEnv,
} from '../functions/core/shared/config.js';
import { failAtFromSetting } from '../local/faults.js';
import { checkDataDirFree, LocalStartError } from '../local/emulators.js';
import { startRuntime } from '../local/runtime.js';

// `npm start`: taskgate on its embedded default. Nothing to install but Node. State is kept in
// a data directory (TASKGATE_DATA_DIR, default .data/ under the project); `npm start -- --fresh`
// empties it first.
// Identity: whatever TASKGATE_AUTH_MODE names; unset, development mode (noauth), with a warning.
// This is a command: its banner, its warning and the errors that stop it are for the person at
// the terminal, so they are printed as text (console); what the running services log once started
// is the Lambda functions' structured JSON (functions/observability logger), as on AWS.

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

const USAGE = `Usage: npm start [-- --fresh]
taskgate on its embedded default: the API, the compute worker and the sweeper, with DynamoDB
(dynalite) and SQS (fauxqs) in this process, their state in a data directory.

Options:
  --fresh      empty the data directory first
  -h, --help   print this and exit

Environment (README, "Settings for npm start"):
  PORT, HOST                   where the API listens (8774, 127.0.0.1; PORT=0: any free port)
  TASKGATE_DATA_DIR            the data directory (.data under the project; memory: keep nothing)
  TASKGATE_AUTH_MODE           noauth (unset: development mode, anyone may act as anyone), keystone or jwt
  TASKGATE_PUBLIC_URL          the base URL of the links in answers (http://<HOST>:<PORT>)
  TASKGATE_DYNAMODB_ENDPOINT   use this DynamoDB (e.g. DynamoDB Local) instead of dynalite
  TASKGATE_DRIVER_STEP_MS      time each simulated driver step takes (300)
  TASKGATE_DRIVER_FAIL_AT      <operation>:<step> makes that step fail, e.g. rebuild:spawn
  TASKGATE_PROJECT_SPREAD      projects whose creates and deletes spread over more keys (docs/write-units.md)
  TASKGATE_*_SECONDS           durations: API and compute timeouts, visibility timeout, lease margin, sweep interval
`;
let settings: ReturnType<typeof localSettingsFromEnv>;
let timings: ReturnType<typeof timingsFromEnv>;
let driverConfig: ReturnType<typeof driverSettings>;
let failAt: string | undefined;
let beforeStep: ReturnType<typeof failAtFromSetting> | undefined;
let fresh: boolean;
let publicUrl: string | undefined;
let idempotency: ReturnType<typeof idempotencySettings>;
let spreads: ReturnType<typeof projectSpreads>;
try {
  settings = localSettingsFromEnv(process.env, projectRoot);
  timings = timingsFromEnv(process.env);
  publicUrl = publicUrlSettings(new EnvReader(process.env)).publicUrl;
  idempotency = idempotencySettings(process.env);
  spreads = projectSpreads(process.env);
  driverConfig = driverSettings(process.env);
  failAt = process.env.TASKGATE_DRIVER_FAIL_AT || undefined;
  beforeStep = failAt ? failAtFromSetting('TASKGATE_DRIVER_FAIL_AT', failAt) : undefined;
  const args = parseArgs({ options: { fresh: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } }).values;
  if (args.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  fresh = args.fresh ?? false;
} catch (err) {
  const badArgument = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  if (!(err instanceof ConfigError) && !badArgument) throw err;
  console.error(`taskgate: ${(err as Error).message}${badArgument ? ' (npm start -- --help for usage)' : ''}`);
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
const driver = { stepMs: driverConfig.stepMs, beforeStep };
let runtime: Awaited<ReturnType<typeof startRuntime>>;
try {
  if (fresh && settings.dataDir) {
    await checkDataDirFree(settings.dataDir); // not from under another taskgate's feet
    await rm(settings.dataDir, { recursive: true, force: true });
  }
  runtime = await startRuntime({
    port: settings.port, host: settings.host, driver, timings,
    dynamodbEndpoint: settings.dynamodbEndpoint, dataDir: settings.dataDir,
    publicUrl,
    identity,
    idempotency,
    projectSpreads: spreads,
  });
} catch (err) {
  // What a user can put right gets one line, not a stack.
  if (err instanceof LocalStartError) console.error(`taskgate: ${err.message}`);
  else if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`taskgate: port ${settings.port} on ${settings.host} is in use (another taskgate, or another program): `
      + 'stop it, or set PORT to another port (PORT=0: any free port)');
  } else throw err;
  process.exit(1);
}

// Once started, so that a start that fails prints one line: why.
if (!authModeGiven) {
  console.warn('WARNING: TASKGATE_AUTH_MODE is not set: development mode (noauth). Anyone who reaches this port can act\n'
    + '  as any user of any project (X-Auth-Token: <user>:<project>; user admin is an administrator).\n'
    + '  Set TASKGATE_AUTH_MODE=keystone or jwt to authenticate for real (README, "Identity").');
}
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
