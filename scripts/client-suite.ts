import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { identityConfig } from '../functions/core/shared/config.js';
import { identityProvider } from '../functions/core/identity/fromConfig.js';
import { startRuntime, type Runtime } from '../local/runtime.js';
import { keystoneModeSettings, startKeystone, type Keystone } from './keystone/harness.js';

// `npm run test:clients`: the OpenStack clients operators already use, python-novaclient and
// openstacksdk (Debian's packages, under Debian's /usr/bin/python3, not a pyenv python), run
// unchanged against taskgate in Keystone mode. A real Keystone (scripts/keystone/, a minute or
// two to start) issues the tokens; taskgate validates them with its service user, configured
// through the same settings `npm start` reads; the compute endpoint in Keystone's catalog points
// at taskgate. The suites log in with a password from a clouds.yaml and find taskgate through the
// catalog, as a user would. Each suite asserts its own steps; this runner fails if any step failed.

const PYTHON = process.env.TASKGATE_CLIENT_PYTHON ?? '/usr/bin/python3';
/** Each suite acts in its own project, so that its listings see only its own servers. */
const SUITES = [
  { file: 'novaclient_suite.py', project: 'alpha' },
  { file: 'openstacksdk_suite.py', project: 'beta' },
  // A new user's first session with the `openstack` and `nova` commands: images, flavors and
  // networks by name, volumes through Cinder, all found in the catalog.
  { file: 'cli_tour.py', project: 'gamma' },
] as const;
const dir = fileURLToPath(new URL('../test/clients/', import.meta.url));

const probe = spawnSync(PYTHON, ['-c', 'import novaclient, openstack, openstackclient, keystoneauth1'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.error(`${PYTHON} cannot import novaclient and openstack: install them with\n`
    + '  apt-get install -y python3-novaclient python3-openstacksdk python3-openstackclient\n' + (probe.stderr ?? probe.error?.message ?? ''));
  process.exit(2);
}

let keystone: Keystone | undefined;
let runtime: Runtime | undefined;
let failed = 0;
try {
  const started = Date.now();
  keystone = await startKeystone({ projects: SUITES.map((s) => s.project) });
  console.log(`Keystone on ${keystone.authUrl} (${Math.round((Date.now() - started) / 1000)} s to set up)`);

  const identity = identityProvider(identityConfig(keystoneModeSettings(keystone)));
  // Driver steps long enough that an operation is still running when the suites send a
  // conflicting one, short enough that the whole run takes seconds.
  runtime = await startRuntime({ port: 0, driver: { stepMs: 300 }, identity, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
  await keystone.registerCompute(runtime.apiUrl);
  const clouds = join(keystone.dir, 'clouds.yaml');
  writeFileSync(clouds, keystone.cloudsYaml());
  console.log(`taskgate on ${runtime.apiUrl}, identity ${identity.mode}, registered as compute in the catalog; clouds.yaml: ${clouds}`);

  // One after the other: their output stays readable and the machine is small.
  for (const suite of SUITES) {
    const code = await run(suite.file, {
      OS_CLIENT_CONFIG_FILE: clouds,
      OS_CLOUD: `${suite.project}-member`,
      TASKGATE_ADMIN_CLOUD: 'admin', // Keystone's bootstrap admin, in project admin
      TASKGATE_READER_CLOUD: `${suite.project}-reader`,
    });
    if (code !== 0) failed++;
  }
} catch (err) {
  console.error('client suite could not run:', err);
  failed = SUITES.length;
} finally {
  await runtime?.stop();
  await keystone?.stop();
}

function run(suite: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    // No OS_* from the caller's shell: the suite logs in with the cloud given here only.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')));
    const child = spawn(PYTHON, [suite], { cwd: dir, stdio: 'inherit', env: { ...inherited, ...env, PYTHONDONTWRITEBYTECODE: '1' } });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

console.log(failed ? `client suite: ${failed} of ${SUITES.length} failed` : `client suite: all ${SUITES.length} passed`);
process.exit(failed ? 1 : 0);
